//! Keeping a job's lease: a heartbeat every `heartbeat_interval` extends it
//! and reports progress, and sends the job's log (`joblog`). The heartbeat's answer stops the work when a cancel
//! was requested, and a lost lease (ABORTED, or no successful heartbeat for
//! a whole lease length) stops it at once: another executor may own the job
//! by then, so this one must not keep writing or report an outcome.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tonic::Code;
use vigil_proto::catalog::v1::HeartbeatJobRequest;

use crate::progress::Progress;
use crate::state::Shared;

/// Why a job was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A cancel was requested through the catalog.
    CancelRequested,
    /// The lease is gone.
    LeaseLost,
    /// The executor is shutting down.
    Shutdown,
}

/// The stop reason, set once.
#[derive(Debug, Default, Clone)]
pub struct Stop(Arc<Mutex<Option<StopReason>>>);

impl Stop {
    /// Records `reason` unless one is already recorded.
    pub fn set(&self, reason: StopReason) {
        if let Ok(mut r) = self.0.lock() {
            r.get_or_insert(reason);
        }
    }

    /// The recorded reason.
    pub fn get(&self) -> Option<StopReason> {
        self.0.lock().ok().and_then(|r| *r)
    }
}

/// Sends heartbeats for `job_id` until `done` is cancelled; cancels `stop`
/// (with a reason in `why`) when the job must stop.
pub async fn heartbeat(
    shared: Arc<Shared>,
    job_id: String,
    lease_token: String,
    progress: Arc<Progress>,
    stop: CancellationToken,
    why: Stop,
    done: CancellationToken,
) {
    let settings = &shared.opts.settings;
    let mut ticks = tokio::time::interval_at(
        Instant::now() + settings.heartbeat_interval,
        settings.heartbeat_interval,
    );
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_ok = Instant::now();
    let deadline = settings.heartbeat_interval.max(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = ticks.tick() => {}
            // A phase started or ended: send the log now, the heartbeat stays on its beat.
            _ = progress.log().phase_changed() => {
                progress.log().flush(&shared, &job_id, &lease_token).await;
                continue;
            }
        }
        let req = HeartbeatJobRequest {
            job_id: job_id.clone(),
            executor_id: shared.opts.executor_id.clone(),
            progress: Some(progress.report()),
            lease_duration: Some(vigil_proto::duration_to_proto(settings.lease_duration)),
            lease_token: lease_token.clone(),
        };
        match shared.catalog.call_within(req, deadline).await {
            Ok(resp) => {
                last_ok = Instant::now();
                progress.log().flush(&shared, &job_id, &lease_token).await;
                if resp.job.is_some_and(|j| j.cancel_requested) && !stop.is_cancelled() {
                    tracing::info!(job = %job_id, "cancel requested; stopping the job");
                    why.set(StopReason::CancelRequested);
                    stop.cancel();
                }
            }
            Err(e)
                if matches!(
                    e.code(),
                    Code::Aborted | Code::NotFound | Code::FailedPrecondition
                ) =>
            {
                tracing::warn!(job = %job_id, reason = %e.message(), "lease lost; stopping the job");
                why.set(StopReason::LeaseLost);
                stop.cancel();
                return;
            }
            Err(e) => {
                tracing::warn!(job = %job_id, code = ?e.code(), reason = %e.message(), "heartbeat failed");
                if last_ok.elapsed() >= settings.lease_duration {
                    tracing::warn!(job = %job_id, "no heartbeat got through for a whole lease; stopping the job");
                    why.set(StopReason::LeaseLost);
                    stop.cancel();
                    return;
                }
            }
        }
    }
}
