//! The seed's situation, reproduced: twelve configurations, four completed
//! jobs at the seed's times, a live scheduler whose three backup schedules
//! never fired, and the clock at 2025-12-23. The report must say what the
//! person investigating by hand once wrote.

use std::collections::HashMap;

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::{at, seed_configurations, ts};
use vigil_proto::catalog::v1::{
    BackupJob, Component, ComponentKind, JobKind, JobState, JobTrigger, ScheduleHealth,
    ScheduleRole, ScheduleState,
};
use vigil_proto::status::v1::{RiskLevel, StatusReport, Verdict};
use vigil_status::{Inputs, build_report};

fn completed(
    name: &str,
    configuration: &str,
    trigger: JobTrigger,
    kind: JobKind,
    start: DateTime<Utc>,
) -> BackupJob {
    BackupJob {
        id: format!("id-{name}"),
        name: name.into(),
        configuration: configuration.into(),
        kind: kind as i32,
        trigger: trigger as i32,
        state: JobState::Completed as i32,
        create_time: ts(start),
        start_time: ts(start),
        end_time: ts(start + Duration::minutes(4)),
        ..Default::default()
    }
}

fn seed_inputs() -> Inputs {
    let configurations = seed_configurations();
    let jobs = vec![
        completed(
            "daily_full_backup_20251220_222305",
            "daily_full_backup",
            JobTrigger::Manual,
            JobKind::Backup,
            at(2025, 12, 20, 21, 23, 5),
        ),
        completed(
            "daily_full_backup_20251218_134826",
            "daily_full_backup",
            JobTrigger::Manual,
            JobKind::Backup,
            at(2025, 12, 18, 12, 48, 26),
        ),
        completed(
            "daily_full_backup_20251216_172023",
            "daily_full_backup",
            JobTrigger::Manual,
            JobKind::Backup,
            at(2025, 12, 16, 16, 20, 23),
        ),
        completed(
            "uploaded_backup_20251216_165321",
            "",
            JobTrigger::Upload,
            JobKind::Upload,
            at(2025, 12, 16, 15, 53, 21),
        ),
    ];
    let now = at(2025, 12, 23, 10, 0, 0);
    // The scheduler armed every schedule on 20 November and has never fired
    // one: each persisted next due time is still the first one.
    let armed = at(2025, 11, 20, 0, 0, 0);
    let schedule_states = configurations
        .iter()
        .filter(|c| c.enabled() && c.schedule.is_some())
        .map(|c| ScheduleState {
            schedule: c.name.clone(),
            configuration: c.name.clone(),
            role: ScheduleRole::Backup as i32,
            health: ScheduleHealth::Armed as i32,
            next_due_time: ts(
                vigil_schedule::schedule_from_proto(c.schedule.as_ref().unwrap())
                    .unwrap()
                    .next_after(armed)
                    .unwrap(),
            ),
            armed_time: ts(armed),
            ..Default::default()
        })
        .collect();
    let components = vec![
        Component {
            id: "sched-1".into(),
            kind: ComponentKind::Scheduler as i32,
            alive: true,
            heartbeat_time: ts(now),
            ..Default::default()
        },
        Component {
            id: "exec-1".into(),
            kind: ComponentKind::Executor as i32,
            alive: true,
            heartbeat_time: ts(now),
            capabilities: vec![
                "backup:full".into(),
                "backup:export".into(),
                "backup:database".into(),
            ],
            ..Default::default()
        },
    ];
    Inputs {
        now,
        window: Duration::days(30),
        configurations,
        jobs: Vec::new(),
        active: Vec::new(),
        failed: Vec::new(),
        counts: Vec::new(),
        last_success: HashMap::new(),
        last_prune: HashMap::new(),
        schedule_states,
        components,
        artifacts: HashMap::new(),
        open_alerts: Vec::new(),
        missed: Vec::new(),
    }
    .with_history(jobs, &[])
}

fn text_of(report: &StatusReport) -> String {
    let mut all = vec![report.headline.clone()];
    all.extend(report.risk_reasons.iter().cloned());
    all.extend(report.working.iter().cloned());
    all.extend(report.not_working.iter().cloned());
    for r in &report.recommendations {
        all.push(r.title.clone());
        all.push(r.detail.clone());
    }
    all.join("\n")
}

#[test]
fn seed_situation_is_partially_working_with_scheduled_backups_not_running() {
    let report = build_report(&seed_inputs());
    assert_eq!(
        report.verdict(),
        Verdict::PartiallyWorking,
        "{}",
        text_of(&report)
    );
    assert!(
        report
            .headline
            .contains("scheduled backups are not running"),
        "{}",
        report.headline
    );
}

#[test]
fn seed_schedules_are_each_reported_as_never_executed() {
    let report = build_report(&seed_inputs());
    for name in [
        "daily_full_backup",
        "production_weekly_export",
        "production_monthly_archive",
    ] {
        let entry = report
            .schedules
            .iter()
            .find(|s| s.schedule == name)
            .expect(name);
        assert!(entry.never_fired, "{name} should be never fired");
        assert_eq!(
            entry.health(),
            ScheduleHealth::Down,
            "{name}: {}",
            entry.reason
        );
        assert!(
            entry.reason.contains("never executed"),
            "{name}: {}",
            entry.reason
        );
    }
}

#[test]
fn seed_gap_since_last_backup_is_about_three_days() {
    let report = build_report(&seed_inputs());
    let daily = report
        .freshness
        .iter()
        .find(|f| f.configuration == "daily_full_backup")
        .unwrap();
    assert_eq!(daily.state, "STALE");
    let age = daily.age.unwrap().seconds;
    // 2025-12-20 21:27 UTC to 2025-12-23 10:00 UTC: about two and a half days.
    assert!((2 * 86_400..3 * 86_400 + 3_600).contains(&age), "age {age}");
    assert!(
        text_of(&report).contains("last success 2 days 12 hours ago"),
        "{}",
        text_of(&report)
    );
}

#[test]
fn seed_manual_runs_are_not_schedule_adherence_but_reliance_on_people() {
    let report = build_report(&seed_inputs());
    assert!(
        report.adherence.is_empty(),
        "manual runs listed as adherence: {:?}",
        report.adherence
    );
    let text = text_of(&report);
    assert!(!text.contains("started away from"), "{text}");
    assert!(
        text.contains("protection depends on people running backups by hand"),
        "{text}"
    );
    assert_eq!(report.jobs.as_ref().unwrap().manual, 4);
}

#[test]
fn seed_recommends_cleaning_up_the_four_temporary_restore_configurations() {
    let report = build_report(&seed_inputs());
    let cleanup = report
        .recommendations
        .iter()
        .find(|r| r.title == "clean up configurations")
        .unwrap();
    for name in [
        "cli_restore_config",
        "restore_operation_config",
        "temp_restore_config",
        "upload_restore_config",
    ] {
        assert!(
            cleanup.subjects.iter().any(|s| s == name),
            "{name} missing from {:?}",
            cleanup.subjects
        );
        assert!(cleanup.detail.contains(name));
    }
    assert!(cleanup.detail.contains("test_config"));
    assert!(!cleanup.subjects.iter().any(|s| s == "daily_full_backup"));
}

#[test]
fn seed_report_counts_history_and_says_nothing_about_data_loss() {
    let report = build_report(&seed_inputs());
    let jobs = report.jobs.as_ref().unwrap();
    assert_eq!((jobs.total, jobs.completed, jobs.failed), (4, 4, 0));
    assert!((jobs.success_rate - 1.0).abs() < f64::EPSILON);
    let text = text_of(&report).to_lowercase();
    assert!(
        !text.contains("data loss") && !text.contains("lost data"),
        "{text}"
    );
    // Never-fired production schedules past twice their interval are a high risk.
    assert_eq!(report.risk(), RiskLevel::High);
    assert!(
        report
            .risk_reasons
            .iter()
            .any(|r| r.starts_with("production_daily_full"))
    );
}

#[test]
fn seed_categories_match_the_seed_tables() {
    let report = build_report(&seed_inputs());
    let c = report.configurations.unwrap();
    let names = |v: &[vigil_proto::status::v1::ConfigurationEntry]| {
        v.iter().map(|e| e.name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(c.total, 12);
    assert_eq!(c.scheduled_active.len(), 5);
    assert_eq!(names(&c.inactive), vec!["production_database_hourly"]);
    assert_eq!(c.on_demand.len(), 6);
    assert_eq!(c.leftovers.len(), 5);
}

#[test]
fn healthy_system_reports_healthy_and_low() {
    let mut inputs = seed_inputs();
    inputs
        .configurations
        .retain(|c| c.name == "daily_full_backup");
    let now = inputs.now;
    let due = at(2025, 12, 23, 1, 0, 0); // 02:00 Berlin
    inputs.schedule_states = vec![ScheduleState {
        schedule: "daily_full_backup".into(),
        configuration: "daily_full_backup".into(),
        health: ScheduleHealth::Armed as i32,
        next_due_time: ts(due + Duration::days(1)),
        last_fire_time: ts(due),
        armed_time: ts(at(2025, 12, 17, 0, 0, 0)),
        fired_count: 6,
        ..Default::default()
    }];
    let mut job = completed(
        "daily_full_backup_20251223_020000",
        "daily_full_backup",
        JobTrigger::Scheduled,
        JobKind::Backup,
        due + Duration::seconds(2),
    );
    job.due_time = ts(due);
    inputs.last_success = HashMap::new();
    inputs.last_prune = HashMap::new();
    let inputs = inputs.with_history(vec![job], &[]);
    assert!(now > due);
    let report = build_report(&inputs);
    assert_eq!(report.verdict(), Verdict::Healthy, "{}", text_of(&report));
    assert_eq!(report.risk(), RiskLevel::Low, "{:?}", report.risk_reasons);
    assert!(report.adherence.iter().all(|a| a.on_schedule));
}

#[test]
fn no_scheduler_heartbeat_says_scheduler_down_since() {
    let mut inputs = seed_inputs();
    let last = at(2025, 12, 19, 8, 0, 0);
    inputs.components[0].alive = false;
    inputs.components[0].heartbeat_time = ts(last);
    let report = build_report(&inputs);
    let live = report.liveness.as_ref().unwrap();
    assert!(!live.scheduler_alive);
    assert_eq!(live.scheduler_down_since, ts(last));
    assert!(
        report
            .not_working
            .iter()
            .any(|l| l.starts_with("scheduler down since 2025-12-19T08:00:00"))
    );
}

#[test]
fn metrics_have_series_for_never_fired_schedules_without_absent() {
    let text = vigil_status::metrics::render(&seed_inputs());
    assert!(
        text.contains(r#"vigil_schedule_last_fire_timestamp_seconds{schedule="daily_full_backup",configuration="daily_full_backup"} 0"#),
        "{text}"
    );
    assert!(
        text.contains(r#"vigil_schedule_state{schedule="daily_full_backup",state="DOWN"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"vigil_schedule_state{schedule="daily_full_backup",state="ARMED"} 0"#),
        "{text}"
    );
    // A scheduled configuration that never succeeded still has its series.
    assert!(
        text.contains(r#"vigil_backup_last_success_timestamp_seconds{configuration="production_daily_full"} 0"#),
        "{text}"
    );
    assert!(text.contains("vigil_schedulers_alive 1"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"));
}

#[test]
fn frequencies_allow_for_the_dst_hour() {
    let report = build_report(&seed_inputs());
    let c = report.configurations.unwrap();
    let freq = |name: &str| {
        c.scheduled_active
            .iter()
            .chain(&c.inactive)
            .find(|e| e.name == name)
            .unwrap()
            .frequency
            .clone()
    };
    assert_eq!(freq("daily_full_backup"), "DAILY");
    assert_eq!(freq("weekly_export"), "WEEKLY");
    assert_eq!(freq("production_monthly_archive"), "MONTHLY");
    assert_eq!(freq("production_database_hourly"), "HOURLY");
}
