//! Mapping local wall times to instants under the DST rules of guarantee S6.
//!
//! - A wall time that exists once maps to that instant.
//! - A wall time that exists twice (the repeated hour when clocks go back)
//!   maps to its **first** occurrence only.
//! - A wall time that does not exist (the gap when clocks go forward) maps to
//!   the **first valid instant after the gap**, which is the transition itself.
//!   Several skipped wall times therefore map to the same instant; the fire
//!   search in [`crate::fires`] emits that instant once.
//!
//! This mapping never decreases: a later wall time never maps to an earlier
//! instant. The fire search relies on that.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant at which the local wall time `local` in `tz` fires.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(dt) => dt.with_timezone(&Utc),
        LocalResult::Ambiguous(first, second) => first.min(second).with_timezone(&Utc),
        LocalResult::None => first_instant_after_gap(tz, local),
    }
}

/// The wall time of `instant` in `tz`.
pub fn local_of(tz: Tz, instant: DateTime<Utc>) -> NaiveDateTime {
    instant.with_timezone(&tz).naive_local()
}

/// The first instant whose wall time lies after the nonexistent wall time
/// `local`: the end of the gap.
///
/// Every UTC offset in the database lies within ±16 hours, so the instant
/// read as `local` in UTC, minus 16 hours, shows a wall time before `local`
/// and plus 16 hours one after it. Between the two the wall time only jumps
/// over `local` at a forward transition, so a binary search on whole seconds
/// finds that transition exactly (transitions fall on whole seconds).
fn first_instant_after_gap(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let past = |secs: i64| {
        DateTime::from_timestamp(secs, 0).is_some_and(|instant| local_of(tz, instant) > local)
    };
    let naive = local.and_utc().timestamp();
    let mut lo = naive - SEARCH_SPAN_SECS; // wall time before `local`
    let mut hi = naive + SEARCH_SPAN_SECS; // wall time after `local`
    debug_assert!(!past(lo) && past(hi));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if past(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Half the width of the gap search: more than any UTC offset.
const SEARCH_SPAN_SECS: i64 = 16 * 3_600;

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn gap_maps_to_the_end_of_the_gap() {
        // London springs forward at 01:00 UTC: 01:00-02:00 local does not exist.
        let london = chrono_tz::Europe::London;
        assert_eq!(
            resolve_local(london, local("2025-03-30 01:30:00")),
            utc("2025-03-30T01:00:00Z")
        );
        assert_eq!(
            resolve_local(london, local("2025-03-30 01:00:00")),
            utc("2025-03-30T01:00:00Z")
        );
        assert_eq!(
            resolve_local(london, local("2025-03-30 02:00:00")),
            utc("2025-03-30T01:00:00Z")
        );
        // Lord Howe springs forward by 30 minutes: 02:00-02:30 local does not exist.
        let lh = chrono_tz::Australia::Lord_Howe;
        assert_eq!(
            resolve_local(lh, local("2025-10-05 02:15:00")),
            utc("2025-10-04T15:30:00Z")
        );
    }

    #[test]
    fn repeated_hour_maps_to_the_first_occurrence() {
        // New York falls back at 06:00 UTC: 01:00-02:00 local happens twice.
        let ny = chrono_tz::America::New_York;
        assert_eq!(
            resolve_local(ny, local("2025-11-02 01:30:00")),
            utc("2025-11-02T05:30:00Z")
        );
        assert_eq!(
            resolve_local(ny, local("2025-11-02 02:00:00")),
            utc("2025-11-02T07:00:00Z")
        );
    }
}
