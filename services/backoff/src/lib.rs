//! The one exponential backoff with jitter that every Vigil retry loop uses:
//! the Rust SDK's retries of idempotent calls, webhook deliveries, and the
//! scheduler's and executor's reconnects to the catalog.
//!
//! Waits grow by a factor from an initial wait up to a cap, and carry "equal
//! jitter": half of each wait is fixed and half is random, so a wait is never
//! shorter than half its nominal value, and many clients that failed together
//! do not retry in lockstep.
#![forbid(unsafe_code)]

use std::time::Duration;

use rand::RngExt;

/// How long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
}

impl Backoff {
    /// Waits that start at `initial` and double up to `max`.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            multiplier: 2.0,
        }
    }

    /// The same, growing by `multiplier` (at least 1) instead of doubling.
    pub fn with_multiplier(self, multiplier: f64) -> Self {
        Backoff {
            multiplier: multiplier.max(1.0),
            ..self
        }
    }

    /// The nominal wait after failed attempt number `attempt` (1-based):
    /// `initial × multiplier^(attempt-1)`, capped at `max`.
    pub fn nominal(&self, attempt: u32) -> Duration {
        let exp = self
            .multiplier
            .powi(attempt.saturating_sub(1).min(30) as i32);
        self.initial.mul_f64(exp).min(self.max)
    }

    /// The wait after failed attempt number `attempt` (1-based): between
    /// half the nominal wait and the nominal wait, at random.
    pub fn delay(&self, attempt: u32) -> Duration {
        let half = self.nominal(attempt) / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }

    /// A counter of consecutive failures for a loop that retries until it
    /// succeeds, such as a reconnect.
    pub fn failures(self) -> Failures {
        Failures {
            backoff: self,
            failed: 0,
        }
    }
}

/// Consecutive failures of a retry loop, and the wait each one earns.
#[derive(Debug, Clone)]
pub struct Failures {
    backoff: Backoff,
    failed: u32,
}

impl Failures {
    /// Counts one more failure and returns the wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.failed = self.failed.saturating_add(1);
        self.backoff.delay(self.failed)
    }

    /// Forgets the failures after a success: the next wait is the shortest.
    pub fn reset(&mut self) {
        self.failed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn waits_grow_by_the_factor_and_stop_at_the_cap() {
        let b = Backoff::new(MS(100), MS(800));
        assert_eq!(b.nominal(1), MS(100));
        assert_eq!(b.nominal(2), MS(200));
        assert_eq!(b.nominal(4), MS(800));
        assert_eq!(b.nominal(40), MS(800));
        assert_eq!(b.nominal(u32::MAX), MS(800));
        let b = b.with_multiplier(3.0);
        assert_eq!(b.nominal(2), MS(300));
        // A factor below 1 would shrink the waits; it is taken as 1.
        assert_eq!(b.with_multiplier(0.5).nominal(5), MS(100));
    }

    #[test]
    fn each_wait_is_between_half_and_all_of_its_nominal_value_and_varies() {
        let b = Backoff::new(MS(100), MS(800));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            for attempt in [1, 3, 20] {
                let nominal = b.nominal(attempt);
                let d = b.delay(attempt);
                assert!(d >= nominal / 2 && d <= nominal, "{d:?} for {nominal:?}");
                seen.insert(d);
            }
        }
        assert!(seen.len() > 100, "jitter spreads the waits: {}", seen.len());
    }

    #[test]
    fn failures_grow_until_a_success_resets_them() {
        let mut f = Backoff::new(MS(200), MS(30_000)).failures();
        let first = f.next_delay();
        assert!(first >= MS(100) && first <= MS(200), "{first:?}");
        for _ in 0..3 {
            f.next_delay();
        }
        let fifth = f.next_delay();
        assert!(fifth >= MS(1600) && fifth <= MS(3200), "{fifth:?}");
        f.reset();
        let again = f.next_delay();
        assert!(again >= MS(100) && again <= MS(200), "{again:?}");
    }
}
