//! Waiting for a job to finish: follow `WatchJob`, reconnect when the stream
//! breaks, and fall back to polling `GetJob` when watching is not possible.

use tonic::Code;
use vigil_proto::catalog::v1::{BackupJob, WatchJobRequest, WatchJobResponse};

use crate::client::{Shape, VigilClient};
use crate::error::Result;
use crate::jobs::{is_final, required_job};
use crate::retry::{Idempotency::Idempotent, is_transient};

/// What ended one watch stream without a final state.
enum WatchEnd {
    /// The stream ended or broke; watch again.
    Reconnect,
    /// The service cannot watch; poll instead.
    Poll,
}

impl VigilClient {
    /// Opens a `WatchJob` stream: the job as it is now, then each change
    /// until a final state. Only the stream's start is bounded by the request timeout.
    pub async fn watch_job(&self, id: &str) -> Result<tonic::Streaming<WatchJobResponse>> {
        let req = WatchJobRequest { id: id.to_owned() };
        self.call(
            &self.catalog,
            "WatchJob",
            Idempotent,
            Shape::Stream,
            req,
            |mut c, r| async move { c.watch_job(r).await },
        )
        .await
    }

    /// Waits until the job reaches a final state and returns it, calling
    /// `on_update` with every state seen on the way (including the last).
    ///
    /// The job's own failure is not an error here: check `job.state()`.
    /// Errors are calls that failed for good, such as NOT_FOUND.
    pub async fn wait_for_job(
        &self,
        id: &str,
        mut on_update: impl FnMut(&BackupJob),
    ) -> Result<BackupJob> {
        let mut broken = 0u32;
        loop {
            match self.follow_watch(id, &mut on_update).await? {
                Ok(job) => return Ok(job),
                Err(WatchEnd::Poll) => return self.poll_job(id, on_update).await,
                Err(WatchEnd::Reconnect) => {
                    broken += 1;
                    if broken >= self.policy.retry.max_attempts.max(1) {
                        tracing::debug!(job = id, "watch keeps breaking; polling instead");
                        return self.poll_job(id, on_update).await;
                    }
                    tokio::time::sleep(self.policy.retry.backoff(broken)).await;
                }
            }
        }
    }

    /// Queues a manual backup and waits for it to finish.
    pub async fn run_backup_and_wait(
        &self,
        configuration: &str,
        on_update: impl FnMut(&BackupJob),
    ) -> Result<BackupJob> {
        let job = self.run_backup(configuration).await?;
        self.wait_for_job(&job.id, on_update).await
    }

    /// Follows one watch stream. The outer error is a hard failure; the
    /// inner result says whether the job finished or how the stream ended.
    async fn follow_watch(
        &self,
        id: &str,
        on_update: &mut impl FnMut(&BackupJob),
    ) -> Result<std::result::Result<BackupJob, WatchEnd>> {
        let mut stream = match self.watch_job(id).await {
            Ok(stream) => stream,
            Err(e) if e.code() == Code::Unimplemented => return Ok(Err(WatchEnd::Poll)),
            Err(e) if is_transient(e.code()) => return Ok(Err(WatchEnd::Poll)),
            Err(e) => return Err(e),
        };
        loop {
            match stream.message().await {
                Ok(Some(update)) => {
                    let job = required_job(update.job)?;
                    on_update(&job);
                    if is_final(job.state()) {
                        return Ok(Ok(job));
                    }
                }
                Ok(None) => return Ok(Err(WatchEnd::Reconnect)),
                Err(status) if is_transient(status.code()) || status.code() == Code::Unknown => {
                    return Ok(Err(WatchEnd::Reconnect));
                }
                Err(status) => return Err(status.into()),
            }
        }
    }

    /// Polls `GetJob` every poll interval until the job is final.
    async fn poll_job(&self, id: &str, mut on_update: impl FnMut(&BackupJob)) -> Result<BackupJob> {
        let mut last: Option<BackupJob> = None;
        loop {
            let job = self.get_job(id).await?;
            if last.as_ref() != Some(&job) {
                on_update(&job);
            }
            if is_final(job.state()) {
                return Ok(job);
            }
            last = Some(job);
            tokio::time::sleep(self.policy.poll_interval).await;
        }
    }
}
