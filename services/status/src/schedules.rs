//! Per-configuration schedule facts and the report's own judgement of each
//! schedule's health.

use chrono::{DateTime, Duration, Utc};
use vigil_proto::catalog::v1::{
    BackupConfiguration, BackupJob, JobState, JobTrigger, Purpose, ScheduleHealth, ScheduleState,
};
use vigil_proto::status::v1::ScheduleHealthEntry;
use vigil_schedule::{Schedule, schedule_from_proto};

use crate::time::{chrono_of, human, instant, stamp};

/// What the report knows about one configuration's schedule.
#[derive(Debug)]
pub(crate) struct Facts<'a> {
    /// The configuration.
    pub config: &'a BackupConfiguration,
    /// Its schedule, when it has a valid one.
    pub schedule: Option<Schedule>,
    /// The most common time between due times.
    pub interval: Option<Duration>,
    /// How late a run may start.
    pub grace: Duration,
}

impl<'a> Facts<'a> {
    /// Facts of one configuration.
    pub(crate) fn of(config: &'a BackupConfiguration) -> Self {
        let schedule = config
            .schedule
            .as_ref()
            .and_then(|s| schedule_from_proto(s).ok());
        let interval = schedule.as_ref().map(|s| chrono_of(s.expected_interval()));
        let configured_grace = config
            .schedule
            .as_ref()
            .and_then(|s| s.grace.as_ref())
            .and_then(vigil_proto::duration_from_proto)
            .filter(|d| !d.is_zero());
        let grace = match (configured_grace, &schedule) {
            (Some(g), _) => chrono_of(g),
            (None, Some(s)) => chrono_of(s.grace_period()),
            (None, None) => Duration::minutes(1),
        };
        Self {
            config,
            schedule,
            interval,
            grace,
        }
    }

    /// Enabled with a schedule.
    pub(crate) fn scheduled_active(&self) -> bool {
        self.config.enabled() && self.config.schedule.is_some()
    }

    /// Protects real data: production, or purpose left unset.
    pub(crate) fn production(&self) -> bool {
        matches!(
            self.config.purpose(),
            Purpose::Production | Purpose::Unspecified
        )
    }

    /// Whether a run of this schedule has been due, with its grace, by
    /// `now`: its first due time after the configuration was created plus
    /// grace has passed. Before that, no backup is expected of it.
    pub(crate) fn has_been_due(&self, now: DateTime<Utc>) -> bool {
        let since = instant(&self.config.create_time).unwrap_or(now);
        self.next_after(since - Duration::seconds(1))
            .is_some_and(|due| due + self.grace <= now)
    }

    /// The first due time after `at`.
    fn next_after(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.as_ref()?.next_after(at)
    }

    /// The most recent due time at or before `at`.
    pub(crate) fn previous_fire(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.as_ref()?.previous_fire(at)
    }

    /// Human form of the schedule.
    pub(crate) fn describe(&self) -> String {
        match &self.schedule {
            Some(s) => s.describe(),
            None if self.config.schedule.is_some() => "invalid schedule".to_owned(),
            None => "on demand".to_owned(),
        }
    }

    /// HOURLY, DAILY, WEEKLY, MONTHLY from the expected (most common) gap,
    /// with slack for short months; "EVERY 10 SECONDS" below an hour.
    pub(crate) fn frequency(&self) -> String {
        let Some(interval) = self.interval else {
            return "ON_DEMAND".to_owned();
        };
        if interval < Duration::minutes(55) {
            return format!("EVERY {}", human(interval).to_uppercase());
        }
        let word = if interval <= Duration::minutes(90) {
            "HOURLY"
        } else if interval <= Duration::hours(36) {
            "DAILY"
        } else if interval <= Duration::days(8) {
            "WEEKLY"
        } else if interval <= Duration::days(32) {
            "MONTHLY"
        } else {
            "CUSTOM"
        };
        word.to_owned()
    }
}

/// Judges the health of the backup schedule of an enabled, scheduled configuration.
pub(crate) fn judge(
    facts: &Facts<'_>,
    state: Option<&ScheduleState>,
    jobs: &[BackupJob],
    now: DateTime<Utc>,
) -> ScheduleHealthEntry {
    let config = facts.config;
    let next_due = state.and_then(|s| instant(&s.next_due_time));
    let last_fire = state.and_then(|s| instant(&s.last_fire_time));
    let never_fired = state.is_none_or(|s| s.fired_count == 0 && last_fire.is_none());
    // Armed since the state says, or since the configuration was created.
    let since = state
        .and_then(|s| instant(&s.armed_time))
        .or_else(|| instant(&config.create_time))
        .unwrap_or(now);
    let first_due = facts.next_after(since - Duration::seconds(1));
    let stuck = stuck_run(facts, jobs, now);

    let (health, reason) = if state.is_some_and(|s| s.paused) {
        (ScheduleHealth::Paused, "paused".to_owned())
    } else if facts.schedule.is_none() {
        (
            ScheduleHealth::Unarmed,
            "the schedule does not parse".to_owned(),
        )
    } else if let Some(job) = stuck {
        let due = instant(&job.due_time)
            .map(|d| d.to_rfc3339())
            .unwrap_or_default();
        (
            ScheduleHealth::Down,
            format!("the run due {due} was never picked up by an executor"),
        )
    } else if never_fired && first_due.is_some_and(|d| d + facts.grace < now) {
        let due = first_due.map(|d| d.to_rfc3339()).unwrap_or_default();
        (
            ScheduleHealth::Down,
            format!("never executed: first due {due}"),
        )
    } else if next_due.is_none() {
        let reason = "enabled but has no persisted next due time".to_owned();
        if now - since > Duration::minutes(1) {
            (ScheduleHealth::Unarmed, reason)
        } else {
            (ScheduleHealth::Armed, "arming".to_owned())
        }
    } else if let Some(due) = next_due.filter(|d| *d + facts.grace < now) {
        (
            ScheduleHealth::Down,
            format!("due {} ago and not fired", human(now - due)),
        )
    } else {
        match state.map(|s| s.health()) {
            Some(h @ (ScheduleHealth::Late | ScheduleHealth::Missed | ScheduleHealth::Down)) => (
                h,
                state.map(|s| s.health_reason.clone()).unwrap_or_default(),
            ),
            _ if never_fired => (ScheduleHealth::Armed, "armed, not yet due".to_owned()),
            _ => (ScheduleHealth::Armed, "fires on time".to_owned()),
        }
    };

    ScheduleHealthEntry {
        schedule: state
            .map(|s| s.schedule.clone())
            .unwrap_or_else(|| config.name.clone()),
        configuration: config.name.clone(),
        description: facts.describe(),
        health: health as i32,
        armed: next_due.is_some(),
        last_fire_time: last_fire.map(stamp),
        next_fire_time: next_due.map(stamp),
        never_fired,
        reason,
        // Filled from the catalog's missed ranges by the report.
        missed: Vec::new(),
        missed_in_window: 0,
    }
}

/// A scheduled run of the configuration still queued past its due time
/// plus grace: no executor picked it up.
fn stuck_run<'a>(
    facts: &Facts<'_>,
    jobs: &'a [BackupJob],
    now: DateTime<Utc>,
) -> Option<&'a BackupJob> {
    jobs.iter().find(|j| {
        j.configuration == facts.config.name
            && j.trigger() == JobTrigger::Scheduled
            && j.state() == JobState::Queued
            && instant(&j.due_time).is_some_and(|due| due + facts.grace < now)
    })
}

/// Whether a health needs attention.
pub(crate) fn broken(health: ScheduleHealth) -> bool {
    matches!(
        health,
        ScheduleHealth::Down | ScheduleHealth::Unarmed | ScheduleHealth::Missed
    )
}
