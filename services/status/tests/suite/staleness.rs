//! Staleness is judged by the schedule's own due times, with an injected
//! `now` (no clock, no sleeps): a 15-minute business-hours schedule
//! (`*/15 9-17 * * 1-5`, Europe/Berlin, UTC+1 in December) that stops on a
//! Tuesday morning is STALE within 15 minutes plus grace, and one that
//! stopped on Friday evening is not stale over the weekend.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use vigil_proto::catalog::v1::{
    BackupJob, BackupKind, Component, ComponentKind, JobKind, JobState, JobTrigger, Purpose,
};
use vigil_proto::status::v1::{BackupFreshness, StatusReport};
use vigil_status::{Inputs, build_report};

use crate::common::{at, config, ts};

const NAME: &str = "business_hours";

/// The report at `now` when the newest successful backup ran at `last`
/// (due then, four minutes long) and nothing ran after it.
fn report_at(now: DateTime<Utc>, last: DateTime<Utc>) -> StatusReport {
    build_report(&inputs_at(now, last))
}

/// The inputs of [`report_at`].
fn inputs_at(now: DateTime<Utc>, last: DateTime<Utc>) -> Inputs {
    let job = BackupJob {
        id: "id-last".into(),
        name: "business_hours_last".into(),
        configuration: NAME.into(),
        kind: JobKind::Backup as i32,
        trigger: JobTrigger::Scheduled as i32,
        state: JobState::Completed as i32,
        due_time: ts(last),
        create_time: ts(last),
        start_time: ts(last),
        end_time: ts(last + Duration::minutes(4)),
        ..Default::default()
    };
    let alive = |id: &str, kind: ComponentKind| Component {
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
        configurations: vec![config(
            NAME,
            BackupKind::Full,
            Purpose::Production,
            true,
            Some("*/15 9-17 * * 1-5"),
        )],
        jobs: Vec::new(),
        active: Vec::new(),
        failed: Vec::new(),
        counts: Vec::new(),
        last_success: HashMap::new(),
        last_prune: HashMap::new(),
        schedule_states: Vec::new(),
        components: vec![
            alive("sched-1", ComponentKind::Scheduler),
            alive("exec-1", ComponentKind::Executor),
        ],
        artifacts: HashMap::new(),
        open_alerts: Vec::new(),
        missed: Vec::new(),
    }
    .with_history(vec![job], &[])
}

fn freshness(report: &StatusReport) -> &BackupFreshness {
    report
        .freshness
        .iter()
        .find(|f| f.configuration == NAME)
        .expect("freshness of the configuration")
}

#[test]
fn the_expected_interval_is_the_most_common_gap() {
    let now = at(2025, 12, 16, 9, 5, 0);
    let report = report_at(now, at(2025, 12, 16, 9, 0, 0));
    assert_eq!(freshness(&report).expected_interval.unwrap().seconds, 900);
}

#[test]
fn a_business_hours_schedule_stopping_on_tuesday_is_stale_within_one_gap_plus_grace() {
    // The last run was due Tuesday 10:00 Berlin (09:00 UTC); the next one
    // due at 10:15 never succeeds. Grace is a tenth of 15 minutes, clamped
    // to at least a minute: 90 seconds.
    let last = at(2025, 12, 16, 9, 0, 0);
    let next_due = last + Duration::minutes(15);
    let grace = Duration::seconds(90);

    let before = report_at(next_due + grace - Duration::seconds(1), last);
    assert_eq!(freshness(&before).state, "FRESH");
    assert!(!freshness(&before).overdue);

    let after = report_at(next_due + grace + Duration::seconds(1), last);
    let f = freshness(&after);
    assert_eq!(f.state, "STALE", "{f:?}");
    assert!(f.overdue);
    assert_eq!(f.due_time, ts(next_due));
    assert_eq!(
        f.gap.unwrap().seconds,
        (grace + Duration::seconds(1)).num_seconds()
    );
    let metrics =
        vigil_status::metrics::render(&inputs_at(next_due + grace + Duration::seconds(1), last));
    assert!(
        metrics.contains(&format!(
            r#"vigil_backup_overdue{{configuration="{NAME}"}} 1"#
        )),
        "{metrics}"
    );
    assert!(
        after.not_working.iter().any(|l| l.starts_with(NAME)),
        "{:?}",
        after.not_working
    );
}

#[test]
fn a_business_hours_schedule_is_not_stale_over_the_weekend() {
    // The last run of the week was due Friday 17:45 Berlin (16:45 UTC).
    let last = at(2025, 12, 19, 16, 45, 0);
    let monday_first_due = at(2025, 12, 22, 8, 0, 0); // 09:00 Berlin
    let mut now = last + Duration::minutes(5);
    while now < monday_first_due + Duration::seconds(90) {
        let report = report_at(now, last);
        let f = freshness(&report);
        assert_eq!(f.state, "FRESH", "at {now}: {f:?}");
        assert!(!f.overdue, "at {now}");
        now += Duration::minutes(10);
    }
    let monday = report_at(monday_first_due + Duration::seconds(91), last);
    assert_eq!(freshness(&monday).state, "STALE");
}
