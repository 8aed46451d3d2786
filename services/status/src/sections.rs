//! The descriptive sections of the report.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use vigil_proto::catalog::v1::{
    ArtifactState, BackupJob, ComponentKind, JobKind, JobState, JobTrigger, Purpose, Retention,
};
use vigil_proto::status::v1::{
    AdherenceEntry, BackupFreshness, ConfigurationEntry, ConfigurationSummary, JobEntry,
    JobHistory, Liveness, OperationCounts, RetentionEntry,
};

use crate::Inputs;
use crate::schedules::Facts;
use crate::time::{instant, span, stamp};

/// How many recent jobs the history lists.
const RECENT_JOBS: usize = 20;

/// Configurations by category.
pub(crate) fn configurations(facts: &[Facts<'_>]) -> ConfigurationSummary {
    let entry = |f: &Facts<'_>| ConfigurationEntry {
        name: f.config.name.clone(),
        kind: f.config.kind,
        purpose: f.config.purpose,
        enabled: f.config.enabled,
        frequency: f.frequency(),
        schedule: f.describe(),
    };
    let mut summary = ConfigurationSummary {
        total: facts.len() as u32,
        ..Default::default()
    };
    for f in facts {
        if matches!(f.config.purpose(), Purpose::Temporary | Purpose::Test) {
            summary.leftovers.push(entry(f));
        }
        if !f.config.enabled {
            summary.inactive.push(entry(f));
        } else if f.config.schedule.is_some() {
            summary.scheduled_active.push(entry(f));
        } else {
            summary.on_demand.push(entry(f));
        }
    }
    summary
}

/// Job history over the window. The counts and the success rate are of
/// backups (and uploads, which also leave a restorable artifact); restores,
/// verifies and prunes are counted apart, per kind, so that a failed restore
/// is never a failed backup.
pub(crate) fn history(inputs: &Inputs) -> JobHistory {
    let mut h = JobHistory {
        window: Some(span(inputs.window)),
        ..Default::default()
    };
    for job in &inputs.jobs {
        if !produces_backup(job.kind()) {
            count_operation(&mut h.operations, job);
            continue;
        }
        h.total += 1;
        match job.state() {
            JobState::Completed => h.completed += 1,
            JobState::Failed => h.failed += 1,
            JobState::Cancelled => h.cancelled += 1,
            JobState::Queued | JobState::Running | JobState::Unspecified => h.active += 1,
        }
        match job.trigger() {
            JobTrigger::Scheduled | JobTrigger::System => h.scheduled += 1,
            JobTrigger::Manual | JobTrigger::Upload => h.manual += 1,
            JobTrigger::Unspecified => {}
        }
    }
    let finished = h.completed + h.failed;
    h.success_rate = if finished == 0 {
        0.0
    } else {
        f64::from(h.completed) / f64::from(finished)
    };
    h.last_success_time = inputs
        .jobs
        .iter()
        .filter(|j| j.state() == JobState::Completed && produces_backup(j.kind()))
        .filter_map(|j| instant(&j.end_time))
        .max()
        .map(stamp);
    h.recent = inputs
        .jobs
        .iter()
        .take(RECENT_JOBS)
        .map(|j| JobEntry {
            name: j.name.clone(),
            configuration: j.configuration.clone(),
            kind: j.kind,
            trigger: j.trigger,
            state: j.state,
            start_time: j.start_time.or(j.create_time),
            note: if !j.error.is_empty() {
                j.error.clone()
            } else {
                match j.trigger() {
                    JobTrigger::Manual => "manual".to_owned(),
                    JobTrigger::Upload => "uploaded".to_owned(),
                    JobTrigger::Scheduled => "scheduled".to_owned(),
                    JobTrigger::System => "system".to_owned(),
                    JobTrigger::Unspecified => String::new(),
                }
            },
        })
        .collect();
    h
}

/// Adds a restore, verify or prune job to its kind's counts.
fn count_operation(operations: &mut Vec<OperationCounts>, job: &BackupJob) {
    let i = match operations.iter().position(|o| o.kind == job.kind) {
        Some(i) => i,
        None => {
            operations.push(OperationCounts {
                kind: job.kind,
                ..Default::default()
            });
            operations.len() - 1
        }
    };
    let counts = &mut operations[i];
    counts.total += 1;
    match job.state() {
        JobState::Completed => counts.completed += 1,
        JobState::Failed => {
            counts.failed += 1;
            if counts.last_failed_job.is_empty() {
                counts.last_failed_job = job.name.clone();
            }
        }
        JobState::Cancelled => counts.cancelled += 1,
        JobState::Queued | JobState::Running | JobState::Unspecified => counts.active += 1,
    }
}

/// Whether a job of this kind leaves a restorable backup behind.
pub(crate) fn produces_backup(kind: JobKind) -> bool {
    matches!(kind, JobKind::Backup | JobKind::Upload)
}

/// Per configuration: last success against the expected interval.
pub(crate) fn freshness(inputs: &Inputs, facts: &[Facts<'_>]) -> Vec<BackupFreshness> {
    facts
        .iter()
        .filter(|f| f.config.enabled)
        .map(|f| {
            let last = inputs
                .last_success
                .get(&f.config.name)
                .and_then(|j| instant(&j.end_time));
            let age = last.map(|t| inputs.now - t);
            let gap = match (age, f.interval) {
                (Some(age), Some(interval)) => (age - interval).max(Duration::zero()),
                _ => Duration::zero(),
            };
            let state = match (last, f.interval) {
                (_, None) => "ON_DEMAND",
                (None, Some(_)) if !f.has_been_due(inputs.now) => "NOT_YET_DUE",
                (None, Some(_)) => "NEVER",
                (Some(_), Some(interval)) if age.unwrap_or_default() > interval + f.grace => {
                    "STALE"
                }
                _ => "FRESH",
            };
            BackupFreshness {
                configuration: f.config.name.clone(),
                last_success_time: last.map(stamp),
                age: age.map(span),
                expected_interval: f.interval.map(span),
                gap: Some(span(gap)),
                state: state.to_owned(),
            }
        })
        .collect()
}

/// Actual start times of scheduled backups against their due times. Manual
/// runs have no due time and say nothing about the schedule: they are left
/// out (the history counts them).
pub(crate) fn adherence(inputs: &Inputs, facts: &[Facts<'_>]) -> Vec<AdherenceEntry> {
    let mut entries = Vec::new();
    let scheduled_backups = inputs
        .jobs
        .iter()
        .filter(|j| j.kind() == JobKind::Backup && j.trigger() == JobTrigger::Scheduled);
    for job in scheduled_backups {
        let Some(f) = facts.iter().find(|f| f.config.name == job.configuration) else {
            continue;
        };
        if f.schedule.is_none() {
            continue;
        }
        let Some(start) = instant(&job.start_time) else {
            continue;
        };
        let due = instant(&job.due_time).or_else(|| f.previous_fire(start));
        let delay = due.map(|d| start - d);
        entries.push(AdherenceEntry {
            configuration: job.configuration.clone(),
            job: job.name.clone(),
            due_time: due.map(stamp),
            start_time: Some(stamp(start)),
            delay: delay.map(span),
            trigger: job.trigger,
            on_schedule: delay.is_some_and(|d| d >= Duration::zero() && d <= f.grace),
        });
    }
    entries
}

/// Liveness of schedulers and executors.
pub(crate) fn liveness(inputs: &Inputs) -> Liveness {
    let mut l = Liveness {
        components: inputs.components.clone(),
        ..Default::default()
    };
    let mut caps = BTreeSet::new();
    let last_seen = |kind: ComponentKind| -> Option<DateTime<Utc>> {
        inputs
            .components
            .iter()
            .filter(|c| c.kind() == kind)
            .filter_map(|c| instant(&c.heartbeat_time))
            .max()
    };
    let scheduler_seen = last_seen(ComponentKind::Scheduler);
    let executor_seen = last_seen(ComponentKind::Executor);
    for c in inputs.components.iter().filter(|c| c.alive) {
        match c.kind() {
            ComponentKind::Scheduler => l.schedulers += 1,
            ComponentKind::Executor => {
                l.executors += 1;
                caps.extend(c.capabilities.iter().cloned());
            }
            _ => {}
        }
    }
    l.scheduler_alive = l.schedulers > 0;
    if !l.scheduler_alive {
        l.scheduler_down_since = scheduler_seen.map(stamp);
    }
    if l.executors == 0 {
        l.executor_down_since = executor_seen.map(stamp);
    }
    l.executor_capabilities = caps.into_iter().collect();
    l
}

/// Retention state of each configuration that has a policy.
pub(crate) fn retention(inputs: &Inputs, facts: &[Facts<'_>]) -> Vec<RetentionEntry> {
    facts
        .iter()
        .filter_map(|f| {
            let policy = f.config.retention.filter(has_policy)?;
            let mine: Vec<_> = inputs
                .artifacts
                .iter()
                .filter(|a| a.configuration == f.config.name && a.state() != ArtifactState::Pruned)
                .collect();
            let oldest = mine.iter().filter_map(|a| instant(&a.create_time)).min();
            let last_prune = inputs
                .last_prune
                .get(&f.config.name)
                .and_then(|j| instant(&j.end_time));
            let overdue = oldest.is_some_and(|o| {
                inputs.now - o > horizon(&policy) && mine.len() > policy.keep_last.max(0) as usize
            });
            Some(RetentionEntry {
                configuration: f.config.name.clone(),
                policy: Some(policy),
                artifacts: mine.len() as u32,
                oldest_artifact_time: oldest.map(stamp),
                last_prune_time: last_prune.map(stamp),
                overdue,
                stored_bytes: mine.iter().map(|a| a.stored_bytes).sum(),
            })
        })
        .collect()
}

fn has_policy(r: &Retention) -> bool {
    r.keep_within_days > 0
        || r.keep_last > 0
        || r.keep_daily > 0
        || r.keep_weekly > 0
        || r.keep_monthly > 0
}

/// The age past which no rule of the policy keeps an artifact, with a day of slack.
fn horizon(r: &Retention) -> Duration {
    let days = [
        r.keep_within_days,
        r.keep_daily,
        r.keep_weekly.saturating_mul(7),
        r.keep_monthly.saturating_mul(31),
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
    .max(0);
    Duration::days(i64::from(days) + 1)
}
