//! Schedule keys: a configuration name, plus `#prune` or `#verify` for the
//! system schedules of that configuration.

use std::fmt;

use vigil_proto::catalog::v1::{BackupJob, JobKind, JobTrigger, ScheduleRole};

use crate::error::{Error, Result};

/// Suffix of a retention prune schedule.
pub const PRUNE_SUFFIX: &str = "#prune";
/// Suffix of a verify drill schedule.
pub const VERIFY_SUFFIX: &str = "#verify";

/// What a schedule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The configuration's backups, on its own schedule.
    Backup,
    /// The configuration's retention prune, a system schedule.
    Prune,
    /// The configuration's verify drill, a system schedule.
    Verify,
}

impl Role {
    /// Every role, for the keys a configuration may have.
    pub(crate) const ALL: [Role; 3] = [Role::Backup, Role::Prune, Role::Verify];

    /// The job kind a due run of this role enqueues.
    pub fn job_kind(self) -> JobKind {
        match self {
            Role::Backup => JobKind::Backup,
            Role::Prune => JobKind::Prune,
            Role::Verify => JobKind::Verify,
        }
    }

    /// The trigger of a job enqueued at a due time of this role.
    pub fn trigger(self) -> JobTrigger {
        match self {
            Role::Backup => JobTrigger::Scheduled,
            Role::Prune | Role::Verify => JobTrigger::System,
        }
    }

    /// The role as stored in a schedule state.
    pub fn to_proto(self) -> ScheduleRole {
        match self {
            Role::Backup => ScheduleRole::Backup,
            Role::Prune => ScheduleRole::Prune,
            Role::Verify => ScheduleRole::Verify,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Role::Backup => "",
            Role::Prune => PRUNE_SUFFIX,
            Role::Verify => VERIFY_SUFFIX,
        }
    }
}

/// A parsed schedule key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScheduleKey {
    /// The configuration the schedule belongs to.
    pub configuration: String,
    /// What it runs.
    pub role: Role,
}

impl ScheduleKey {
    /// The key of `role` for `configuration`.
    pub fn new(configuration: impl Into<String>, role: Role) -> Self {
        Self {
            configuration: configuration.into(),
            role,
        }
    }

    /// Parses `name`, `name#prune` or `name#verify`; `field` names the request
    /// field in the error.
    pub fn parse(key: &str, field: &str) -> Result<Self> {
        let key = key.trim();
        if key.is_empty() {
            return Err(Error::invalid(field, "must not be empty"));
        }
        let (configuration, role) = if let Some(c) = key.strip_suffix(PRUNE_SUFFIX) {
            (c, Role::Prune)
        } else if let Some(c) = key.strip_suffix(VERIFY_SUFFIX) {
            (c, Role::Verify)
        } else {
            (key, Role::Backup)
        };
        if configuration.is_empty() || configuration.contains('#') {
            return Err(Error::invalid(
                field,
                format!(
                    "{key:?} is not a schedule key; use a configuration name, or name#prune, name#verify"
                ),
            ));
        }
        if configuration.len() > 63 {
            return Err(Error::invalid(
                field,
                "configuration names have at most 63 characters",
            ));
        }
        Ok(Self::new(configuration, role))
    }

    /// The key of the schedule that enqueued `job`, if a schedule did.
    pub fn of_job(job: &BackupJob) -> Option<Self> {
        if job.due_time.is_none() || job.configuration.is_empty() {
            return None;
        }
        let role = match (job.kind(), job.trigger()) {
            (JobKind::Backup, JobTrigger::Scheduled) => Role::Backup,
            (JobKind::Prune, JobTrigger::System | JobTrigger::Scheduled) => Role::Prune,
            (JobKind::Verify, JobTrigger::System | JobTrigger::Scheduled) => Role::Verify,
            _ => return None,
        };
        Some(Self::new(job.configuration.clone(), role))
    }
}

impl fmt::Display for ScheduleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.configuration, self.role.suffix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for (text, role) in [
            ("nightly", Role::Backup),
            ("nightly#prune", Role::Prune),
            ("nightly#verify", Role::Verify),
        ] {
            let key = ScheduleKey::parse(text, "schedule").unwrap();
            assert_eq!((key.configuration.as_str(), key.role), ("nightly", role));
            assert_eq!(key.to_string(), text);
        }
    }

    #[test]
    fn bad_keys_name_the_field() {
        for text in ["", "#prune", "a#b", "x#verify#prune"] {
            match ScheduleKey::parse(text, "schedule") {
                Err(Error::InvalidArgument { field, .. }) => {
                    assert_eq!(field, "schedule", "{text}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
