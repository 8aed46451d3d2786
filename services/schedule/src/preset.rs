//! Presets: hourly, daily, weekly and monthly schedules without cron syntax.
//!
//! A monthly preset on a day that a month does not have (29, 30 or 31) fires
//! on that month's **last day** instead: `monthly on day 31` fires on
//! 30 April and on 28 or 29 February. A backup that the user asked for every
//! month is never silently skipped.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ErrorKind, Result, ScheduleError, field};

/// A wall clock time of day with minute precision, written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeOfDay {
    hour: u8,
    minute: u8,
}

impl TimeOfDay {
    /// Builds a time of day; `hour` is 0-23 and `minute` 0-59.
    pub fn new(hour: u8, minute: u8) -> Result<Self> {
        if hour > 23 || minute > 59 {
            return Err(ScheduleError::new(
                field::PRESET_AT,
                ErrorKind::OutOfRange,
                format!(
                    "{hour:02}:{minute:02} is not a time of day; hours are 00-23 and minutes 00-59"
                ),
            ));
        }
        Ok(Self { hour, minute })
    }

    /// The hour, 0-23.
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// The minute, 0-59.
    pub fn minute(&self) -> u8 {
        self.minute
    }

    pub(crate) fn naive(&self) -> NaiveTime {
        NaiveTime::from_hms_opt(self.hour.into(), self.minute.into(), 0)
            .expect("validated time of day")
    }
}

impl FromStr for TimeOfDay {
    type Err = ScheduleError;

    /// Parses `HH:MM` (or `H:MM`).
    fn from_str(s: &str) -> Result<Self> {
        let malformed = || {
            ScheduleError::new(
                field::PRESET_AT,
                ErrorKind::Malformed,
                format!("{s:?} is not a time of day; write HH:MM, for example 02:00"),
            )
        };
        let (h, m) = s.trim().split_once(':').ok_or_else(malformed)?;
        let digits = |p: &str, max_len: usize| {
            (!p.is_empty() && p.len() <= max_len && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u8>().ok())
                .flatten()
        };
        match (digits(h, 2), digits(m, 2)) {
            (Some(h), Some(m)) => TimeOfDay::new(h, m),
            _ => Err(malformed()),
        }
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A schedule written without cron syntax.
///
/// In configuration files a preset is a map tagged by `every`:
/// `{every: daily, at: "02:00"}`, `{every: weekly, on: sun, at: "03:00"}`,
/// `{every: monthly, day: 1, at: "04:00"}`, `{every: hourly, minute: 15}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "every", rename_all = "lowercase", deny_unknown_fields)]
pub enum Preset {
    /// Every hour at `minute` (0-59) past the hour.
    Hourly {
        /// Minute past the hour, 0-59.
        minute: u8,
    },
    /// Every day at `at`.
    Daily {
        /// Local time of day.
        at: TimeOfDay,
    },
    /// Every week on `on` at `at`.
    Weekly {
        /// Day of the week.
        on: Weekday,
        /// Local time of day.
        at: TimeOfDay,
    },
    /// Every month on `day` (1-31) at `at`; a month shorter than `day` fires
    /// on its last day.
    Monthly {
        /// Day of month, 1-31, clamped to the month's last day.
        day: u8,
        /// Local time of day.
        at: TimeOfDay,
    },
}

impl Preset {
    /// Checks the ranges that the types do not: the minute of an hourly
    /// preset and the day of a monthly preset.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Preset::Hourly { minute } if minute > 59 => Err(ScheduleError::new(
                field::PRESET_MINUTE,
                ErrorKind::OutOfRange,
                format!("{minute} is not a minute; use 0-59"),
            )),
            Preset::Monthly { day, .. } if !(1..=31).contains(&day) => Err(ScheduleError::new(
                field::PRESET_DAY,
                ErrorKind::OutOfRange,
                format!(
                    "{day} is not a day of month; use 1-31 (29-31 fire on the last day of shorter months)"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The first local wall time strictly after `t` that this preset names,
    /// or `None` if that lies past `limit`.
    pub(crate) fn next_local_after(
        &self,
        t: NaiveDateTime,
        limit: NaiveDate,
    ) -> Option<NaiveDateTime> {
        let t = t.with_nanosecond(0)?;
        let candidate = match *self {
            Preset::Hourly { minute } => {
                let this_hour = t.with_minute(minute.into())?.with_second(0)?;
                if this_hour > t {
                    this_hour
                } else {
                    this_hour + chrono::Duration::hours(1)
                }
            }
            Preset::Daily { at } => {
                let today = t.date().and_time(at.naive());
                if today > t {
                    today
                } else {
                    t.date().succ_opt()?.and_time(at.naive())
                }
            }
            Preset::Weekly { on, at } => {
                let ahead =
                    (7 + on.num_days_from_monday() - t.weekday().num_days_from_monday()) % 7;
                let day = t.date() + chrono::Duration::days(ahead.into());
                let first = day.and_time(at.naive());
                if first > t {
                    first
                } else {
                    first + chrono::Duration::days(7)
                }
            }
            Preset::Monthly { day, at } => {
                let this_month = monthly_due(t.date().with_day(1)?, day)?.and_time(at.naive());
                if this_month > t {
                    this_month
                } else {
                    let next_month = t.date().with_day(1)?.checked_add_months(Months::new(1))?;
                    monthly_due(next_month, day)?.and_time(at.naive())
                }
            }
        };
        (candidate.date() <= limit).then_some(candidate)
    }
}

/// The due date in the month starting at `first`: `day`, or the month's last
/// day when the month is shorter.
fn monthly_due(first: NaiveDate, day: u8) -> Option<NaiveDate> {
    let last = first.checked_add_months(Months::new(1))?.pred_opt()?;
    first.with_day(u32::from(day).min(last.day()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn far() -> NaiveDate {
        NaiveDate::from_ymd_opt(3000, 1, 1).unwrap()
    }

    #[test]
    fn time_of_day_parses_and_rejects_with_field() {
        assert_eq!(
            "02:00".parse::<TimeOfDay>().unwrap(),
            TimeOfDay::new(2, 0).unwrap()
        );
        assert_eq!("7:05".parse::<TimeOfDay>().unwrap().to_string(), "07:05");
        for bad in ["24:00", "12:60", "2", "aa:bb", "1:2:3", "-1:00", "123:00"] {
            let err = bad.parse::<TimeOfDay>().unwrap_err();
            assert_eq!(err.field(), "schedule.preset.at", "{bad}");
        }
    }

    #[test]
    fn monthly_day_31_fires_on_the_last_day_of_short_months() {
        let p = Preset::Monthly {
            day: 31,
            at: TimeOfDay::new(4, 0).unwrap(),
        };
        let mut t = at("2025-01-31 04:00:00");
        let mut seen = Vec::new();
        for _ in 0..4 {
            t = p.next_local_after(t, far()).unwrap();
            seen.push(t.date().to_string());
        }
        assert_eq!(
            seen,
            ["2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31"]
        );
        let leap = p
            .next_local_after(at("2028-02-01 00:00:00"), far())
            .unwrap();
        assert_eq!(leap, at("2028-02-29 04:00:00"));
    }

    #[test]
    fn presets_fire_strictly_after_the_given_time() {
        let t = at("2025-06-04 02:00:00"); // a Wednesday
        let daily = Preset::Daily {
            at: TimeOfDay::new(2, 0).unwrap(),
        };
        assert_eq!(
            daily.next_local_after(t, far()),
            Some(at("2025-06-05 02:00:00"))
        );
        let weekly = Preset::Weekly {
            on: Weekday::Wed,
            at: TimeOfDay::new(2, 0).unwrap(),
        };
        assert_eq!(
            weekly.next_local_after(t, far()),
            Some(at("2025-06-11 02:00:00"))
        );
        let weekly_sun = Preset::Weekly {
            on: Weekday::Sun,
            at: TimeOfDay::new(3, 0).unwrap(),
        };
        assert_eq!(
            weekly_sun.next_local_after(t, far()),
            Some(at("2025-06-08 03:00:00"))
        );
        let hourly = Preset::Hourly { minute: 0 };
        assert_eq!(
            hourly.next_local_after(t, far()),
            Some(at("2025-06-04 03:00:00"))
        );
        let monthly = Preset::Monthly {
            day: 4,
            at: TimeOfDay::new(2, 0).unwrap(),
        };
        assert_eq!(
            monthly.next_local_after(t, far()),
            Some(at("2025-07-04 02:00:00"))
        );
    }

    #[test]
    fn validate_names_the_preset_field() {
        assert_eq!(
            Preset::Hourly { minute: 60 }
                .validate()
                .unwrap_err()
                .field(),
            "schedule.preset.minute"
        );
        let at = TimeOfDay::new(1, 0).unwrap();
        assert_eq!(
            Preset::Monthly { day: 0, at }
                .validate()
                .unwrap_err()
                .field(),
            "schedule.preset.day"
        );
        assert_eq!(
            Preset::Monthly { day: 32, at }
                .validate()
                .unwrap_err()
                .field(),
            "schedule.preset.day"
        );
        assert!(Preset::Monthly { day: 31, at }.validate().is_ok());
    }

    #[test]
    fn deserializes_tagged_presets() {
        let p: Preset =
            serde_json::from_str(r#"{"every":"weekly","on":"sun","at":"03:00"}"#).unwrap();
        assert_eq!(
            p,
            Preset::Weekly {
                on: Weekday::Sun,
                at: TimeOfDay::new(3, 0).unwrap()
            }
        );
        let err = serde_json::from_str::<Preset>(r#"{"every":"daily","at":"25:00"}"#).unwrap_err();
        assert!(err.to_string().contains("schedule.preset.at"), "{err}");
    }
}
