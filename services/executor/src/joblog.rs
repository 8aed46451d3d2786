//! A running job's event log as the executor keeps it until it is sent:
//! phases with their durations, warnings and files that could not be read.
//!
//! Entries are buffered and sent with `AppendJobEvents` in batches: at each
//! heartbeat, when a phase starts or ends, and once more before the outcome
//! is reported. The buffer is bounded like the catalog's log, so a backup
//! with ten thousand unreadable files sends at most a few calls; entries
//! that do not fit are counted and the catalog adds them to the job's
//! omitted count.

use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use tokio::sync::Notify;
use vigil_catalog_client::ErrorKind;
use vigil_proto::catalog::v1::{AppendJobEventsRequest, JobEvent, JobEventKind};

use crate::state::Shared;

/// Most entries buffered between two sends.
const MAX_PENDING: usize = 1000;
/// Most warnings and skipped files buffered between two sends, leaving room for phases.
const MAX_PENDING_WARNINGS: usize = 900;
/// Most entries per `AppendJobEvents` call (the catalog's limit).
const BATCH: usize = 500;
/// Longest message sent, in characters; the catalog cuts again.
const MAX_MESSAGE: usize = 1000;

/// The entries of one job not yet sent to the catalog.
#[derive(Debug, Default)]
pub struct JobLog {
    pending: Mutex<Pending>,
    /// Woken when a phase starts or ends, so the log follows without waiting for a heartbeat.
    phase_changed: Notify,
}

#[derive(Debug, Default)]
struct Pending {
    events: Vec<JobEvent>,
    warnings: usize,
    omitted: u64,
    open: Option<(String, Instant)>,
}

fn event(kind: JobEventKind, phase: &str, path: &str, message: &str) -> JobEvent {
    JobEvent {
        event_time: Some(vigil_proto::timestamp_from_system(SystemTime::now())),
        kind: kind as i32,
        phase: phase.to_owned(),
        path: path.to_owned(),
        message: cut(message),
        ..Default::default()
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MAX_MESSAGE).collect();
    out.push('…');
    out
}

impl Pending {
    fn push(&mut self, e: JobEvent) {
        let warning =
            e.kind == JobEventKind::Warning as i32 || e.kind == JobEventKind::FileSkipped as i32;
        if self.events.len() >= MAX_PENDING || (warning && self.warnings >= MAX_PENDING_WARNINGS) {
            self.omitted += 1;
            return;
        }
        self.warnings += usize::from(warning);
        self.events.push(e);
    }

    fn phase(&self) -> &str {
        self.open.as_ref().map(|(p, _)| p.as_str()).unwrap_or("")
    }

    fn close(&mut self) {
        if let Some((phase, started)) = self.open.take() {
            let mut e = event(JobEventKind::PhaseFinished, &phase, "", "");
            e.duration = Some(vigil_proto::duration_to_proto(started.elapsed()));
            self.push(e);
        }
    }
}

impl JobLog {
    fn with<T>(&self, f: impl FnOnce(&mut Pending) -> T) -> Option<T> {
        self.pending.lock().ok().map(|mut p| f(&mut p))
    }

    /// Ends the open phase, recording its duration, and starts `phase`.
    pub fn phase(&self, phase: &str) {
        self.with(|p| {
            p.close();
            p.push(event(JobEventKind::PhaseStarted, phase, "", ""));
            p.open = Some((phase.to_owned(), Instant::now()));
        });
        self.phase_changed.notify_one();
    }

    /// Ends the open phase, if any: the job's work is over.
    pub fn end(&self) {
        self.with(Pending::close);
        self.phase_changed.notify_one();
    }

    /// Records a non-fatal problem.
    pub fn warning(&self, message: &str) {
        self.with(|p| {
            let e = event(JobEventKind::Warning, p.phase(), "", message);
            p.push(e);
        });
    }

    /// Records a file that could not be read and why.
    pub fn file_skipped(&self, path: &str, reason: &str) {
        self.with(|p| {
            let e = event(JobEventKind::FileSkipped, p.phase(), path, reason);
            p.push(e);
        });
    }

    /// Returns once a phase started or ended since the last call.
    pub async fn phase_changed(&self) {
        self.phase_changed.notified().await;
    }

    fn take(&self) -> (Vec<JobEvent>, u64) {
        self.with(|p| {
            p.warnings = 0;
            (
                std::mem::take(&mut p.events),
                std::mem::take(&mut p.omitted),
            )
        })
        .unwrap_or_default()
    }

    /// Puts back entries a failed send could not deliver, ahead of newer ones.
    fn put_back(&self, mut events: Vec<JobEvent>, omitted: u64) {
        self.with(|p| {
            let newer = std::mem::take(&mut p.events);
            p.warnings = 0;
            p.omitted += omitted;
            events.extend(newer);
            for e in events {
                p.push(e);
            }
        });
    }

    /// Sends the buffered entries in batches. Entries a call could not
    /// deliver for want of the catalog stay buffered for the next try; a
    /// refusal (lost lease, bad entry) drops them.
    pub async fn flush(&self, shared: &Shared, job_id: &str, lease_token: &str) {
        let (events, mut omitted) = self.take();
        if events.is_empty() && omitted == 0 {
            return;
        }
        let mut rest = events;
        loop {
            let tail = rest.split_off(rest.len().min(BATCH));
            let req = AppendJobEventsRequest {
                job_id: job_id.to_owned(),
                executor_id: shared.opts.executor_id.clone(),
                lease_token: lease_token.to_owned(),
                events: std::mem::replace(&mut rest, tail),
                omitted_count: std::mem::take(&mut omitted),
            };
            match shared.catalog.call(req.clone()).await {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Transient => {
                    tracing::debug!(job = %job_id, error = %e.message(), "job log not sent; keeping it for the next try");
                    let mut unsent = req.events;
                    unsent.extend(rest);
                    self.put_back(unsent, req.omitted_count);
                    return;
                }
                Err(e) => {
                    tracing::warn!(job = %job_id, code = ?e.code(), error = %e.message(), "job log refused");
                    return;
                }
            }
            if rest.is_empty() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_timed_and_warnings_are_bounded() {
        let log = JobLog::default();
        log.phase("backing up");
        for i in 0..5_000 {
            log.file_skipped(&format!("/srv/f{i}"), "permission denied");
        }
        log.warning("one more");
        log.phase("reading back");
        log.end();
        let (events, omitted) = log.take();
        let kinds: Vec<i32> = events.iter().map(|e| e.kind).collect();
        assert_eq!(events.len(), 1 + MAX_PENDING_WARNINGS + 3);
        assert_eq!(omitted, 5_001 - MAX_PENDING_WARNINGS as u64);
        assert_eq!(kinds[0], JobEventKind::PhaseStarted as i32);
        assert_eq!(events[1].path, "/srv/f0");
        assert_eq!(events[1].phase, "backing up");
        let finished = &events[events.len() - 3];
        assert_eq!(finished.kind, JobEventKind::PhaseFinished as i32);
        assert_eq!(finished.phase, "backing up");
        assert!(finished.duration.is_some());
        assert_eq!(
            events.last().map(|e| (e.kind, e.phase.as_str())),
            Some((JobEventKind::PhaseFinished as i32, "reading back"))
        );
        assert!(log.take().0.is_empty());
    }

    #[test]
    fn long_messages_are_cut() {
        let log = JobLog::default();
        log.warning(&"x".repeat(5_000));
        let (events, _) = log.take();
        assert_eq!(events[0].message.chars().count(), MAX_MESSAGE + 1);
    }
}
