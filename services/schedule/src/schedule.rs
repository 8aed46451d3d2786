//! The validated [`Schedule`]: a recurrence in an IANA time zone.

use std::fmt;
use std::sync::{Arc, OnceLock};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::cron::CronExpr;
use crate::error::{ErrorKind, Result, ScheduleError, field};
use crate::preset::Preset;
use crate::recurrence::{Recurrence, ScheduleSpec};
use crate::zone::Zone;

/// A schedule that has passed validation: it parses, names an IANA zone and
/// fires at least once.
///
/// Fire times follow the DST rules of guarantee S6; see [`crate::resolve`]
/// and [`Schedule::next_after`].
#[derive(Debug, Clone)]
pub struct Schedule {
    pub(crate) recurrence: Recurrence,
    pub(crate) zone: Zone,
    pub(crate) interval: OnceLock<crate::interval::Gaps>,
    /// [`Schedule::describe`]'s text, shared by every clone: the schedules
    /// `schedule_from_proto` remembers are handed out as clones, and a
    /// status report describes each configuration's schedule every time.
    pub(crate) description: Arc<OnceLock<String>>,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.recurrence == other.recurrence && self.zone == other.zone
    }
}

impl Eq for Schedule {}

impl Schedule {
    /// Validates a recurrence in a zone.
    ///
    /// Rejects presets out of range and cron expressions that match no date
    /// at all (for example `0 0 30 2 *`, 30 February). Because the Gregorian
    /// calendar repeats every 400 years, searching one such cycle decides
    /// "never fires" exactly, whatever the current date.
    pub fn new(recurrence: Recurrence, zone: Zone) -> Result<Self> {
        match &recurrence {
            Recurrence::Preset(p) => p.validate()?,
            Recurrence::Cron(c) => {
                let cycle_start = NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date");
                let start: NaiveDateTime =
                    cycle_start.and_time(NaiveTime::MIN) - chrono::Duration::seconds(1);
                let limit = NaiveDate::from_ymd_opt(2400, 1, 1).expect("valid date");
                if c.next_local_after(start, limit).is_none() {
                    return Err(ScheduleError::new(
                        field::CRON,
                        ErrorKind::NeverFires,
                        format!("{:?} never fires: no calendar date matches it", c.as_str()),
                    ));
                }
            }
        }
        Ok(Self {
            recurrence,
            zone,
            interval: OnceLock::new(),
            description: Arc::default(),
        })
    }

    /// Parses a cron expression in the IANA zone `timezone`.
    pub fn cron(expr: &str, timezone: &str) -> Result<Self> {
        let zone = Zone::parse(timezone)?;
        Self::new(Recurrence::Cron(CronExpr::parse(expr)?), zone)
    }

    /// Validates a preset in the IANA zone `timezone`.
    pub fn preset(preset: Preset, timezone: &str) -> Result<Self> {
        let zone = Zone::parse(timezone)?;
        Self::new(Recurrence::Preset(preset), zone)
    }

    /// Validates the `schedule:` block of a configuration.
    pub fn from_spec(spec: &ScheduleSpec) -> Result<Self> {
        let zone = match &spec.timezone {
            Some(name) => Zone::parse(name)?,
            None => Zone::UTC,
        };
        let recurrence = match (&spec.cron, &spec.preset) {
            (Some(expr), None) => Recurrence::Cron(CronExpr::parse(expr)?),
            (None, Some(preset)) => Recurrence::Preset(*preset),
            (Some(_), Some(_)) => {
                return Err(ScheduleError::new(
                    field::SCHEDULE,
                    ErrorKind::Conflict,
                    "give either cron or preset, not both",
                ));
            }
            (None, None) => {
                return Err(ScheduleError::new(
                    field::SCHEDULE,
                    ErrorKind::Missing,
                    "needs cron or preset; leave the schedule out for on-demand configurations",
                ));
            }
        };
        Self::new(recurrence, zone)
    }

    /// The `schedule:` block that [`Schedule::from_spec`] turns back into
    /// this schedule, for storage.
    pub fn to_spec(&self) -> ScheduleSpec {
        let (cron, preset) = match &self.recurrence {
            Recurrence::Cron(c) => (Some(c.as_str().to_owned()), None),
            Recurrence::Preset(p) => (None, Some(*p)),
        };
        ScheduleSpec {
            cron,
            preset,
            timezone: Some(self.zone.name().to_owned()),
        }
    }

    /// The local wall-time rule.
    pub fn recurrence(&self) -> &Recurrence {
        &self.recurrence
    }

    /// The IANA zone the rule is read in.
    pub fn zone(&self) -> Zone {
        self.zone
    }
}

impl fmt::Display for Schedule {
    /// The human description, see [`Schedule::describe`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_can_be_shared_across_tasks() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>(_: &T) {}
        let s = Schedule::cron("0 2 * * *", "UTC").unwrap();
        assert_send_sync(&s);
        // The clone keeps the cached interval and compares equal.
        let interval = s.expected_interval();
        let copy = s.clone();
        assert_eq!((copy.expected_interval(), &copy), (interval, &s));
    }

    #[test]
    fn never_firing_cron_is_rejected() {
        for expr in [
            "0 0 30 2 *",
            "0 0 31 4 *",
            "0 0 31 2,4,6,9,11 *",
            "0 0 0 30 2 *",
        ] {
            let err = Schedule::cron(expr, "UTC").unwrap_err();
            assert_eq!(
                (err.field(), err.kind()),
                ("schedule.cron", ErrorKind::NeverFires),
                "{expr}"
            );
            assert!(err.reason().contains("never fires"), "{err}");
        }
    }

    #[test]
    fn rare_but_real_dates_are_accepted() {
        Schedule::cron("0 0 29 2 *", "UTC").unwrap();
        // A fifth Monday in February needs 29 February to be a Monday: 2044.
        let fifth_monday = Schedule::cron("0 0 * 2 1#5", "UTC").unwrap();
        let from = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let next = fifth_monday.next_after(from).unwrap();
        assert_eq!(next.to_rfc3339(), "2044-02-29T00:00:00+00:00");
    }

    #[test]
    fn spec_needs_exactly_one_of_cron_and_preset() {
        let both = ScheduleSpec {
            cron: Some("0 2 * * *".into()),
            preset: Some(Preset::Hourly { minute: 0 }),
            timezone: None,
        };
        let err = Schedule::from_spec(&both).unwrap_err();
        assert_eq!((err.field(), err.kind()), ("schedule", ErrorKind::Conflict));
        let err = Schedule::from_spec(&ScheduleSpec::default()).unwrap_err();
        assert_eq!((err.field(), err.kind()), ("schedule", ErrorKind::Missing));
    }

    #[test]
    fn spec_defaults_to_utc_and_round_trips() {
        let spec = ScheduleSpec {
            cron: Some(" 0  2 * * * ".into()),
            ..Default::default()
        };
        let s = Schedule::from_spec(&spec).unwrap();
        assert_eq!(s.zone(), Zone::UTC);
        let stored = s.to_spec();
        assert_eq!(stored.cron.as_deref(), Some("0 2 * * *"));
        assert_eq!(stored.timezone.as_deref(), Some("UTC"));
        assert_eq!(Schedule::from_spec(&stored).unwrap(), s);
    }

    #[test]
    fn spec_reads_the_configuration_block_and_ignores_caller_keys() {
        let json = r#"{"cron": "0 2 * * *", "timezone": "Europe/Berlin", "catch_up": "once", "overlap": "skip"}"#;
        let spec: ScheduleSpec = serde_json::from_str(json).unwrap();
        let s = Schedule::from_spec(&spec).unwrap();
        assert_eq!(s.describe(), "daily at 02:00 Europe/Berlin");
        let json = r#"{"preset": {"every": "monthly", "day": 1, "at": "04:00"}}"#;
        let spec: ScheduleSpec = serde_json::from_str(json).unwrap();
        assert_eq!(
            Schedule::from_spec(&spec).unwrap().describe(),
            "monthly on day 1 at 04:00 UTC"
        );
    }

    #[test]
    fn spec_errors_name_their_field() {
        let spec = ScheduleSpec {
            cron: Some("0 2 * * *".into()),
            timezone: Some("GMT+2".into()),
            ..Default::default()
        };
        assert_eq!(
            Schedule::from_spec(&spec).unwrap_err().field(),
            "schedule.timezone"
        );
        let spec = ScheduleSpec {
            preset: Some(Preset::Hourly { minute: 75 }),
            ..Default::default()
        };
        assert_eq!(
            Schedule::from_spec(&spec).unwrap_err().field(),
            "schedule.preset.minute"
        );
    }
}
