//! Cron expressions: 5 fields, or 6 with seconds first.
//!
//! `croner` parses the expression and answers "does this calendar day
//! match" (including `L`, `W`, `#` and the usual OR of day-of-month and
//! day-of-week). The search for the next matching **local wall time** is
//! done here on naive date-times, so no library's DST handling is involved:
//! mapping wall times to instants is [`crate::resolve`]'s job.
//!
//! Not accepted: `@daily`-style nicknames (use a preset), a seventh (year)
//! field, and the non-standard `0/10` range shorthand.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::error::{ErrorKind, Result, ScheduleError, field};

/// A parsed and validated cron expression.
#[derive(Debug, Clone)]
pub struct CronExpr {
    text: String,
    with_seconds: bool,
    /// Shared by every expression with the same text ([`interned`]): a parsed
    /// pattern holds about 5 KB, mostly its year table, and a fleet of
    /// 100,000 schedules mostly says `0 2 * * *`.
    cron: Arc<Cron>,
    seconds: u64,
    minutes: u64,
    hours: u32,
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for CronExpr {}

impl CronExpr {
    /// Parses `text`: `minute hour day-of-month month day-of-week`, or the
    /// same preceded by a seconds field. Errors name the field `schedule.cron`.
    ///
    /// This only checks syntax; [`crate::Schedule`] also rejects expressions
    /// that never fire, such as `0 0 30 2 *`.
    pub fn parse(text: &str) -> Result<Self> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let error = |kind, reason: String| ScheduleError::new(field::CRON, kind, reason);
        if fields.is_empty() {
            return Err(error(
                ErrorKind::Missing,
                "must not be empty; write 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first".into(),
            ));
        }
        if text.contains('@') {
            return Err(error(
                ErrorKind::Malformed,
                format!(
                    "{text:?}: nicknames such as @daily are not supported; write 5 or 6 fields or use a preset"
                ),
            ));
        }
        if fields.len() != 5 && fields.len() != 6 {
            return Err(error(
                ErrorKind::Malformed,
                format!(
                    "{text:?} has {} fields; expected 5 (minute hour day-of-month month day-of-week) or 6 with seconds first",
                    fields.len()
                ),
            ));
        }
        let normalized = fields.join(" ");
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .dom_and_dow(false)
            .alternative_weekdays(false)
            .sloppy_ranges(false)
            .build();
        let cron = parser.parse(&normalized).map_err(|e| {
            error(
                ErrorKind::Malformed,
                format!(
                    "{normalized:?} is not a valid cron expression: {}",
                    croner_reason(&e)
                ),
            )
        })?;
        let p = &cron.pattern;
        let seconds = mask(&p.seconds.values());
        let minutes = mask(&p.minutes.values());
        let hours = mask(&p.hours.values()) as u32;
        if seconds == 0 || minutes == 0 || hours == 0 {
            return Err(error(
                ErrorKind::NeverFires,
                format!("{normalized:?} never fires: a time field matches no value"),
            ));
        }
        Ok(Self {
            with_seconds: fields.len() == 6,
            cron: interned(&normalized, cron),
            text: normalized,
            seconds,
            minutes,
            hours,
        })
    }

    /// The expression as written, with whitespace normalised to single spaces.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the expression has a leading seconds field.
    pub fn has_seconds(&self) -> bool {
        self.with_seconds
    }

    /// The seconds (0-59) at which the expression fires, ascending.
    pub fn second_values(&self) -> Vec<u32> {
        values(self.seconds)
    }

    /// The minutes (0-59) at which the expression fires, ascending.
    pub fn minute_values(&self) -> Vec<u32> {
        values(self.minutes)
    }

    /// The hours (0-23) at which the expression fires, ascending.
    pub fn hour_values(&self) -> Vec<u32> {
        values(self.hours.into())
    }

    /// The croner pattern, for the calendar fields.
    pub(crate) fn pattern(&self) -> &croner::CronPattern {
        &self.cron.pattern
    }

    /// Whether the local calendar day `date` matches the month, day-of-month
    /// and day-of-week fields.
    pub fn matches_date(&self, date: NaiveDate) -> bool {
        let p = &self.cron.pattern;
        let weekday = croner::Weekday::from_days_from_sunday(date.weekday().num_days_from_sunday());
        p.month_match(date.month()).unwrap_or(false)
            && p.day_match(date.year(), date.month(), date.day(), weekday)
                .unwrap_or(false)
    }

    /// Whether the local wall time `t` (to the second) matches every field.
    pub fn matches(&self, t: NaiveDateTime) -> bool {
        bit(self.seconds, t.second())
            && bit(self.minutes, t.minute())
            && bit(self.hours.into(), t.hour())
            && self.matches_date(t.date())
    }

    /// The first matching local wall time strictly after `t`, or `None` if
    /// there is none on or before the day `limit`.
    pub(crate) fn next_local_after(
        &self,
        t: NaiveDateTime,
        limit: NaiveDate,
    ) -> Option<NaiveDateTime> {
        let start = t
            .with_nanosecond(0)?
            .checked_add_signed(chrono::Duration::seconds(1))?;
        let mut date = start.date();
        let mut from = Some(start.time());
        while date <= limit {
            if !self.pattern().month_match(date.month()).unwrap_or(false) {
                date = date.with_day(1)?.checked_add_months(Months::new(1))?;
                from = None;
                continue;
            }
            if self.matches_date(date)
                && let Some(time) = self.first_time_from(from.unwrap_or(NaiveTime::MIN))
            {
                return Some(date.and_time(time));
            }
            date = date.succ_opt()?;
            from = None;
        }
        None
    }

    /// The first matching time of day at or after `from`, on a matching day.
    fn first_time_from(&self, from: NaiveTime) -> Option<NaiveTime> {
        let (h0, m0, s0) = (from.hour(), from.minute(), from.second());
        let mut h = next_bit(self.hours.into(), h0)?;
        loop {
            let mut m = next_bit(self.minutes, if h == h0 { m0 } else { 0 });
            while let Some(minute) = m {
                let s_from = if h == h0 && minute == m0 { s0 } else { 0 };
                if let Some(s) = next_bit(self.seconds, s_from) {
                    return NaiveTime::from_hms_opt(h, minute, s);
                }
                m = next_bit(self.minutes, minute + 1);
            }
            h = next_bit(self.hours.into(), h + 1)?;
        }
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// croner's messages are capitalised and end with a period; the house style
/// wants neither.
fn croner_reason(e: &croner::errors::CronError) -> String {
    let text = e.to_string();
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn mask(values: &[u16]) -> u64 {
    values
        .iter()
        .filter(|v| **v < 64)
        .fold(0, |m, v| m | 1 << v)
}

fn bit(mask: u64, i: u32) -> bool {
    i < 64 && mask & (1 << i) != 0
}

fn values(mask: u64) -> Vec<u32> {
    (0..64).filter(|i| bit(mask, *i)).collect()
}

/// The smallest set bit at or above `from`.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = mask >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

/// The one shared copy of the pattern parsed from `text`: `parsed` unless a
/// live expression with the same text already holds one. Entries whose
/// expressions are all gone are dropped once the table has doubled.
fn interned(text: &str, parsed: Cron) -> Arc<Cron> {
    /// Patterns by text, and the size at which dead entries are dropped.
    type Table = (HashMap<String, Weak<Cron>>, usize);
    static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
    let table = TABLE.get_or_init(|| Mutex::new((HashMap::new(), 64)));
    let mut guard = table.lock().unwrap_or_else(|e| e.into_inner());
    let (map, limit) = &mut *guard;
    if let Some(shared) = map.get(text).and_then(Weak::upgrade) {
        return shared;
    }
    let shared = Arc::new(parsed);
    map.insert(text.to_owned(), Arc::downgrade(&shared));
    if map.len() > *limit {
        map.retain(|_, w| w.strong_count() > 0);
        *limit = (map.len() * 2).max(64);
    }
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn far() -> NaiveDate {
        NaiveDate::from_ymd_opt(2500, 1, 1).unwrap()
    }

    #[test]
    fn expressions_with_the_same_text_share_one_parsed_pattern() {
        let a = CronExpr::parse("7 3 * * 1-5").unwrap();
        let b = CronExpr::parse("  7 3  * * 1-5 ").unwrap();
        let other = CronExpr::parse("8 3 * * 1-5").unwrap();
        assert!(Arc::ptr_eq(&a.cron, &b.cron));
        assert!(!Arc::ptr_eq(&a.cron, &other.cron));
        // Once every holder is gone a new parse stores a fresh pattern.
        let weak = Arc::downgrade(&a.cron);
        drop((a, b));
        assert_eq!(weak.strong_count(), 0);
        let again = CronExpr::parse("7 3 * * 1-5").unwrap();
        assert!(again.matches_date(NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()));
        assert!(!again.matches_date(NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()));
    }

    #[test]
    fn five_fields_fire_at_second_zero() {
        let c = CronExpr::parse("0 2 * * *").unwrap();
        assert!(!c.has_seconds());
        assert_eq!(
            c.next_local_after(at("2025-01-01 02:00:00"), far()),
            Some(at("2025-01-02 02:00:00"))
        );
        assert_eq!(
            c.next_local_after(at("2025-01-01 01:59:59"), far()),
            Some(at("2025-01-01 02:00:00"))
        );
    }

    #[test]
    fn six_fields_have_seconds_first() {
        let c = CronExpr::parse("*/10 * * * * *").unwrap();
        assert!(c.has_seconds());
        assert_eq!(
            c.next_local_after(at("2025-01-01 00:00:00"), far()),
            Some(at("2025-01-01 00:00:10"))
        );
        assert_eq!(
            c.next_local_after(at("2025-01-01 00:00:55"), far()),
            Some(at("2025-01-01 00:01:00"))
        );
        let c = CronExpr::parse("30 0 3 * * *").unwrap();
        assert_eq!(
            c.next_local_after(at("2025-01-01 03:00:30"), far()),
            Some(at("2025-01-02 03:00:30"))
        );
    }

    #[test]
    fn day_fields_use_or_semantics_and_modifiers() {
        // The 13th or any Friday.
        let c = CronExpr::parse("0 0 13 * 5").unwrap();
        assert_eq!(
            c.next_local_after(at("2025-06-01 00:00:00"), far()),
            Some(at("2025-06-06 00:00:00"))
        );
        assert_eq!(
            c.next_local_after(at("2025-06-12 00:00:00"), far()),
            Some(at("2025-06-13 00:00:00"))
        );
        let last = CronExpr::parse("0 0 L * *").unwrap();
        assert_eq!(
            last.next_local_after(at("2025-02-01 00:00:00"), far()),
            Some(at("2025-02-28 00:00:00"))
        );
        let names = CronExpr::parse("0 9 * JAN MON").unwrap();
        assert_eq!(
            names.next_local_after(at("2025-06-01 00:00:00"), far()),
            Some(at("2026-01-05 09:00:00"))
        );
    }

    #[test]
    fn rejects_malformed_expressions_naming_the_cron_field() {
        for bad in [
            "",
            "* * * *",
            "* * * * * * *",
            "@daily",
            "61 * * * *",
            "* 24 * * *",
            "x * * * *",
            "0/10 * * * *",
        ] {
            let err = CronExpr::parse(bad).unwrap_err();
            assert_eq!(err.field(), "schedule.cron", "{bad:?}");
            assert!(!err.reason().ends_with('.'), "{err}");
        }
    }

    #[test]
    fn returns_none_past_the_limit() {
        let c = CronExpr::parse("0 0 30 2 *").unwrap();
        assert_eq!(c.next_local_after(at("2025-01-01 00:00:00"), far()), None);
    }
}
