//! Expected interval and grace period, for "late", "missed" and
//! "age against expected interval".
//!
//! **Expected interval** is the *largest* gap between consecutive fires over
//! a sample: fires from the reference instant 2024-01-01T00:00:00Z, covering
//! at least 366 days (so every DST transition of the zone is in it) and at
//! least 4 gaps, but no more than 10 000 fires. The largest gap rather than
//! the median, because the interval is used to judge "is the last success
//! too old": a weekday schedule (`0 2 * * 1-5`) has a 72-hour weekend gap,
//! and a median of 24 hours would call every Monday morning late. In a zone
//! with DST a daily schedule's interval is therefore 25 hours. The sample is
//! fixed so that the value is a pure function of the schedule.
//!
//! **Grace period** is how long after a due time a run may start before it
//! counts as late: a tenth of the expected interval, at least 60 seconds and
//! at most one hour. Daily: 1 hour; hourly: 6 minutes; every 10 seconds:
//! 60 seconds.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::schedule::Schedule;

/// Fewest gaps the sample covers.
const MIN_GAPS: usize = 4;
/// Most fires the sample takes.
const MAX_FIRES: usize = 10_000;
/// Shortest span of time the sample covers, in seconds (366 days).
const MIN_SPAN_SECS: i64 = 366 * 86_400;
/// The grace period is never shorter than this.
pub const MIN_GRACE: Duration = Duration::from_secs(60);
/// The grace period is never longer than this.
pub const MAX_GRACE: Duration = Duration::from_secs(3_600);

impl Schedule {
    /// The largest gap between consecutive fires; see the [module docs](self).
    ///
    /// Computed once per schedule value and cached.
    pub fn expected_interval(&self) -> Duration {
        *self.interval.get_or_init(|| sample_max_gap(self))
    }

    /// How long after a due time a run may start before it is late:
    /// `clamp(expected_interval / 10, 60 s, 1 h)`.
    pub fn grace_period(&self) -> Duration {
        default_grace(self.expected_interval())
    }
}

/// The default grace for an expected interval: a tenth of it, clamped to
/// `[MIN_GRACE, MAX_GRACE]`.
pub fn default_grace(expected_interval: Duration) -> Duration {
    (expected_interval / 10).clamp(MIN_GRACE, MAX_GRACE)
}

fn sample_max_gap(schedule: &Schedule) -> Duration {
    let start = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut fires = schedule.fires_between(start, DateTime::<Utc>::MAX_UTC, MAX_FIRES);
    let Some(first) = fires.next() else {
        return Duration::ZERO;
    };
    let (mut prev, mut gaps, mut max_gap) = (first, 0, chrono::Duration::zero());
    for t in fires {
        max_gap = max_gap.max(t - prev);
        prev = t;
        gaps += 1;
        if gaps >= MIN_GAPS && (t - first).num_seconds() >= MIN_SPAN_SECS {
            break;
        }
    }
    max_gap.to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(expr: &str, tz: &str) -> Duration {
        Schedule::cron(expr, tz).unwrap().expected_interval()
    }

    #[test]
    fn interval_is_the_largest_gap() {
        assert_eq!(interval("*/10 * * * * *", "UTC"), Duration::from_secs(10));
        assert_eq!(interval("0 * * * *", "UTC"), Duration::from_secs(3_600));
        assert_eq!(interval("0 2 * * *", "UTC"), Duration::from_secs(86_400));
        assert_eq!(
            interval("0 2 * * 1-5", "UTC"),
            Duration::from_secs(3 * 86_400)
        );
        assert_eq!(
            interval("0 0 1 1 *", "UTC"),
            Duration::from_secs(366 * 86_400)
        );
    }

    #[test]
    fn interval_includes_the_long_dst_day() {
        assert_eq!(
            interval("0 2 * * *", "Europe/Berlin"),
            Duration::from_secs(25 * 3_600)
        );
        assert_eq!(
            interval("0 2 * * *", "Australia/Lord_Howe"),
            Duration::from_secs(24 * 3_600 + 1_800)
        );
        assert_eq!(
            interval("0 2 * * *", "Asia/Kolkata"),
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn grace_is_a_tenth_clamped_to_one_minute_and_one_hour() {
        assert_eq!(
            default_grace(Duration::from_secs(10)),
            Duration::from_secs(60)
        );
        assert_eq!(
            default_grace(Duration::from_secs(3_600)),
            Duration::from_secs(360)
        );
        assert_eq!(
            default_grace(Duration::from_secs(86_400)),
            Duration::from_secs(3_600)
        );
        assert_eq!(
            Schedule::cron("0 2 * * *", "UTC").unwrap().grace_period(),
            Duration::from_secs(3_600)
        );
    }
}
