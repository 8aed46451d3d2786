//! The job loop: lease jobs the executor can run, up to `concurrency` at a
//! time, run each under its heartbeat, and report how it ended.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use vigil_backoff::Backoff;
use vigil_catalog_client::{CallSettings, CatalogClient, RetryPolicy};
use vigil_proto::catalog::v1::{
    BackupConfiguration, BackupJob, CompleteJobRequest, FailJobRequest, JobKind, LeaseJobRequest,
    job_params,
};

use crate::error::Error;
use crate::jobs::{self, JobCtx, Outcome};
use crate::lease::{Stop, StopReason, heartbeat};
use crate::progress::Progress;
use crate::state::Shared;

/// Longest error text sent to the catalog.
const MAX_ERROR: usize = 3500;

/// Leases and runs jobs until shutdown, then waits for the running ones.
pub async fn lease_loop(shared: Arc<Shared>) {
    let settings = &shared.opts.settings;
    let slots = Arc::new(Semaphore::new(settings.concurrency));
    // The catalog holds a lease call up to `lease_wait` when no job is queued.
    let limit = settings.lease_wait + shared.catalog.settings().deadline;
    let mut failures = Backoff::new(Duration::from_millis(500), Duration::from_secs(15)).failures();
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shared.shutdown.cancelled() => break,
        };
        let req = LeaseJobRequest {
            executor_id: shared.opts.executor_id.clone(),
            capabilities: shared.capabilities.clone(),
            lease_duration: Some(vigil_proto::duration_to_proto(settings.lease_duration)),
            wait: Some(vigil_proto::duration_to_proto(settings.lease_wait)),
        };
        let answer = tokio::select! {
            a = shared.catalog.call_within(req, limit) => a,
            _ = shared.shutdown.cancelled() => break,
        };
        match answer {
            Ok(resp) => {
                failures.reset();
                if let Some(job) = resp.job {
                    let lease = Lease {
                        job,
                        token: resp.lease_token,
                    };
                    tokio::spawn(run_job(
                        shared.clone(),
                        lease,
                        resp.configuration,
                        Some(permit),
                    ));
                }
            }
            Err(e) => {
                tracing::warn!(code = ?e.code(), error = %e.message(), "leasing a job failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(failures.next_delay()) => {}
                    _ = shared.shutdown.cancelled() => break,
                }
            }
        }
    }
    // Running jobs hold permits; they stop on the shutdown token and report.
    let _ = slots.acquire_many(settings.concurrency as u32).await;
}

/// A leased job and the token that proves the lease.
#[derive(Debug)]
pub struct Lease {
    /// The job.
    pub job: BackupJob,
    /// The lease token from LeaseJob.
    pub token: String,
}

/// Runs one leased job to its reported end.
pub async fn run_job(
    shared: Arc<Shared>,
    lease: Lease,
    config: Option<BackupConfiguration>,
    permit: Option<OwnedSemaphorePermit>,
) {
    let Lease { job, token } = lease;
    let stop = shared.shutdown.child_token();
    let done = CancellationToken::new();
    // Should this task die, the heartbeat stops with it and the lease runs out.
    let _stop_heartbeat_on_exit = done.clone().drop_guard();
    let why = Stop::default();
    let cancel = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(Progress::default());
    if let Ok(mut r) = shared.running.lock() {
        r.insert(job.id.clone(), stop.clone());
    }
    let span = job_span(&job);
    // Heartbeats run in the job's span, so their calls join the job's trace.
    let beat = tokio::spawn(
        heartbeat(
            shared.clone(),
            job.id.clone(),
            token.clone(),
            progress.clone(),
            stop.clone(),
            why.clone(),
            done.clone(),
        )
        .instrument(span.clone()),
    );
    let bridge = cancel_on_stop(stop.clone(), cancel.clone(), done.clone());
    let started = std::time::Instant::now();
    let ctx = Arc::new(JobCtx {
        shared: shared.clone(),
        job: job.clone(),
        lease_token: token,
        config,
        progress,
        cancel,
        warnings: Default::default(),
        fail_stats: Default::default(),
    });
    let result = async {
        tracing::info!(attempt = job.attempt, "job started");
        jobs::run(ctx.clone()).await
    }
    .instrument(span.clone())
    .await;
    done.cancel();
    let _ = beat.await;
    let _ = bridge.await;
    let reason = why.get().or_else(|| {
        shared
            .shutdown
            .is_cancelled()
            .then_some(StopReason::Shutdown)
    });
    // The rest of the log goes before the outcome, while the lease is held.
    ctx.progress.log().end();
    if reason != Some(StopReason::LeaseLost) {
        ctx.progress
            .log()
            .flush(&shared, &job.id, &ctx.lease_token)
            .await;
    }
    record_outcome(&span, &job, &result, started.elapsed().as_secs_f64());
    // Reporting the outcome (CompleteJob or FailJob) is the job's last
    // phase; the catalog's span of the call is its child.
    let record = tracing::info_span!(parent: &span, "record");
    report(&shared, &ctx, result, reason)
        .instrument(record)
        .await;
    drop(span);
    if let Ok(mut r) = shared.running.lock() {
        r.remove(&job.id);
    }
    drop(permit);
}

/// The job's span, continuing the trace of whoever created the job; its
/// status is filled in when the job ends.
fn job_span(job: &BackupJob) -> tracing::Span {
    let span = tracing::info_span!(
        "job",
        id = %job.id,
        name = %job.name,
        kind = ?job.kind(),
        configuration = %job.configuration,
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
    );
    vigil_server_common::telemetry::propagation::continue_from_map(&span, &job.trace_context);
    span
}

/// Turns a stop (cancel request, lost lease, shutdown) into the flag the
/// job's blocking work polls, until the job is done.
fn cancel_on_stop(
    stop: CancellationToken,
    cancel: Arc<AtomicBool>,
    done: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::select! {
            _ = stop.cancelled() => cancel.store(true, Ordering::Relaxed),
            _ = done.cancelled() => {}
        }
    })
}

/// The job's span status (ERROR with the reason on failure) and its metrics.
fn record_outcome(
    span: &tracing::Span,
    job: &BackupJob,
    result: &crate::Result<Outcome>,
    seconds: f64,
) {
    let kind = job.kind().as_str_name().trim_start_matches("JOB_KIND_");
    match result {
        Ok(outcome) => {
            span.record("otel.status_code", "OK");
            let s = &outcome.stats;
            vigil_server_common::metrics::record_bytes(
                s.bytes_read,
                s.bytes_new,
                s.stored_bytes_added,
            );
            vigil_server_common::metrics::record_job(kind, "completed", seconds);
        }
        Err(e) => {
            let cancelled = matches!(e, Error::Cancelled);
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_description", truncate(&e.to_string()).as_str());
            let outcome = if cancelled { "cancelled" } else { "failed" };
            vigil_server_common::metrics::record_job(kind, outcome, seconds);
        }
    }
}

fn upload_key(job: &BackupJob) -> Option<&str> {
    match job.params.as_ref().and_then(|p| p.params.as_ref()) {
        Some(job_params::Params::Upload(u)) if job.kind() == JobKind::Upload => {
            Some(&u.staging_path)
        }
        _ => None,
    }
}

async fn report(
    shared: &Arc<Shared>,
    ctx: &JobCtx,
    result: crate::Result<Outcome>,
    reason: Option<StopReason>,
) {
    let job = &ctx.job;
    let warnings = ctx.warnings.lock().map(|w| w.clone()).unwrap_or_default();
    let key = upload_key(job).map(str::to_owned);
    if reason == Some(StopReason::LeaseLost) {
        tracing::warn!(
            "lease lost: the job's outcome is not reported; the catalog retries or fails it"
        );
        if let Some(k) = key {
            shared.notify(&k, Err(Error::LeaseLost.into()));
        }
        return;
    }
    match result {
        Ok(outcome) => report_completion(shared, ctx, outcome, warnings, key).await,
        Err(e) => report_failure(shared, ctx, e, reason, warnings, key).await,
    }
}

/// Records a completed job (and its artifact) with CompleteJob, and tells a
/// waiting upload.
async fn report_completion(
    shared: &Arc<Shared>,
    ctx: &JobCtx,
    outcome: Outcome,
    warnings: Vec<String>,
    key: Option<String>,
) {
    let (job, catalog) = (&ctx.job, outcome_client(shared));
    let executor_id = shared.opts.executor_id.clone();
    let req = CompleteJobRequest {
        job_id: job.id.clone(),
        executor_id,
        stats: Some(outcome.stats),
        artifact: outcome.artifact,
        warnings,
        lease_token: ctx.lease_token.clone(),
    };
    match catalog.call(req).await {
        Ok(resp) => {
            tracing::info!(
                artifact = resp.artifact.as_ref().map(|a| a.id.as_str()).unwrap_or(""),
                "job completed"
            );
            if let (Some(k), Some(j)) = (key, resp.job) {
                shared.notify(&k, Ok((j, resp.artifact)));
            }
        }
        Err(e) => {
            tracing::error!(code = ?e.code(), error = %e.message(), "could not record the job's completion");
            if let Some(k) = key {
                shared.notify(&k, Err(e.into_status()));
            }
        }
    }
}

/// Records a failed, cancelled or handed-back job with FailJob, and tells a
/// waiting upload.
async fn report_failure(
    shared: &Arc<Shared>,
    ctx: &JobCtx,
    e: Error,
    reason: Option<StopReason>,
    warnings: Vec<String>,
    key: Option<String>,
) {
    let (job, catalog) = (&ctx.job, outcome_client(shared));
    let executor_id = shared.opts.executor_id.clone();
    let interrupted = matches!((&e, reason), (Error::Cancelled, Some(StopReason::Shutdown)));
    let (error, retryable, cancelled) = match (&e, reason) {
        // Handed back: the catalog queues it again at once.
        _ if interrupted => ("executor shutting down".to_owned(), true, false),
        (Error::Cancelled, _) => ("cancelled on request".to_owned(), false, true),
        _ => (truncate(&e.to_string()), e.retryable(), false),
    };
    tracing::warn!(%error, retryable, cancelled, "job failed");
    let stats = ctx.fail_stats.lock().ok().and_then(|mut s| s.take());
    let req = FailJobRequest {
        job_id: job.id.clone(),
        executor_id,
        error,
        retryable,
        cancelled,
        stats,
        warnings,
        lease_token: ctx.lease_token.clone(),
        interrupted,
    };
    if let Err(e) = catalog.call(req).await {
        tracing::error!(code = ?e.code(), error = %e.message(), "could not record the job's failure");
    }
    if let Some(k) = key {
        shared.notify(&k, Err(e.into()));
    }
}

/// The catalog client for an outcome report (CompleteJob, FailJob), which
/// the catalog recognises when it comes again: more patient than other
/// calls, since a report that is lost makes another executor run the job
/// again once the lease runs out.
fn outcome_client(shared: &Shared) -> CatalogClient {
    let retry = RetryPolicy {
        attempts: const { std::num::NonZeroU32::new(7).unwrap() },
        backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(10)),
    };
    let settings = CallSettings {
        retry,
        ..shared.catalog.settings()
    };
    shared.catalog.clone().with_settings(settings)
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_ERROR {
        return s.to_owned();
    }
    let mut end = MAX_ERROR;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
