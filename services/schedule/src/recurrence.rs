//! What recurs, in local wall time: a cron expression or a preset.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::cron::CronExpr;
use crate::preset::Preset;

/// The local wall-time rule of a schedule, before any time zone applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recurrence {
    /// A cron expression, 5 fields or 6 with seconds first.
    Cron(CronExpr),
    /// An hourly, daily, weekly or monthly preset.
    Preset(Preset),
}

impl Recurrence {
    /// The first local wall time strictly after `t` named by this rule, or
    /// `None` if there is none on or before the day `limit`.
    pub(crate) fn next_local_after(
        &self,
        t: NaiveDateTime,
        limit: NaiveDate,
    ) -> Option<NaiveDateTime> {
        match self {
            Recurrence::Cron(c) => c.next_local_after(t, limit),
            Recurrence::Preset(p) => p.next_local_after(t, limit),
        }
    }
}

impl fmt::Display for Recurrence {
    /// The cron text, or the preset in its configuration form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recurrence::Cron(c) => f.write_str(c.as_str()),
            Recurrence::Preset(p) => match p {
                Preset::Hourly { minute } => write!(f, "hourly at minute {minute}"),
                Preset::Daily { at } => write!(f, "daily at {at}"),
                Preset::Weekly { on, at } => write!(f, "weekly on {on} at {at}"),
                Preset::Monthly { day, at } => write!(f, "monthly on day {day} at {at}"),
            },
        }
    }
}

/// The `schedule:` block of a configuration as written by a user.
///
/// Exactly one of `cron` and `preset` must be set. A missing `timezone`
/// means `UTC`. Other keys of the block (`catch_up`, `overlap`) belong to
/// the caller and are ignored here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSpec {
    /// Cron expression, 5 fields or 6 with seconds first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Preset instead of a cron expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// IANA time zone name; `UTC` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}
