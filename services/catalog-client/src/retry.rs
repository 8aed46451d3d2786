//! Retries of calls that are safe to repeat.

use std::num::NonZeroU32;
use std::time::Duration;

use tonic::Status;
use vigil_backoff::Backoff;

use crate::error::ErrorKind;

/// How often and how far apart a repeatable call is tried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub attempts: NonZeroU32,
    /// The jittered wait after each failed attempt.
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    /// Four attempts, waiting about 100 ms, 200 ms, then 400 ms.
    fn default() -> Self {
        RetryPolicy {
            attempts: const { NonZeroU32::new(4).unwrap() },
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(2)),
        }
    }
}

impl RetryPolicy {
    /// One attempt only.
    pub const ONCE: RetryPolicy = RetryPolicy {
        attempts: NonZeroU32::MIN,
        backoff: Backoff::new(Duration::ZERO, Duration::ZERO),
    };

    /// The wait before the next attempt after failed attempt number
    /// `attempt` (1-based) ended with `status`; `None` when there is no
    /// next attempt: the attempts are used up or the failure is not
    /// transient.
    pub(crate) fn wait_after(&self, attempt: u32, status: &Status) -> Option<Duration> {
        let transient = ErrorKind::of(status.code()) == ErrorKind::Transient;
        (transient && attempt < self.attempts.get()).then(|| self.backoff.delay(attempt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retried_and_only_so_often() {
        let policy = RetryPolicy::default();
        let unavailable = Status::unavailable("down");
        assert!(policy.wait_after(1, &unavailable).is_some());
        assert!(
            policy
                .wait_after(3, &Status::resource_exhausted("busy"))
                .is_some()
        );
        assert!(
            policy
                .wait_after(3, &Status::deadline_exceeded("slow"))
                .is_some()
        );
        assert_eq!(policy.wait_after(4, &unavailable), None);
        assert_eq!(policy.wait_after(1, &Status::aborted("lost")), None);
        assert_eq!(policy.wait_after(1, &Status::internal("bug")), None);
        assert_eq!(RetryPolicy::ONCE.wait_after(1, &unavailable), None);
    }
}
