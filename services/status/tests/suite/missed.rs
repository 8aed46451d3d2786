//! MISSED runs in the report: a schedule whose due runs pass unrun is
//! stored by a real catalog as one range (from, to, count), and the status
//! report lists that range under the schedule, on SQLite and PostgreSQL.

use chrono::Duration;
use vigil_catalog::CatalogOptions;
use vigil_catalog::testing;
use vigil_proto::catalog::v1::{
    ApplyConfigurationsRequest, BackupKind, CommitScheduleTickRequest, OutcomeKind, Purpose,
    PutScheduleStateRequest, ScheduleHealth, ScheduleRole, ScheduleState, SummarizeHistoryRequest,
    TickRun,
};
use vigil_server_common::clock::ManualClock;

use crate::common::{self, at, config, ts};

const NAME: &str = "nightly";

async fn missed_ranges_reach_the_report(mut options: CatalogOptions) {
    let created = at(2025, 12, 1, 9, 0, 0);
    let clock = ManualClock::new(created);
    options.clock = std::sync::Arc::new(clock.clone());
    let catalog = testing::spawn(options).await;
    let mut nightly = config(
        NAME,
        BackupKind::Full,
        Purpose::Production,
        true,
        Some("0 2 * * *"),
    );
    nightly.create_time = None;
    catalog
        .catalog_client()
        .await
        .apply_configurations(ApplyConfigurationsRequest {
            configurations: vec![nightly.clone()],
            dry_run: false,
        })
        .await
        .unwrap();
    let schedule = vigil_schedule::schedule_from_proto(nightly.schedule.as_ref().unwrap()).unwrap();
    let mut due = vec![schedule.next_after(created).unwrap()];
    for _ in 0..4 {
        let next = schedule.next_after(*due.last().unwrap()).unwrap();
        due.push(next);
    }

    let mut coord = catalog.coordination_client().await;
    coord
        .put_schedule_state(PutScheduleStateRequest {
            state: Some(ScheduleState {
                schedule: NAME.into(),
                configuration: NAME.into(),
                role: ScheduleRole::Backup as i32,
                health: ScheduleHealth::Armed as i32,
                next_due_time: ts(due[0]),
                armed_time: ts(created),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let missed = |t| TickRun {
        due_time: ts(t),
        outcome: OutcomeKind::Missed as i32,
        job: None,
        detail: "outside the catch-up window".into(),
    };
    // The scheduler was away for three nights, then for a fourth: two ticks,
    // one range.
    clock.set(due[2] + Duration::hours(1));
    coord
        .commit_schedule_tick(CommitScheduleTickRequest {
            schedule: NAME.into(),
            expected_next_due_time: ts(due[0]),
            new_next_due_time: ts(due[3]),
            runs: due[..3].iter().map(|t| missed(*t)).collect(),
            owner: "scheduler-a".into(),
            health: ScheduleHealth::Missed as i32,
            health_reason: "3 due runs missed".into(),
            configuration_etag: String::new(),
        })
        .await
        .unwrap();
    clock.set(due[3] + Duration::hours(1));
    coord
        .commit_schedule_tick(CommitScheduleTickRequest {
            schedule: NAME.into(),
            expected_next_due_time: ts(due[3]),
            new_next_due_time: ts(due[4]),
            runs: vec![missed(due[3])],
            owner: "scheduler-a".into(),
            health: ScheduleHealth::Missed as i32,
            health_reason: "1 due run missed".into(),
            configuration_etag: String::new(),
        })
        .await
        .unwrap();

    // The catalog answers the window's missed runs itself, as one range.
    let summary = coord
        .summarize_history(SummarizeHistoryRequest {
            since: ts(created),
            newest_count: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.missed_outcomes.len(), 1, "{summary:?}");
    let range = &summary.missed_outcomes[0];
    assert_eq!(
        (range.due_time, range.last_due_time, range.count),
        (ts(due[0]), ts(due[3]), 4)
    );
    // A window that starts after the range's end does not see it.
    let later = coord
        .summarize_history(SummarizeHistoryRequest {
            since: ts(due[3] + Duration::seconds(1)),
            newest_count: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(later.missed_outcomes.is_empty(), "{later:?}");

    let report = common::report_through(&catalog, &clock).await;
    let entry = report
        .schedules
        .iter()
        .find(|s| s.schedule == NAME)
        .expect("the schedule's entry");
    assert_eq!(entry.missed_in_window, 4, "{entry:?}");
    assert_eq!(entry.missed.len(), 1, "{entry:?}");
    assert_eq!(entry.missed[0].due_time, ts(due[0]));
    assert_eq!(entry.missed[0].last_due_time, ts(due[3]));
    assert_eq!(entry.missed[0].detail, "outside the catch-up window");
}

#[tokio::test]
async fn missed_ranges_reach_the_report_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    missed_ranges_reach_the_report(testing::sqlite_options(dir.path())).await;
}

#[tokio::test]
async fn missed_ranges_reach_the_report_on_needs_postgres() {
    let options = testing::postgres_options_from_env().await;
    missed_ranges_reach_the_report(options).await;
}
