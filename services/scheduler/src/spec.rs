//! Schedule definitions: everything the scheduler needs to fire one schedule,
//! derived from a configuration (its own backup schedule) or from the
//! settings (the retention prune and verify drill system schedules).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use vigil_proto::catalog::v1::{
    self as pb, BackupConfiguration, CatchUpPolicy, JobParams, OverlapPolicy, job_params,
};
use vigil_schedule::{CatchUpMode, CatchUpWindow, Schedule};

use crate::key::{Role, ScheduleKey};
use crate::settings::SchedulerSettings;

/// What to do with due times that passed while nothing could fire (S5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// Record them as missed; only an on-time run fires.
    Skip,
    /// One run for the latest due time inside the window.
    Once,
    /// Every due time inside the window, up to the cap.
    All,
}

/// What to do when a run is due while another run of the schedule is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// Record the due run as skipped while a run is queued or running.
    Skip,
    /// Queue behind a running run, but keep at most one waiting.
    Queue,
    /// Always queue.
    Allow,
}

/// One schedule, ready to fire.
#[derive(Debug, Clone)]
pub struct ScheduleDef {
    /// The parsed key.
    pub key: ScheduleKey,
    /// The key as text.
    pub name: String,
    /// Etag of the configuration the definition was derived from.
    pub etag: String,
    /// When that configuration version was committed: an edit takes effect
    /// from the first due time after it (S7).
    pub edit_time: DateTime<Utc>,
    /// The recurrence in its zone.
    pub schedule: Schedule,
    /// Catch-up policy.
    pub catch_up: CatchUp,
    /// How far back catch-up looks (never shorter than the grace).
    pub window: Duration,
    /// Most catch-up runs at once under [`CatchUp::All`].
    pub cap: usize,
    /// Overlap policy.
    pub overlap: Overlap,
    /// Largest random delay added to a fire.
    pub jitter: Duration,
    /// How late a run may start before it is late, jitter excluded.
    pub grace: Duration,
    /// Typical time between due times (the largest gap).
    pub expected_interval: Duration,
    /// Capabilities an executor needs to run the schedule's jobs.
    pub required_capabilities: Vec<String>,
    /// Parameters of the jobs it enqueues.
    pub params: Option<Box<JobParams>>,
}

impl ScheduleDef {
    /// Grace plus jitter: how long after a due time a run may start and
    /// still be on time.
    pub fn tolerance(&self) -> Duration {
        self.grace + self.jitter
    }

    /// Human description, such as `daily at 02:00 Europe/Berlin`.
    pub fn describe(&self) -> String {
        let base = self.schedule.describe();
        match self.key.role {
            Role::Backup => base,
            Role::Prune => format!("{base}, retention prune of {}", self.key.configuration),
            Role::Verify => format!("{base}, verify drill of {}", self.key.configuration),
        }
    }
}

/// Why a schedule that should exist cannot be armed.
#[derive(Debug, Clone)]
pub struct Unarmable {
    /// The schedule key.
    pub key: ScheduleKey,
    /// Etag of the configuration.
    pub etag: String,
    /// The reason, naming the field.
    pub reason: String,
}

/// Whether a configuration has a retention policy worth pruning by.
pub fn has_retention(config: &BackupConfiguration) -> bool {
    config.retention.as_ref().is_some_and(|r| {
        r.keep_within_days > 0
            || r.keep_last > 0
            || r.keep_daily > 0
            || r.keep_weekly > 0
            || r.keep_monthly > 0
    })
}

/// A schedule definition, or why it cannot be armed. Definitions are
/// shared, never copied: they are derived once per configuration version.
pub type Def = Result<Arc<ScheduleDef>, Unarmable>;

/// The schedules an enabled configuration should have armed: its backup
/// schedule (if it has one) and, with a retention policy, its prune and
/// verify system schedules. A disabled configuration has none.
pub fn defs_for(config: &BackupConfiguration, settings: &SchedulerSettings) -> Vec<Def> {
    // Each definition goes into its `Arc` as it is built: collecting a vector
    // of definitions into a vector of `Arc`s would reuse the first vector's
    // allocation, and keep about 2 KB per configuration for as long as the
    // definitions live.
    let mut out: Vec<Def> = Vec::new();
    if !config.enabled() {
        return Vec::new();
    }
    let mut roles = vec![Role::Backup];
    if settings.system_schedules && has_retention(config) {
        roles.extend([Role::Prune, Role::Verify]);
    }
    for role in roles {
        if let Some(spec) = spec_of(config, role, settings) {
            out.push(build(config, role, &spec, settings).map(Arc::new));
        }
    }
    out.shrink_to_fit();
    out
}

/// The schedule message of `config`'s schedule of `role`, as views show it:
/// the configuration's own for its backups (`None` without one), the one the
/// settings give for the system schedules. Definitions do not keep it: a
/// fleet holds one definition per schedule, and views are rare.
pub(crate) fn spec_of(
    config: &BackupConfiguration,
    role: Role,
    settings: &SchedulerSettings,
) -> Option<pb::Schedule> {
    match role {
        Role::Backup => config.schedule.clone(),
        Role::Prune | Role::Verify => {
            let zone = config
                .schedule
                .as_ref()
                .map(|s| s.timezone.clone())
                .unwrap_or_default();
            Some(system_spec(settings, role, zone))
        }
    }
}

/// The schedule message of a system schedule: the prune daily at
/// `prune_time`, the verify drill weekly on `verify_weekday` at
/// `verify_time`, both in the configuration's zone.
fn system_spec(settings: &SchedulerSettings, role: Role, timezone: String) -> pb::Schedule {
    let cron = match role {
        Role::Prune => {
            let at = settings.prune_time;
            format!("{} {} * * *", at.minute(), at.hour())
        }
        Role::Verify | Role::Backup => {
            let at = settings.verify_time;
            let day = settings.verify_weekday.num_days_from_sunday();
            format!("{} {} * * {day}", at.minute(), at.hour())
        }
    };
    pb::Schedule {
        spec: Some(pb::schedule::Spec::Cron(cron)),
        timezone,
        catch_up: CatchUpPolicy::Once as i32,
        overlap: OverlapPolicy::Skip as i32,
        ..Default::default()
    }
}

fn build(
    config: &BackupConfiguration,
    role: Role,
    spec: &pb::Schedule,
    settings: &SchedulerSettings,
) -> Result<ScheduleDef, Unarmable> {
    let key = ScheduleKey::new(config.name.clone(), role);
    let unarmable = |reason: String| Unarmable {
        key: key.clone(),
        etag: config.etag.clone(),
        reason,
    };
    let schedule = vigil_schedule::schedule_from_proto(spec)
        .map_err(|e| unarmable(format!("configuration.{e}")))?;
    let expected_interval = schedule.expected_interval();
    // Catch-up mode, window, cap and grace mean what vigil-schedule says.
    let policy = vigil_schedule::catch_up_policy_from_proto(spec)
        .map_err(|e| unarmable(format!("configuration.{e}")))?;
    let grace = policy.grace_for(&schedule);
    let window = match policy.window {
        CatchUpWindow::Interval => schedule.longest_gap(),
        CatchUpWindow::Fixed(w) => w,
    }
    .max(grace);
    let catch_up = match policy.mode {
        CatchUpMode::Skip => CatchUp::Skip,
        CatchUpMode::Once => CatchUp::Once,
        CatchUpMode::All => CatchUp::All,
    };
    let overlap = match spec.overlap() {
        OverlapPolicy::Queue => Overlap::Queue,
        OverlapPolicy::Allow => Overlap::Allow,
        OverlapPolicy::Skip | OverlapPolicy::Unspecified => Overlap::Skip,
    };
    let cap = policy.max_runs as usize;
    let jitter = positive(spec.jitter.as_ref()).unwrap_or(Duration::ZERO);
    let edit_time = config
        .update_time
        .as_ref()
        .or(config.create_time.as_ref())
        .map(|t| micros_to_time(vigil_proto::timestamp_to_micros(t)))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let job_kind = role.job_kind();
    let params = match role {
        Role::Backup => None,
        Role::Prune => Some(Box::new(JobParams {
            params: Some(job_params::Params::Prune(pb::PruneParams {
                dry_run: false,
            })),
        })),
        Role::Verify => Some(Box::new(JobParams {
            params: Some(job_params::Params::Verify(pb::VerifyParams {
                artifact: String::new(),
                sample_fraction: settings.verify_sample_fraction,
                drill: settings.verify_drill,
            })),
        })),
    };
    Ok(ScheduleDef {
        name: key.to_string(),
        key,
        etag: config.etag.clone(),
        edit_time,
        schedule,
        catch_up,
        window,
        cap,
        overlap,
        jitter,
        grace,
        expected_interval,
        required_capabilities: vigil_proto::capabilities::required_for(job_kind, Some(config)),
        params,
    })
}

fn positive(d: Option<&prost_types::Duration>) -> Option<Duration> {
    d.and_then(vigil_proto::duration_from_proto)
        .filter(|d| !d.is_zero())
}

/// Microseconds since the epoch as an instant (saturating at the far ends).
pub fn micros_to_time(micros: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or(if micros < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// A protobuf timestamp as an instant.
pub fn ts_to_time(ts: &prost_types::Timestamp) -> DateTime<Utc> {
    micros_to_time(vigil_proto::timestamp_to_micros(ts))
}

/// An instant as a protobuf timestamp.
pub fn time_to_ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    vigil_proto::timestamp_from_micros(t.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use vigil_proto::catalog::v1::{BackupKind, Retention};

    use super::*;

    fn config(cron: &str, retention: bool) -> BackupConfiguration {
        BackupConfiguration {
            name: "nightly".into(),
            kind: BackupKind::Full as i32,
            enabled: Some(true),
            schedule: Some(pb::Schedule {
                spec: Some(pb::schedule::Spec::Cron(cron.into())),
                timezone: "Europe/Berlin".into(),
                ..Default::default()
            }),
            retention: retention.then(|| Retention {
                keep_daily: 7,
                ..Default::default()
            }),
            etag: "e1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn enabled_configuration_with_retention_gets_three_schedules() {
        let defs: Vec<_> = defs_for(&config("0 2 * * *", true), &SchedulerSettings::default())
            .into_iter()
            .map(|d| d.unwrap())
            .collect();
        let names: Vec<_> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["nightly", "nightly#prune", "nightly#verify"]);
        assert_eq!(defs[0].catch_up, CatchUp::Once);
        assert_eq!(defs[0].overlap, Overlap::Skip);
        assert_eq!(
            defs[0].required_capabilities,
            vec!["backup:full".to_owned()]
        );
        assert_eq!(defs[1].required_capabilities, vec!["prune".to_owned()]);
        assert_eq!(defs[1].schedule.describe(), "daily at 03:30 Europe/Berlin");
        assert_eq!(defs[2].key.role, Role::Verify);
        assert_eq!(defs[0].grace, Duration::from_secs(3600));
        assert!(defs[0].window >= defs[0].expected_interval);
    }

    #[test]
    fn disabled_or_retentionless_configurations() {
        let mut c = config("0 2 * * *", false);
        assert_eq!(defs_for(&c, &SchedulerSettings::default()).len(), 1);
        c.enabled = Some(false);
        assert!(defs_for(&c, &SchedulerSettings::default()).is_empty());
    }

    #[test]
    fn a_bad_stored_schedule_is_unarmable_with_the_field() {
        let c = config("0 2 * *", false);
        let err = defs_for(&c, &SchedulerSettings::default())
            .remove(0)
            .unwrap_err();
        assert!(
            err.reason.starts_with("configuration.schedule.cron"),
            "{}",
            err.reason
        );
    }
}
