//! Short, stable names of proto enum values: `BACKUP_KIND_FULL` is `FULL`,
//! `VERDICT_PARTIALLY_WORKING` is `PARTIALLY_WORKING`.
//!
//! Proto enum values carry their type's name in UPPER_SNAKE as a prefix (a
//! buf lint rule); the short name is the value without it. Tables and JSON
//! both use short names.

use vigil_proto::catalog::v1::{
    AlertDelivery, AlertKind, AlertSeverity, AlertState, ApplyAction, ArtifactFormat,
    ArtifactState, BackupKind, CatchUpPolicy, ComponentKind, DatabaseEngine, Frequency, JobKind,
    JobState, JobTrigger, OutcomeKind, OverlapPolicy, Purpose, ScheduleHealth, ScheduleRole,
    Weekday,
};
use vigil_proto::executor::v1::SnapshotEntryType;
use vigil_proto::status::v1::{RiskLevel, Verdict};

/// `BackupKind` to `BACKUP_KIND`.
pub(crate) fn upper_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    let mut prev_lower = false;
    for c in camel.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The value name without the enum's prefix; unchanged if it lacks the prefix.
pub(crate) fn strip_enum_prefix<'a>(enum_name: &str, value_name: &'a str) -> &'a str {
    let prefix = upper_snake(enum_name);
    value_name
        .strip_prefix(prefix.as_str())
        .and_then(|rest| rest.strip_prefix('_'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(value_name)
}

/// An enum with a short display name.
pub(crate) trait Short {
    /// The short name, such as `FULL` or `COMPLETED`.
    fn short(&self) -> &'static str;
}

macro_rules! short_names {
    ($($ty:ident),* $(,)?) => {
        $(impl Short for $ty {
            fn short(&self) -> &'static str {
                strip_enum_prefix(stringify!($ty), self.as_str_name())
            }
        })*
    };
}

short_names!(
    AlertDelivery,
    AlertKind,
    AlertSeverity,
    AlertState,
    ApplyAction,
    ArtifactFormat,
    ArtifactState,
    BackupKind,
    CatchUpPolicy,
    ComponentKind,
    DatabaseEngine,
    Frequency,
    JobKind,
    JobState,
    JobTrigger,
    OutcomeKind,
    OverlapPolicy,
    Purpose,
    ScheduleHealth,
    ScheduleRole,
    Weekday,
    RiskLevel,
    Verdict,
    SnapshotEntryType,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_the_enum_name() {
        assert_eq!(upper_snake("CatchUpPolicy"), "CATCH_UP_POLICY");
        assert_eq!(BackupKind::Full.short(), "FULL");
        assert_eq!(CatchUpPolicy::Once.short(), "ONCE");
        assert_eq!(JobState::Completed.short(), "COMPLETED");
        assert_eq!(Verdict::PartiallyWorking.short(), "PARTIALLY_WORKING");
        assert_eq!(RiskLevel::Medium.short(), "MEDIUM");
        assert_eq!(ScheduleHealth::Down.short(), "DOWN");
        assert_eq!(Purpose::Unspecified.short(), "UNSPECIFIED");
    }

    #[test]
    fn values_without_the_prefix_are_kept() {
        assert_eq!(strip_enum_prefix("Verdict", "HEALTHY"), "HEALTHY");
        assert_eq!(strip_enum_prefix("Verdict", "VERDICT_"), "VERDICT_");
    }
}
