//! Waiting for a job to finish: follow `WatchJob`, reconnect when the stream
//! breaks, and fall back to polling `GetJob` when watching is not possible;
//! give up after an optional timeout, the job going on.

use std::time::Duration;

use tonic::Code;
use vigil_proto::catalog::v1::{BackupJob, JobState, WatchJobRequest, WatchJobResponse};

use crate::client::{Shape, VigilClient};
use crate::error::{Error, Result};
use crate::jobs::{is_final, required_job};
use crate::retry::{Idempotency::Idempotent, is_transient};

/// Whether `job` was handed back to the queue after an attempt: QUEUED again,
/// with the reason (for example "executor shutting down") in its error. It
/// runs again when an executor leases it.
pub fn handed_back(job: &BackupJob) -> bool {
    job.state() == JobState::Queued && !job.error.is_empty()
}

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
    /// Errors are calls that failed for good, such as NOT_FOUND, and two
    /// kinds that end only the wait, never the job, which goes on in the
    /// catalog (follow it again with `wait_for_job` or `get_job`):
    ///
    /// - [`Error::WaitTimedOut`] when `timeout` passed first (`None` waits
    ///   as long as it takes);
    /// - [`Error::HandedBack`] when the job was handed back to the queue
    ///   (its executor shut down, or the attempt failed with a retryable
    ///   error) and then the server could no longer be reached. While the
    ///   server stays reachable, a handed-back job is followed through its
    ///   next run: [`handed_back`] tells such updates apart.
    pub async fn wait_for_job(
        &self,
        id: &str,
        timeout: Option<Duration>,
        mut on_update: impl FnMut(&BackupJob),
    ) -> Result<BackupJob> {
        let mut last_hand_back: Option<String> = None;
        let result = {
            let tracked = |job: &BackupJob| {
                if handed_back(job) {
                    last_hand_back = Some(job.error.clone());
                }
                on_update(job);
            };
            let follow = self.follow_until_final(id, tracked);
            match timeout {
                None => follow.await,
                Some(limit) => match tokio::time::timeout(limit, follow).await {
                    Ok(result) => result,
                    Err(_) => Err(Error::WaitTimedOut {
                        job: id.to_owned(),
                        waited: limit,
                    }),
                },
            }
        };
        match (result, last_hand_back) {
            (Err(e), Some(reason)) if is_transient(e.code()) => Err(Error::HandedBack {
                job: id.to_owned(),
                reason,
            }),
            (result, _) => result,
        }
    }

    /// Queues a manual backup and waits for it to finish, as
    /// [`VigilClient::wait_for_job`] does (with the same `timeout` and the
    /// same errors; the backup goes on when the wait gives up).
    pub async fn run_backup_and_wait(
        &self,
        configuration: &str,
        timeout: Option<Duration>,
        on_update: impl FnMut(&BackupJob),
    ) -> Result<BackupJob> {
        let job = self.run_backup(configuration).await?;
        self.wait_for_job(&job.id, timeout, on_update).await
    }

    /// Watches, reconnecting when a stream breaks, or polls, until the job is final.
    async fn follow_until_final(
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
