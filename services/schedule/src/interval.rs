//! Expected interval and grace period, for "late", "missed" and "age
//! against expected interval".
//!
//! Both come from a fixed sample of fires: from the reference instant
//! 2024-01-01T00:00:00Z, covering at least 366 days (so every DST transition
//! of the zone is in it) and at least 4 gaps, but no more than 10 000 fires.
//! The sample is fixed so that the values are pure functions of the schedule.
//!
//! **Expected interval** is the *most common* gap of the sample (the longer
//! one on a tie): what a person means by "every 15 minutes" for
//! `*/15 9-17 * * 1-5`, and 24 hours for a daily schedule in a zone with DST.
//! Staleness is not judged by it but by the schedule's own due times
//! ([`Schedule::previous_fire`]): a business-hours schedule is not stale on
//! Saturday, and is stale one gap plus grace after it stops on a Tuesday.
//!
//! **Longest gap** is the largest gap of the sample (the weekend of a
//! weekday schedule, the 25-hour DST day of a daily one). The catch-up window
//! `interval` uses it, so a run missed before a weekend is still caught up.
//!
//! **Grace period** is how long after a due time a run may start before it
//! counts as late: a tenth of the expected interval, at least 60 seconds and
//! at most one hour. Daily: 1 hour; hourly: 6 minutes; every 15 minutes:
//! 90 seconds; every 10 seconds: 60 seconds.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
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

/// The gaps of a schedule's sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gaps {
    /// The most common gap.
    typical: Duration,
    /// The largest gap.
    longest: Duration,
}

impl Schedule {
    /// The most common gap between consecutive fires; see the
    /// [module docs](self). Computed once per schedule value and cached.
    pub fn expected_interval(&self) -> Duration {
        self.gaps().typical
    }

    /// The largest gap between consecutive fires; see the [module docs](self).
    pub fn longest_gap(&self) -> Duration {
        self.gaps().longest
    }

    /// How long after a due time a run may start before it is late:
    /// `clamp(expected_interval / 10, 60 s, 1 h)`.
    pub fn grace_period(&self) -> Duration {
        default_grace(self.expected_interval())
    }

    /// The latest fire time at or before `at`; `None` when the schedule
    /// never fired before `at` (within the calendar's reach).
    pub fn previous_fire(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Every span as long as the longest gap holds a fire; widen the
        // look-back in case `at` lies outside the sample's pattern.
        let step = chrono::Duration::from_std(self.longest_gap())
            .unwrap_or(chrono::Duration::MAX)
            .max(chrono::Duration::seconds(1));
        let mut back = step + chrono::Duration::seconds(1);
        for _ in 0..8 {
            let from = at.checked_sub_signed(back)?;
            if let Some(last) = self.fires_between(from, at, usize::MAX).last() {
                return Some(last);
            }
            back = back.checked_add(&back)?;
        }
        None
    }

    fn gaps(&self) -> Gaps {
        *self.interval.get_or_init(|| shared_gaps(self))
    }
}

/// Most distinct schedules whose gaps are remembered process-wide.
const SHARED_LIMIT: usize = 4096;

/// The gaps of `schedule`, sampled once per distinct schedule in the
/// process: a report over thousands of configurations that share a handful
/// of schedules samples each of them once, not once per configuration.
fn shared_gaps(schedule: &Schedule) -> Gaps {
    type Key = (
        Option<String>,
        Option<crate::preset::Preset>,
        crate::zone::Zone,
    );
    static SHARED: OnceLock<Mutex<HashMap<Key, Gaps>>> = OnceLock::new();
    let spec = schedule.to_spec();
    let key: Key = (spec.cron, spec.preset, schedule.zone());
    let shared = SHARED.get_or_init(Mutex::default);
    if let Some(gaps) = shared.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return *gaps;
    }
    let gaps = sample_gaps(schedule);
    let mut map = shared.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= SHARED_LIMIT {
        map.clear();
    }
    map.insert(key, gaps);
    gaps
}

/// The default grace for an expected interval: a tenth of it, clamped to
/// `[MIN_GRACE, MAX_GRACE]`.
pub fn default_grace(expected_interval: Duration) -> Duration {
    (expected_interval / 10).clamp(MIN_GRACE, MAX_GRACE)
}

fn sample_gaps(schedule: &Schedule) -> Gaps {
    let start = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut fires = schedule.fires_between(start, DateTime::<Utc>::MAX_UTC, MAX_FIRES);
    let Some(first) = fires.next() else {
        return Gaps {
            typical: Duration::ZERO,
            longest: Duration::ZERO,
        };
    };
    let mut counts: HashMap<chrono::Duration, usize> = HashMap::new();
    let (mut prev, mut gaps) = (first, 0);
    for t in fires {
        *counts.entry(t - prev).or_default() += 1;
        prev = t;
        gaps += 1;
        if gaps >= MIN_GAPS && (t - first).num_seconds() >= MIN_SPAN_SECS {
            break;
        }
    }
    let std = |d: chrono::Duration| d.to_std().unwrap_or(Duration::ZERO);
    let longest = counts.keys().max().copied().map(std).unwrap_or_default();
    let typical = counts
        .iter()
        .max_by_key(|(gap, n)| (**n, **gap))
        .map(|(gap, _)| std(*gap))
        .unwrap_or_default();
    Gaps { typical, longest }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(expr: &str, tz: &str) -> Duration {
        Schedule::cron(expr, tz).unwrap().expected_interval()
    }

    #[test]
    fn interval_is_the_most_common_gap() {
        assert_eq!(interval("*/10 * * * * *", "UTC"), Duration::from_secs(10));
        assert_eq!(interval("0 * * * *", "UTC"), Duration::from_secs(3_600));
        assert_eq!(interval("0 2 * * *", "UTC"), Duration::from_secs(86_400));
        assert_eq!(interval("0 2 * * 1-5", "UTC"), Duration::from_secs(86_400));
        assert_eq!(
            interval("*/15 9-17 * * 1-5", "Europe/Berlin"),
            Duration::from_secs(900)
        );
        // Leap years are the rarer gap.
        assert_eq!(
            interval("0 0 1 1 *", "UTC"),
            Duration::from_secs(365 * 86_400)
        );
        assert_eq!(
            interval("0 2 * * *", "Europe/Berlin"),
            Duration::from_secs(86_400)
        );
    }

    fn longest(expr: &str, tz: &str) -> Duration {
        Schedule::cron(expr, tz).unwrap().longest_gap()
    }

    #[test]
    fn longest_gap_includes_weekends_and_the_long_dst_day() {
        assert_eq!(
            longest("0 2 * * 1-5", "UTC"),
            Duration::from_secs(3 * 86_400)
        );
        assert_eq!(
            longest("*/15 9-17 * * 1-5", "UTC"),
            Duration::from_secs(2 * 86_400 + 15 * 3_600 + 15 * 60)
        );
        assert_eq!(
            longest("0 2 * * *", "Europe/Berlin"),
            Duration::from_secs(25 * 3_600)
        );
        assert_eq!(
            longest("0 2 * * *", "Australia/Lord_Howe"),
            Duration::from_secs(24 * 3_600 + 1_800)
        );
        assert_eq!(
            longest("0 2 * * *", "Asia/Kolkata"),
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn previous_fire_looks_back_over_the_weekend() {
        let s = Schedule::cron("*/15 9-17 * * 1-5", "UTC").unwrap();
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        // Sunday 2024-03-10: the last fire was Friday 17:45.
        assert_eq!(
            s.previous_fire(at("2024-03-10T12:00:00Z")),
            Some(at("2024-03-08T17:45:00Z"))
        );
        // Tuesday 10:20: 10:15; exactly on a fire: that fire.
        assert_eq!(
            s.previous_fire(at("2024-03-12T10:20:00Z")),
            Some(at("2024-03-12T10:15:00Z"))
        );
        assert_eq!(
            s.previous_fire(at("2024-03-12T10:15:00Z")),
            Some(at("2024-03-12T10:15:00Z"))
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
