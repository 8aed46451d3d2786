//! The report on a fresh install and right after the first runs: nothing
//! due yet is not FAILING, a failed restore is not a failed backup, and a
//! prune that has had nothing to do yet is not a warning.

use std::collections::HashMap;

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::{at, config, ts};
use vigil_proto::catalog::v1::{
    Artifact, ArtifactState, BackupJob, BackupKind, Component, ComponentKind, JobKind, JobState,
    JobTrigger, Purpose, ScheduleHealth, ScheduleState,
};
use vigil_proto::status::v1::{RiskLevel, Verdict};
use vigil_status::{Inputs, build_report};

fn now() -> DateTime<Utc> {
    at(2026, 3, 10, 12, 0, 0)
}

/// One daily FULL configuration created `age` ago, a live scheduler and
/// executor, and no jobs.
fn fresh(age: Duration) -> Inputs {
    let now = now();
    let mut daily = config(
        "daily_full_backup",
        BackupKind::Full,
        Purpose::Production,
        true,
        Some("0 2 * * *"),
    );
    daily.create_time = ts(now - age);
    let live = |id: &str, kind: ComponentKind| Component {
        id: id.into(),
        kind: kind as i32,
        alive: true,
        heartbeat_time: ts(now),
        capabilities: vec!["backup:full".into()],
        ..Default::default()
    };
    Inputs {
        now,
        window: Duration::days(30),
        configurations: vec![daily],
        jobs: Vec::new(),
        active: Vec::new(),
        failed: Vec::new(),
        counts: Vec::new(),
        last_success: HashMap::new(),
        last_prune: HashMap::new(),
        schedule_states: vec![ScheduleState {
            schedule: "daily_full_backup".into(),
            configuration: "daily_full_backup".into(),
            health: ScheduleHealth::Armed as i32,
            next_due_time: ts(at(2026, 3, 11, 1, 0, 0)),
            armed_time: ts(now - age),
            ..Default::default()
        }],
        components: vec![
            live("sched-1", ComponentKind::Scheduler),
            live("exec-1", ComponentKind::Executor),
        ],
        artifacts: HashMap::new(),
        open_alerts: Vec::new(),
        missed: Vec::new(),
    }
}

fn job(name: &str, kind: JobKind, trigger: JobTrigger, state: JobState) -> BackupJob {
    let start = now() - Duration::hours(1);
    BackupJob {
        id: format!("id-{name}"),
        name: name.into(),
        configuration: "daily_full_backup".into(),
        kind: kind as i32,
        trigger: trigger as i32,
        state: state as i32,
        create_time: ts(start),
        start_time: ts(start),
        end_time: ts(start + Duration::minutes(2)),
        ..Default::default()
    }
}

#[test]
fn nothing_due_yet_is_healthy_not_failing() {
    let report = build_report(&fresh(Duration::minutes(5)));
    assert_eq!(report.verdict(), Verdict::Healthy, "{}", report.headline);
    assert_eq!(report.risk(), RiskLevel::Low, "{:?}", report.risk_reasons);
    assert!(
        report.headline.contains("not yet due"),
        "{}",
        report.headline
    );
    let daily = &report.freshness[0];
    assert_eq!(daily.state, "NOT_YET_DUE");
    assert!(
        report.recommendations.is_empty(),
        "{:?}",
        report.recommendations
    );
}

#[test]
fn a_schedule_past_its_first_due_time_without_a_backup_still_fails() {
    // Created two days ago: 02:00 came twice and nothing ran.
    let mut inputs = fresh(Duration::days(2));
    inputs.schedule_states[0].next_due_time = ts(at(2026, 3, 9, 1, 0, 0));
    let report = build_report(&inputs);
    assert_eq!(report.verdict(), Verdict::Failing, "{}", report.headline);
    assert_eq!(report.freshness[0].state, "NEVER");
}

#[test]
fn a_failed_restore_is_counted_apart_and_is_not_a_failed_backup() {
    let inputs = fresh(Duration::minutes(30));
    let backup = job(
        "daily_full_backup_1",
        JobKind::Backup,
        JobTrigger::Manual,
        JobState::Completed,
    );
    let restore = job(
        "restore_1",
        JobKind::Restore,
        JobTrigger::Manual,
        JobState::Failed,
    );
    let inputs = inputs.with_history(vec![restore, backup.clone()], &[]);
    let report = build_report(&inputs);
    let jobs = report.jobs.as_ref().unwrap();
    assert_eq!((jobs.total, jobs.completed, jobs.failed), (1, 1, 0));
    assert!((jobs.success_rate - 1.0).abs() < f64::EPSILON);
    let restores = jobs
        .operations
        .iter()
        .find(|o| o.kind() == JobKind::Restore)
        .expect("restores counted apart");
    assert_eq!((restores.total, restores.failed), (1, 1));
    assert_eq!(restores.last_failed_job, "restore_1");
    assert_eq!(report.verdict(), Verdict::Healthy, "{}", report.headline);
    assert!(
        report
            .not_working
            .iter()
            .any(|l| l.contains("1 of 1 restore jobs failed")),
        "{:?}",
        report.not_working
    );
}

#[test]
fn a_failed_verify_is_partially_working() {
    let inputs = fresh(Duration::minutes(30));
    let backup = job(
        "daily_full_backup_1",
        JobKind::Backup,
        JobTrigger::Manual,
        JobState::Completed,
    );
    let verify = job(
        "verify_1",
        JobKind::Verify,
        JobTrigger::Manual,
        JobState::Failed,
    );
    let inputs = inputs.with_history(vec![verify, backup.clone()], &[]);
    let report = build_report(&inputs);
    assert_eq!(report.verdict(), Verdict::PartiallyWorking);
    assert!(report.headline.contains("verify"), "{}", report.headline);
    assert_eq!(report.jobs.as_ref().unwrap().failed, 0);
}

#[test]
fn manual_runs_are_not_schedule_adherence() {
    let inputs = fresh(Duration::minutes(30));
    let manual = job(
        "daily_full_backup_1",
        JobKind::Backup,
        JobTrigger::Manual,
        JobState::Completed,
    );
    let inputs = inputs.with_history(vec![manual.clone()], &[]);
    let report = build_report(&inputs);
    assert!(report.adherence.is_empty(), "{:?}", report.adherence);
    assert!(
        !report
            .not_working
            .iter()
            .any(|l| l.contains("started later")),
        "{:?}",
        report.not_working
    );
}

#[test]
fn prune_that_has_had_nothing_to_do_is_not_a_warning() {
    let mut artifacts = vec![Artifact {
        id: "a1".into(),
        configuration: "daily_full_backup".into(),
        state: ArtifactState::Available as i32,
        create_time: ts(now() - Duration::minutes(20)),
        ..Default::default()
    }];
    let report = build_report(&fresh(Duration::minutes(30)).with_history(vec![], &artifacts));
    assert!(
        !report
            .recommendations
            .iter()
            .any(|r| r.title == "verify retention"),
        "{:?}",
        report.recommendations
    );

    // Once an artifact outlives every rule, a prune that never ran is one.
    artifacts.push(Artifact {
        id: "a0".into(),
        configuration: "daily_full_backup".into(),
        state: ArtifactState::Available as i32,
        create_time: ts(now() - Duration::days(40)),
        ..Default::default()
    });
    let report = build_report(&fresh(Duration::minutes(30)).with_history(vec![], &artifacts));
    let retention = report
        .recommendations
        .iter()
        .find(|r| r.title == "verify retention")
        .expect("overdue retention is reported");
    assert!(
        retention.detail.contains("prune has never run"),
        "{}",
        retention.detail
    );
}
