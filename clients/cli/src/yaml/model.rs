//! The shape of the file that `vigil config apply -f` reads. Unknown fields
//! are rejected, and the error names their path.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};

use crate::vocab::{CatchUp, Day, Engine, FrequencyWord, Kind, Overlap, PurposeWord};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigurationsFile {
    /// The desired configurations.
    pub configurations: Vec<ConfigurationSpec>,
}

/// One configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigurationSpec {
    /// Unique name.
    pub name: String,
    /// FULL, DATABASE or EXPORT.
    pub kind: Kind,
    /// production (default), test or temporary.
    #[serde(default)]
    pub purpose: Option<PurposeWord>,
    /// Whether the schedule is armed; true when left out.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// When to run; leave out for on-demand.
    #[serde(default)]
    pub schedule: Option<ScheduleSpec>,
    /// What to read.
    #[serde(default)]
    pub source: Option<SourceSpec>,
    /// How long to keep artifacts.
    #[serde(default)]
    pub retention: Option<RetentionSpec>,
    /// Free-form labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Human description.
    #[serde(default)]
    pub description: Option<String>,
}

/// When a configuration runs: a cron expression or a preset, in a time zone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleSpec {
    /// 5 fields, or 6 with seconds first.
    #[serde(default)]
    pub cron: Option<String>,
    /// A named recurrence instead of cron.
    #[serde(default)]
    pub preset: Option<PresetSpec>,
    /// IANA name; UTC when left out.
    #[serde(default)]
    pub timezone: Option<String>,
    /// skip, once (default) or all.
    #[serde(default)]
    pub catch_up: Option<CatchUp>,
    /// How far back catch-up looks, such as `6h`.
    #[serde(default, deserialize_with = "duration")]
    pub catch_up_window: Option<Duration>,
    /// At most this many catch-up runs under `all`.
    #[serde(default)]
    pub catch_up_cap: Option<u32>,
    /// skip (default), queue or allow.
    #[serde(default)]
    pub overlap: Option<Overlap>,
    /// Random delay added to each fire, such as `5m`.
    #[serde(default, deserialize_with = "duration")]
    pub jitter: Option<Duration>,
    /// How late a run may start before it is LATE, such as `30m`.
    #[serde(default, deserialize_with = "duration")]
    pub grace: Option<Duration>,
}

/// A named recurrence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PresetSpec {
    /// hourly, daily, weekly or monthly.
    pub frequency: FrequencyWord,
    /// Local time as HH:MM (only the minutes count for hourly).
    #[serde(default)]
    pub time: Option<String>,
    /// For weekly.
    #[serde(default)]
    pub day_of_week: Option<Day>,
    /// For monthly, 1 to 31.
    #[serde(default)]
    pub day_of_month: Option<u32>,
}

/// What a backup reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceSpec {
    /// The database; required for DATABASE.
    #[serde(default)]
    pub database: Option<DatabaseSpec>,
    /// Absolute paths of file trees.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Only files matching these globs.
    #[serde(default)]
    pub include: Vec<String>,
    /// Files matching these globs are left out.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// A database to dump; the password stays outside the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatabaseSpec {
    /// postgres, mysql or sqlite.
    pub engine: Engine,
    /// Connection URL without a password.
    pub url: String,
    /// Environment variable of the executor holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File readable by the executor holding the password.
    #[serde(default)]
    pub password_file: Option<String>,
}

/// Retention rules; an artifact is kept if any rule keeps it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetentionSpec {
    /// Keep everything younger than this many days.
    #[serde(default)]
    pub keep_within_days: i32,
    /// Keep the newest N.
    #[serde(default)]
    pub keep_last: i32,
    /// Keep one per day for N days.
    #[serde(default)]
    pub keep_daily: i32,
    /// Keep one per week for N weeks.
    #[serde(default)]
    pub keep_weekly: i32,
    /// Keep one per month for N months.
    #[serde(default)]
    pub keep_monthly: i32,
}

/// A human duration such as `90s`, `15m` or `1h 30m`.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map(Some).map_err(|e| {
        D::Error::custom(format!(
            "invalid duration {text:?} ({e}); write it like 90s, 15m or 1h 30m"
        ))
    })
}
