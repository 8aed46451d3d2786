//! Fire times: the instants at which a schedule is due.
//!
//! The fire set is the set of instants that the schedule's local wall times
//! map to under [`crate::resolve`]'s rules (first occurrence in a repeated
//! hour, end of the gap for skipped wall times), each instant once.
//!
//! Search: the mapping from wall time to instant never decreases, and a wall
//! time that maps strictly after an instant `a` must itself lie after `a`'s
//! own wall time. So the first fire after `a` is found by walking matching
//! wall times forward from `a`'s wall time and taking the first whose
//! instant is after `a`. Only inside a repeated hour does the walk skip
//! any (wall times whose first occurrence is already past).

use chrono::{DateTime, Days, Utc};

use crate::resolve::{local_of, resolve_local};
use crate::schedule::Schedule;

/// How far past the start the search looks before giving up: one Gregorian
/// cycle (400 years) and a margin. A schedule accepted by
/// [`Schedule::new`] fires at least once in any such span.
const HORIZON_DAYS: u64 = 146_097 + 366;

impl Schedule {
    /// The first fire time strictly after `after`.
    ///
    /// `None` only at the far end of the calendar (beyond year 262000).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz = self.zone.tz();
        let mut wall = local_of(tz, after);
        let limit = wall
            .date()
            .checked_add_days(Days::new(HORIZON_DAYS))
            .unwrap_or(chrono::NaiveDate::MAX);
        loop {
            wall = self.recurrence.next_local_after(wall, limit)?;
            let instant = resolve_local(tz, wall);
            if instant > after {
                return Some(instant);
            }
        }
    }

    /// The next `n` fire times strictly after `after`, ascending.
    pub fn next_n(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        self.fires_between(after, DateTime::<Utc>::MAX_UTC, n)
            .collect()
    }

    /// The fire times in `(from_exclusive, to_inclusive]`, ascending, at most
    /// `cap` of them.
    pub fn fires_between(
        &self,
        from_exclusive: DateTime<Utc>,
        to_inclusive: DateTime<Utc>,
        cap: usize,
    ) -> Fires<'_> {
        Fires {
            schedule: self,
            cursor: from_exclusive,
            to_inclusive,
            remaining: cap,
        }
    }
}

/// Iterator over fire times, from [`Schedule::fires_between`].
#[derive(Debug, Clone)]
pub struct Fires<'a> {
    schedule: &'a Schedule,
    cursor: DateTime<Utc>,
    to_inclusive: DateTime<Utc>,
    remaining: usize,
}

impl Fires<'_> {
    /// The last fire time returned, or the exclusive start if none was.
    pub fn cursor(&self) -> DateTime<Utc> {
        self.cursor
    }
}

impl Iterator for Fires<'_> {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        if self.remaining == 0 {
            return None;
        }
        let next = self
            .schedule
            .next_after(self.cursor)
            .filter(|t| *t <= self.to_inclusive);
        match next {
            Some(t) => {
                self.cursor = t;
                self.remaining -= 1;
            }
            None => self.remaining = 0,
        }
        next
    }
}
