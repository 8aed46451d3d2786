//! Conversion from the API's `vigil.catalog.v1.Schedule` message (feature
//! `proto`). The catalog, the scheduler and the status report all read
//! schedules through this one function, so a schedule means the same thing
//! in each of them.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use vigil_proto::catalog::v1 as pb;

use crate::error::{ErrorKind, Result, ScheduleError};
use crate::preset::{Preset, TimeOfDay};
use crate::recurrence::Recurrence;
use crate::schedule::Schedule;
use crate::{CronExpr, Zone};

/// Field path of the preset's frequency in the API message.
const FREQUENCY: &str = "schedule.preset.frequency";
/// Field path of the preset's weekday in the API message.
const DAY_OF_WEEK: &str = "schedule.preset.day_of_week";
/// Field path of the preset's day of the month in the API message.
const DAY_OF_MONTH: &str = "schedule.preset.day_of_month";
/// Field path of the preset's time of day in the API message.
const TIME_OF_DAY: &str = "schedule.preset.time_of_day";
/// Field path of the recurrence as a whole.
const SPEC: &str = "schedule";

/// Validates an API schedule message and turns it into a [`Schedule`].
///
/// Errors name the field as a path below the schedule, for example
/// `schedule.cron` or `schedule.timezone`; callers prefix the path of the
/// schedule within their own message (`configuration.`).
pub fn schedule_from_proto(msg: &pb::Schedule) -> Result<Schedule> {
    // Parsing a cron expression and proving it fires costs tens of
    // microseconds; a status report over thousands of configurations, and
    // a catalog checking thousands of ticks, read the same few schedules
    // again and again. Valid schedules are remembered by their spec and zone.
    type Key = (Option<pb::schedule::Spec>, String);
    static PARSED: OnceLock<Mutex<HashMap<Key, Schedule>>> = OnceLock::new();
    let key: Key = (msg.spec.clone(), msg.timezone.clone());
    let parsed = PARSED.get_or_init(Mutex::default);
    if let Some(schedule) = parsed.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(schedule.clone());
    }
    let schedule = parse(msg)?;
    let mut map = parsed.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= PARSED_LIMIT {
        map.clear();
    }
    map.insert(key, schedule.clone());
    Ok(schedule)
}

/// Most distinct valid schedules remembered by [`schedule_from_proto`].
const PARSED_LIMIT: usize = 4096;

fn parse(msg: &pb::Schedule) -> Result<Schedule> {
    let timezone = if msg.timezone.trim().is_empty() {
        "UTC"
    } else {
        msg.timezone.as_str()
    };
    let zone = Zone::parse(timezone)?;
    let recurrence = match &msg.spec {
        Some(pb::schedule::Spec::Cron(text)) => Recurrence::Cron(CronExpr::parse(text)?),
        Some(pb::schedule::Spec::Preset(preset)) => Recurrence::Preset(preset_from_proto(preset)?),
        None => {
            return Err(ScheduleError::new(
                SPEC,
                ErrorKind::Malformed,
                "set either cron or preset",
            ));
        }
    };
    Schedule::new(recurrence, zone)
}

fn preset_from_proto(msg: &pb::Preset) -> Result<Preset> {
    let at = || -> Result<TimeOfDay> {
        if msg.time_of_day.trim().is_empty() {
            return Err(ScheduleError::new(
                TIME_OF_DAY,
                ErrorKind::Malformed,
                "must be set, as HH:MM",
            ));
        }
        msg.time_of_day
            .parse::<TimeOfDay>()
            .map_err(|e| ScheduleError::new(TIME_OF_DAY, e.kind(), e.reason().to_owned()))
    };
    let preset = match msg.frequency() {
        pb::Frequency::Hourly => {
            // "HH:MM" or "MM"; only the minutes count for an hourly preset.
            let text = msg.time_of_day.trim();
            let minutes = text.rsplit(':').next().unwrap_or(text);
            let minute = if text.is_empty() {
                0
            } else {
                minutes.parse::<u8>().map_err(|_| {
                    ScheduleError::new(
                        TIME_OF_DAY,
                        ErrorKind::Malformed,
                        format!("{text:?} is not a minute past the hour; write MM or HH:MM"),
                    )
                })?
            };
            Preset::Hourly { minute }
        }
        pb::Frequency::Daily => Preset::Daily { at: at()? },
        pb::Frequency::Weekly => Preset::Weekly {
            on: weekday(msg.day_of_week())?,
            at: at()?,
        },
        pb::Frequency::Monthly => Preset::Monthly {
            day: u8::try_from(msg.day_of_month).unwrap_or(u8::MAX),
            at: at()?,
        },
        pb::Frequency::Unspecified => {
            return Err(ScheduleError::new(
                FREQUENCY,
                ErrorKind::Malformed,
                "must be HOURLY, DAILY, WEEKLY or MONTHLY",
            ));
        }
    };
    preset.validate().map_err(|e| {
        // The API names these fields differently from the YAML preset form.
        let field = match e.field() {
            crate::error::field::PRESET_DAY => DAY_OF_MONTH,
            crate::error::field::PRESET_MINUTE => TIME_OF_DAY,
            other => other,
        };
        ScheduleError::new(field, e.kind(), e.reason().to_owned())
    })?;
    Ok(preset)
}

fn weekday(day: pb::Weekday) -> Result<chrono::Weekday> {
    use chrono::Weekday as W;
    Ok(match day {
        pb::Weekday::Monday => W::Mon,
        pb::Weekday::Tuesday => W::Tue,
        pb::Weekday::Wednesday => W::Wed,
        pb::Weekday::Thursday => W::Thu,
        pb::Weekday::Friday => W::Fri,
        pb::Weekday::Saturday => W::Sat,
        pb::Weekday::Sunday => W::Sun,
        pb::Weekday::Unspecified => {
            return Err(ScheduleError::new(
                DAY_OF_WEEK,
                ErrorKind::Malformed,
                "must be set for a weekly preset",
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(text: &str, zone: &str) -> pb::Schedule {
        pb::Schedule {
            spec: Some(pb::schedule::Spec::Cron(text.to_owned())),
            timezone: zone.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn cron_in_a_zone_converts_and_empty_zone_means_utc() {
        let s = schedule_from_proto(&cron("0 2 * * *", "Europe/Berlin")).unwrap();
        assert_eq!(s.zone().name(), "Europe/Berlin");
        let s = schedule_from_proto(&cron("0 2 * * *", "")).unwrap();
        assert_eq!(s.zone().name(), "UTC");
    }

    #[test]
    fn errors_name_the_field() {
        let e = schedule_from_proto(&cron("0 2 * *", "UTC")).unwrap_err();
        assert_eq!(e.field(), "schedule.cron");
        let e = schedule_from_proto(&cron("0 2 * * *", "Mars/Olympus")).unwrap_err();
        assert_eq!(e.field(), "schedule.timezone");
        let e = schedule_from_proto(&pb::Schedule::default()).unwrap_err();
        assert_eq!(e.field(), "schedule");
        let weekly = pb::Schedule {
            spec: Some(pb::schedule::Spec::Preset(pb::Preset {
                frequency: pb::Frequency::Weekly as i32,
                time_of_day: "03:00".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(
            schedule_from_proto(&weekly).unwrap_err().field(),
            DAY_OF_WEEK
        );
    }

    #[test]
    fn weekly_preset_converts() {
        let weekly = pb::Schedule {
            spec: Some(pb::schedule::Spec::Preset(pb::Preset {
                frequency: pb::Frequency::Weekly as i32,
                time_of_day: "03:00".into(),
                day_of_week: pb::Weekday::Sunday as i32,
                day_of_month: 0,
            })),
            timezone: "Europe/Berlin".into(),
            ..Default::default()
        };
        let s = schedule_from_proto(&weekly).unwrap();
        assert_eq!(
            s.recurrence(),
            &Recurrence::Preset(Preset::Weekly {
                on: chrono::Weekday::Sun,
                at: TimeOfDay::new(3, 0).unwrap()
            })
        );
    }
}
