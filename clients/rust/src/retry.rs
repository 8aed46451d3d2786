//! Which calls may be retried, and how long to wait between attempts.
//!
//! Only idempotent calls are retried, and only on UNAVAILABLE or
//! DEADLINE_EXCEEDED: a retried non-idempotent call could run twice.

use std::time::Duration;

use tonic::Code;
use vigil_backoff::Backoff;

/// Whether a call may be sent again after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Sending it twice has the same effect as sending it once.
    Idempotent,
    /// Sending it twice may do the work twice.
    NonIdempotent,
}

/// Classifies an RPC by its method name (for example `GetJob`).
///
/// Reads (`Get*`, `List*`, `Watch*`, `PreviewSchedule`, `GetStatusReport`),
/// `ApplyConfigurations` (declarative and atomic) and `DownloadArchive` are
/// idempotent. `CreateJob` is idempotent only when the request carries a
/// `request_id`, because the catalog then returns the same job for a repeat.
/// Everything else, including `UploadArchive` (its stream is consumed), is not.
pub fn classify(method: &str, has_request_id: bool) -> Idempotency {
    let idempotent = method.starts_with("Get")
        || method.starts_with("List")
        || method.starts_with("Watch")
        || matches!(
            method,
            "PreviewSchedule" | "ApplyConfigurations" | "DownloadArchive"
        )
        || (method == "CreateJob" && has_request_id);
    if idempotent {
        Idempotency::Idempotent
    } else {
        Idempotency::NonIdempotent
    }
}

/// Whether a failure with this code is worth another attempt.
pub fn is_transient(code: Code) -> bool {
    matches!(code, Code::Unavailable | Code::DeadlineExceeded)
}

/// Exponential backoff for idempotent calls.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, including the first. 1 disables retries.
    pub max_attempts: u32,
    /// Wait before the second attempt.
    pub initial_backoff: Duration,
    /// Upper bound of any wait.
    pub max_backoff: Duration,
    /// Growth factor between waits.
    pub multiplier: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            multiplier: 2.0,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn disabled() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Whether attempt number `attempt` (1-based) that failed with `code` may be followed by another.
    pub fn should_retry(&self, idempotency: Idempotency, code: Code, attempt: u32) -> bool {
        idempotency == Idempotency::Idempotent && is_transient(code) && attempt < self.max_attempts
    }

    /// The wait after failed attempt number `attempt` (1-based): exponential,
    /// capped, with "equal jitter" (half fixed, half random) so that many
    /// clients do not retry in lockstep. The same backoff as every other
    /// retry loop of Vigil's.
    pub fn backoff(&self, attempt: u32) -> Duration {
        Backoff::new(self.initial_backoff, self.max_backoff)
            .with_multiplier(self.multiplier)
            .delay(attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_apply_and_keyed_create_job_are_idempotent() {
        for m in [
            "GetConfiguration",
            "ListConfigurations",
            "GetJob",
            "ListJobs",
            "WatchJob",
            "ListArtifacts",
            "ListAlerts",
            "ListSchedules",
            "GetSchedule",
            "PreviewSchedule",
            "GetStatusReport",
            "ApplyConfigurations",
            "GetExecutorInfo",
            "DownloadArchive",
        ] {
            assert_eq!(classify(m, false), Idempotency::Idempotent, "{m}");
        }
        assert_eq!(classify("CreateJob", true), Idempotency::Idempotent);
    }

    #[test]
    fn writes_are_not_idempotent() {
        for m in [
            "CreateConfiguration",
            "UpdateConfiguration",
            "DeleteConfiguration",
            "EnableConfiguration",
            "DisableConfiguration",
            "CreateJob",
            "CancelJob",
            "PauseSchedule",
            "ResumeSchedule",
            "TriggerSchedule",
            "BackfillSchedule",
            "UploadArchive",
        ] {
            assert_eq!(classify(m, false), Idempotency::NonIdempotent, "{m}");
        }
    }

    #[test]
    fn only_transient_codes_of_idempotent_calls_are_retried() {
        let p = RetryPolicy::default();
        assert!(p.should_retry(Idempotency::Idempotent, Code::Unavailable, 1));
        assert!(p.should_retry(Idempotency::Idempotent, Code::DeadlineExceeded, 3));
        assert!(!p.should_retry(Idempotency::Idempotent, Code::Unavailable, 4));
        assert!(!p.should_retry(Idempotency::Idempotent, Code::InvalidArgument, 1));
        assert!(!p.should_retry(Idempotency::Idempotent, Code::Internal, 1));
        assert!(!p.should_retry(Idempotency::NonIdempotent, Code::Unavailable, 1));
        assert!(!RetryPolicy::disabled().should_retry(
            Idempotency::Idempotent,
            Code::Unavailable,
            1
        ));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
            multiplier: 2.0,
        };
        for _ in 0..50 {
            let first = p.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = p.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = p.backoff(20);
            assert!(late >= Duration::from_millis(400) && late <= Duration::from_millis(800));
        }
    }
}
