//! The descriptive sections of the report.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use vigil_proto::catalog::v1::{
    BackupJob, ComponentKind, JobCount, JobKind, JobState, JobTrigger, Purpose, Retention,
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
        enabled: f.config.enabled(),
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
        if !f.config.enabled() {
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
    for c in &inputs.counts {
        let n = u32::try_from(c.count).unwrap_or(u32::MAX);
        if !produces_backup(c.kind()) {
            count_operation(&mut h.operations, c, n, &inputs.failed);
            continue;
        }
        h.total = h.total.saturating_add(n);
        let slot = match c.state() {
            JobState::Completed => &mut h.completed,
            JobState::Failed => &mut h.failed,
            JobState::Cancelled => &mut h.cancelled,
            JobState::Queued | JobState::Running | JobState::Unspecified => &mut h.active,
        };
        *slot = slot.saturating_add(n);
        match c.trigger() {
            JobTrigger::Scheduled | JobTrigger::System => {
                h.scheduled = h.scheduled.saturating_add(n)
            }
            JobTrigger::Manual | JobTrigger::Upload => h.manual = h.manual.saturating_add(n),
            JobTrigger::Unspecified => {}
        }
    }
    let finished = h.completed + h.failed;
    h.success_rate = if finished == 0 {
        0.0
    } else {
        f64::from(h.completed) / f64::from(finished)
    };
    let since = inputs.now - inputs.window;
    h.last_success_time = inputs
        .last_success
        .values()
        .filter_map(|j| instant(&j.end_time))
        .filter(|t| *t >= since)
        .chain(
            inputs
                .jobs
                .iter()
                .filter(|j| j.state() == JobState::Completed && produces_backup(j.kind()))
                .filter_map(|j| instant(&j.end_time)),
        )
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
fn count_operation(
    operations: &mut Vec<OperationCounts>,
    c: &JobCount,
    n: u32,
    failed: &[BackupJob],
) {
    let i = match operations.iter().position(|o| o.kind == c.kind) {
        Some(i) => i,
        None => {
            operations.push(OperationCounts {
                kind: c.kind,
                ..Default::default()
            });
            operations.len() - 1
        }
    };
    let counts = &mut operations[i];
    counts.total = counts.total.saturating_add(n);
    let slot = match c.state() {
        JobState::Completed => &mut counts.completed,
        JobState::Failed => {
            // The newest failed job of this kind (the list is newest first).
            if counts.last_failed_job.is_empty()
                && let Some(job) = failed.iter().find(|j| j.kind == c.kind)
            {
                counts.last_failed_job = job.name.clone();
            }
            &mut counts.failed
        }
        JobState::Cancelled => &mut counts.cancelled,
        JobState::Queued | JobState::Running | JobState::Unspecified => &mut counts.active,
    };
    *slot = slot.saturating_add(n);
}

/// Whether a job of this kind leaves a restorable backup behind.
pub(crate) fn produces_backup(kind: JobKind) -> bool {
    matches!(kind, JobKind::Backup | JobKind::Upload)
}

/// Per configuration: last success against the schedule's own due times.
///
/// A scheduled configuration is STALE when its most recent due time whose
/// grace has passed has no successful backup finished after it, and no
/// backup of it is running. A business-hours schedule is therefore not stale
/// over the weekend, and a 15-minute one is stale 15 minutes plus grace after
/// it stops (docs/STATUS-RULES.md).
pub(crate) fn freshness(inputs: &Inputs, facts: &[Facts<'_>]) -> Vec<BackupFreshness> {
    facts
        .iter()
        .filter(|f| f.config.enabled())
        .map(|f| {
            let last = inputs
                .last_success
                .get(&f.config.name)
                .and_then(|j| instant(&j.end_time));
            let age = last.map(|t| inputs.now - t);
            let due = f.previous_fire(inputs.now - f.grace);
            let running = inputs.active.iter().any(|j| {
                j.configuration == f.config.name
                    && j.kind() == JobKind::Backup
                    && j.state() == JobState::Running
            });
            let missed = due.is_some_and(|d| last.is_none_or(|t| t < d)) && !running;
            // The first due time the newest success does not cover.
            let first_missed = match (missed, &f.schedule, last) {
                (false, _, _) => None,
                (true, Some(s), Some(t)) => s.next_after(t).or(due),
                (true, _, _) => due,
            };
            let state = match (last, &f.schedule) {
                (_, None) => "ON_DEMAND",
                (None, Some(_)) if !f.has_been_due(inputs.now) => "NOT_YET_DUE",
                (None, Some(_)) => "NEVER",
                (Some(_), Some(_)) if missed => "STALE",
                _ => "FRESH",
            };
            BackupFreshness {
                configuration: f.config.name.clone(),
                last_success_time: last.map(stamp),
                age: age.map(span),
                expected_interval: f.interval.map(span),
                gap: Some(span(first_missed.map_or(Duration::zero(), |d| {
                    (inputs.now - d).max(Duration::zero())
                }))),
                state: state.to_owned(),
                due_time: due.map(stamp),
                overdue: missed,
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
            let mine = inputs.artifacts.get(&f.config.name);
            let count = mine.map_or(0, |t| t.count);
            let oldest = mine.and_then(|t| instant(&t.oldest_create_time));
            let last_prune = inputs
                .last_prune
                .get(&f.config.name)
                .and_then(|j| instant(&j.end_time));
            let overdue = oldest.is_some_and(|o| {
                inputs.now - o > horizon(&policy) && count > policy.keep_last.max(0) as u64
            });
            Some(RetentionEntry {
                configuration: f.config.name.clone(),
                policy: Some(policy),
                artifacts: u32::try_from(count).unwrap_or(u32::MAX),
                oldest_artifact_time: oldest.map(stamp),
                last_prune_time: last_prune.map(stamp),
                overdue,
                stored_bytes: mine.map_or(0, |t| t.stored_bytes),
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
