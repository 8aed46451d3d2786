//! Deterministic jitter: every replica, before and after a restart, delays
//! the same due run by the same amount, so jitter never breaks exactly-once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The delay added to the due run of `schedule` at `due`: a value in
/// `[0, max]` derived from a hash of both, with microsecond resolution.
pub fn offset(schedule: &str, due: DateTime<Utc>, max: Duration) -> Duration {
    let span = max.as_micros().min(u128::from(u64::MAX)) as u64;
    if span == 0 {
        return Duration::ZERO;
    }
    let mut h = Sha256::new();
    h.update(schedule.as_bytes());
    h.update([0]);
    h.update(due.timestamp_micros().to_be_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let value = u64::from_be_bytes(first) % (span.saturating_add(1)).max(1);
    Duration::from_micros(value)
}

/// When the due run of `schedule` at `due` may fire.
pub fn fire_time(schedule: &str, due: DateTime<Utc>, max: Duration) -> DateTime<Utc> {
    let d = offset(schedule, due, max);
    due + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn jitter_is_bounded_and_stable(secs in 0i64..4_000_000_000, max_ms in 0u64..3_600_000) {
            let due = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
            let max = Duration::from_millis(max_ms);
            let a = offset("nightly", due, max);
            prop_assert!(a <= max);
            prop_assert_eq!(a, offset("nightly", due, max));
        }
    }

    #[test]
    fn jitter_spreads_schedules() {
        let due = DateTime::<Utc>::from_timestamp(1_766_275_200, 0).unwrap();
        let max = Duration::from_secs(600);
        let offsets: std::collections::HashSet<_> = (0..50)
            .map(|i| offset(&format!("c{i}"), due, max))
            .collect();
        assert!(
            offsets.len() > 40,
            "offsets should differ between schedules"
        );
        assert_eq!(offset("c1", due, Duration::ZERO), Duration::ZERO);
    }
}
