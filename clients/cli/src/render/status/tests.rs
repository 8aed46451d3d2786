use super::super::blocks::{markdown, terminal};
use super::*;
use vigil_proto::catalog::v1::{
    BackupKind, JobKind, JobState, JobTrigger, Purpose, ScheduleHealth,
};
use vigil_proto::status::v1::{
    ConfigurationEntry, ConfigurationSummary, JobEntry, JobHistory, Liveness, Recommendation,
    ScheduleHealthEntry,
};

fn seed_like() -> StatusReport {
    let entry = |name: &str, freq: &str| ConfigurationEntry {
        name: name.into(),
        kind: BackupKind::Full as i32,
        purpose: Purpose::Production as i32,
        enabled: true,
        frequency: freq.into(),
        schedule: "02:00 Europe/Berlin".into(),
    };
    StatusReport {
        verdict: Verdict::PartiallyWorking as i32,
        headline: "manual backups work; scheduled backups never ran".into(),
        risk: RiskLevel::Medium as i32,
        risk_reasons: vec!["the newest backup is 3 days old".into()],
        configurations: Some(ConfigurationSummary {
            total: 12,
            scheduled_active: vec![entry("daily_full_backup", "DAILY")],
            ..Default::default()
        }),
        jobs: Some(JobHistory {
            total: 4,
            completed: 4,
            success_rate: 1.0,
            recent: vec![JobEntry {
                name: "daily_full_backup_20251220_222305".into(),
                configuration: "daily_full_backup".into(),
                kind: JobKind::Backup as i32,
                trigger: JobTrigger::Manual as i32,
                state: JobState::Completed as i32,
                ..Default::default()
            }],
            ..Default::default()
        }),
        schedules: vec![ScheduleHealthEntry {
            schedule: "daily_full_backup".into(),
            health: ScheduleHealth::Down as i32,
            armed: true,
            never_fired: true,
            reason: "passed its first due time with no run".into(),
            ..Default::default()
        }],
        liveness: Some(Liveness {
            scheduler_alive: true,
            schedulers: 1,
            ..Default::default()
        }),
        recommendations: vec![Recommendation {
            priority: 1,
            title: "Fix scheduled backups".into(),
            command: "vigil schedules show daily_full_backup".into(),
            ..Default::default()
        }],
        working: vec!["manual backups complete".into()],
        not_working: vec!["scheduled backups never ran".into()],
        ..Default::default()
    }
}

#[test]
fn markdown_reads_like_the_seed_report() {
    let md = markdown(&blocks(&seed_like(), true));
    for part in [
        "# Backup System Status Report",
        "## Current Status: ⚠️ **PARTIALLY WORKING**",
        "**Total Configurations:** 12",
        "| daily_full_backup | FULL | PRODUCTION | DAILY | 02:00 Europe/Berlin | yes |",
        "daily_full_backup_20251220_222305",
        "**Success rate:** 100%",
        "| daily_full_backup | - | DOWN | yes | **never** |",
        "### Current Risk Level: 🟡 **MEDIUM**",
        "- the newest backup is 3 days old",
        "### Priority 1: Fix scheduled backups",
        "vigil schedules show daily_full_backup",
        "- ❌ scheduled backups never ran",
    ] {
        assert!(md.contains(part), "missing {part:?} in\n{md}");
    }
}

#[test]
fn terminal_has_no_markup_or_icons() {
    let text = terminal(&blocks(&seed_like(), false));
    assert!(text.contains("Current Status: PARTIALLY WORKING"), "{text}");
    assert!(text.contains("Current Risk Level: MEDIUM"));
    assert!(!text.contains("**") && !text.contains("🟡"));
}

#[test]
fn missed_ranges_are_listed_under_the_schedules() {
    let mut report = seed_like();
    let stamp = |seconds| prost_types::Timestamp { seconds, nanos: 0 };
    report.schedules[0].missed_in_window = 4;
    report.schedules[0].missed = vec![
        ScheduleOutcome {
            schedule: "daily_full_backup".into(),
            due_time: Some(stamp(1_766_455_200)),
            last_due_time: Some(stamp(1_766_628_000)),
            count: 3,
            detail: "outside the catch-up window".into(),
            ..Default::default()
        },
        ScheduleOutcome {
            schedule: "daily_full_backup".into(),
            due_time: Some(stamp(1_766_196_000)),
            count: 1,
            ..Default::default()
        },
    ];
    let md = markdown(&blocks(&report, true));
    assert!(md.contains("| Missed |"), "{md}");
    assert!(md.contains("| 4 |"), "{md}");
    assert!(md.contains("**Missed runs** (newest first):"), "{md}");
    let range = md
        .lines()
        .find(|l| l.contains("daily_full_backup: 3 due runs from "))
        .unwrap_or_else(|| panic!("no range line in {md}"));
    assert!(range.ends_with("(outside the catch-up window)"), "{range}");
    assert!(
        md.lines()
            .any(|l| l.contains("daily_full_backup: the run due ")),
        "{md}"
    );
}
