//! Progress of a running job: counters the work updates from any thread,
//! turned into a `JobProgress` (with rate and ETA) at each heartbeat, and
//! the job's event log, whose phases follow the progress's phases.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vigil_proto::catalog::v1::JobProgress;

use crate::joblog::JobLog;

/// Shared progress counters of one job.
#[derive(Debug)]
pub struct Progress {
    phase: Mutex<String>,
    bytes_done: AtomicU64,
    bytes_total: AtomicU64,
    files_done: AtomicU64,
    files_total: AtomicU64,
    rate: Mutex<Rate>,
    log: JobLog,
}

#[derive(Debug)]
struct Rate {
    at: Instant,
    bytes: u64,
    per_second: f64,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            phase: Mutex::new("starting".into()),
            bytes_done: AtomicU64::new(0),
            bytes_total: AtomicU64::new(0),
            files_done: AtomicU64::new(0),
            files_total: AtomicU64::new(0),
            rate: Mutex::new(Rate {
                at: Instant::now(),
                bytes: 0,
                per_second: 0.0,
            }),
            log: JobLog::default(),
        }
    }
}

impl Progress {
    /// Enters a new phase, for example "dumping database"; counters restart.
    /// The job's log records the end of the previous phase and the start of this one.
    pub fn phase(&self, phase: &str) {
        self.log.phase(phase);
        if let Ok(mut p) = self.phase.lock() {
            phase.clone_into(&mut p);
        }
        self.bytes_done.store(0, Ordering::Relaxed);
        self.files_done.store(0, Ordering::Relaxed);
        self.bytes_total.store(0, Ordering::Relaxed);
        self.files_total.store(0, Ordering::Relaxed);
        if let Ok(mut r) = self.rate.lock() {
            *r = Rate {
                at: Instant::now(),
                bytes: 0,
                per_second: 0.0,
            };
        }
    }

    /// The job's event log.
    pub fn log(&self) -> &JobLog {
        &self.log
    }

    /// Sets the absolute counters.
    pub fn set(&self, bytes_done: u64, files_done: u64) {
        self.bytes_done.store(bytes_done, Ordering::Relaxed);
        self.files_done.store(files_done, Ordering::Relaxed);
    }

    /// Adds to the byte counter.
    pub fn add_bytes(&self, n: u64) {
        self.bytes_done.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets what is expected in total, when known.
    pub fn totals(&self, bytes: u64, files: u64) {
        self.bytes_total.store(bytes, Ordering::Relaxed);
        self.files_total.store(files, Ordering::Relaxed);
    }

    /// Bytes done in the current phase.
    pub fn bytes_done(&self) -> u64 {
        self.bytes_done.load(Ordering::Relaxed)
    }

    /// The progress as reported to the catalog. The rate is smoothed over
    /// successive reports; the ETA is given when a total is known.
    pub fn report(&self) -> JobProgress {
        let bytes_done = self.bytes_done.load(Ordering::Relaxed);
        let bytes_total = self.bytes_total.load(Ordering::Relaxed);
        let per_second = match self.rate.lock() {
            Ok(mut r) => {
                let elapsed = r.at.elapsed().as_secs_f64();
                if elapsed >= 0.5 {
                    let now = bytes_done.saturating_sub(r.bytes) as f64 / elapsed;
                    r.per_second = if r.per_second == 0.0 {
                        now
                    } else {
                        0.5 * r.per_second + 0.5 * now
                    };
                    r.at = Instant::now();
                    r.bytes = bytes_done;
                }
                r.per_second
            }
            Err(_) => 0.0,
        };
        let eta = (bytes_total > bytes_done && per_second > 0.0).then(|| {
            vigil_proto::duration_to_proto(Duration::from_secs_f64(
                ((bytes_total - bytes_done) as f64 / per_second).min(1e9),
            ))
        });
        JobProgress {
            phase: self.phase.lock().map(|p| p.clone()).unwrap_or_default(),
            bytes_done,
            bytes_total,
            files_done: self.files_done.load(Ordering::Relaxed),
            files_total: self.files_total.load(Ordering::Relaxed),
            bytes_per_second: per_second,
            eta,
            update_time: Some(vigil_proto::timestamp_from_system(
                std::time::SystemTime::now(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_eta_follow_the_counters() {
        let p = Progress::default();
        p.phase("reading files");
        p.totals(3_000, 3);
        {
            let mut r = p.rate.lock().unwrap();
            r.at -= Duration::from_secs(1);
        }
        p.set(1_000, 1);
        let r = p.report();
        assert_eq!(r.phase, "reading files");
        assert!(
            (900.0..=1_100.0).contains(&r.bytes_per_second),
            "{}",
            r.bytes_per_second
        );
        let eta = vigil_proto::duration_from_proto(r.eta.as_ref().unwrap()).unwrap();
        assert!((1.5..=2.5).contains(&eta.as_secs_f64()), "{eta:?}");
        p.phase("done");
        assert_eq!(p.report().bytes_done, 0);
        assert!(p.report().eta.is_none());
    }
}
