//! Validation errors that name the offending field and say why.
//!
//! Every error carries a dotted field path (see [`field`]) so that the catalog
//! can answer `INVALID_ARGUMENT` with the field and the reason, and the CLI can
//! print the same text.

use std::fmt;

/// Dotted field paths used in [`ScheduleError::field`].
///
/// They follow the shape of the `schedule:` block of a configuration file.
pub mod field {
    /// The schedule block as a whole (for example both `cron` and `preset` given).
    pub const SCHEDULE: &str = "schedule";
    /// The cron expression.
    pub const CRON: &str = "schedule.cron";
    /// The IANA time zone name.
    pub const TIMEZONE: &str = "schedule.timezone";
    /// The preset as a whole.
    pub const PRESET: &str = "schedule.preset";
    /// The minute of an hourly preset.
    pub const PRESET_MINUTE: &str = "schedule.preset.minute";
    /// The time of day (`HH:MM`) of a daily, weekly or monthly preset.
    pub const PRESET_AT: &str = "schedule.preset.at";
    /// The weekday of a weekly preset.
    pub const PRESET_ON: &str = "schedule.preset.on";
    /// The day of month of a monthly preset.
    pub const PRESET_DAY: &str = "schedule.preset.day";
    /// The catch-up window.
    pub const CATCH_UP_WINDOW: &str = "schedule.catch_up.window";
    /// The catch-up cap (maximum runs enqueued by one catch-up).
    pub const CATCH_UP_MAX_RUNS: &str = "schedule.catch_up.max_runs";
    /// The catch-up mode (`skip`, `once` or `all`).
    pub const CATCH_UP: &str = "schedule.catch_up";
}

/// What kind of problem a [`ScheduleError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A required value is empty or absent.
    Missing,
    /// The value does not have the expected syntax.
    Malformed,
    /// A number is outside its allowed range.
    OutOfRange,
    /// Two settings exclude each other.
    Conflict,
    /// A time zone was given as a fixed UTC offset instead of an IANA name.
    FixedOffset,
    /// The time zone name is not in the IANA database.
    UnknownTimezone,
    /// The schedule is well formed but no date ever matches it.
    NeverFires,
}

/// A schedule that cannot be accepted, with the field and a human reason.
///
/// Displays as `field: reason`, for example
/// `schedule.timezone: "+02:00" is a fixed UTC offset ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScheduleError {
    field: &'static str,
    kind: ErrorKind,
    reason: String,
}

impl ScheduleError {
    /// Builds an error for `field` (one of the [`field`] constants).
    pub fn new(field: &'static str, kind: ErrorKind, reason: impl Into<String>) -> Self {
        Self {
            field,
            kind,
            reason: reason.into(),
        }
    }

    /// The dotted path of the offending field, for example `schedule.timezone`.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The kind of problem.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human reason, lowercase and without the field name.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Result alias for schedule validation.
pub type Result<T, E = ScheduleError> = std::result::Result<T, E>;
