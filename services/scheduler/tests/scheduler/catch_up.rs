//! S5: catch-up policies (skip, once, all) with a window and a cap; once is
//! the default. A scheduler that was stopped records what it missed.

use std::time::Duration;

use vigil_proto::catalog::v1::{CatchUpPolicy, OutcomeKind, ScheduleHealth};

use crate::common::*;

fn with_catch_up(
    mut c: vigil_proto::catalog::v1::BackupConfiguration,
    policy: CatchUpPolicy,
    window: Option<Duration>,
    cap: u32,
) -> vigil_proto::catalog::v1::BackupConfiguration {
    let s = c.schedule.as_mut().unwrap();
    s.catch_up = policy as i32;
    s.catch_up_window = window.map(vigil_proto::duration_to_proto);
    s.catch_up_cap = cap;
    c
}

#[tokio::test]
async fn scheduler_stopped_three_hours_across_a_daily_due_time_catches_up_exactly_once() {
    let h = Harness::sqlite("2025-12-20T00:30:00Z").await;
    h.create(config("daily", "0 2 * * *", "UTC")).await;
    h.engine("before-stop", settings())
        .tick(h.now())
        .await
        .unwrap();
    // Stopped from 01:00 to 04:00; a new process starts and ticks.
    h.set("2025-12-20T04:00:00Z");
    let restarted = h.engine("after-restart", settings());
    restarted.tick(h.now()).await.unwrap();
    restarted.tick(h.now()).await.unwrap();
    assert_eq!(h.job_due_times("daily").await, [t("2025-12-20T02:00:00Z")]);
    let (state, outcomes) = h.state("daily", 10).await;
    assert_eq!(outcome_kinds(&outcomes), [OutcomeKind::Enqueued]);
    assert!(
        outcomes[0].detail.contains("catch-up"),
        "{:?}",
        outcomes[0].detail
    );
    assert_eq!(
        at(state.next_due_time.as_ref().unwrap()),
        t("2025-12-21T02:00:00Z")
    );
    // Queued two hours late and not started: the schedule is not healthy.
    assert_eq!(
        state.health(),
        ScheduleHealth::Late,
        "{}",
        state.health_reason
    );
}

#[tokio::test]
async fn once_is_the_default_and_records_the_skipped_due_times_as_missed() {
    let h = Harness::sqlite("2025-12-20T00:30:00Z").await;
    h.create(config("hourly", "0 * * * *", "UTC")).await;
    h.engine("r1", settings()).tick(h.now()).await.unwrap();
    h.set("2025-12-20T03:10:00Z");
    h.engine("r2", settings()).tick(h.now()).await.unwrap();
    assert_eq!(h.job_due_times("hourly").await, [t("2025-12-20T03:00:00Z")]);
    let (state, outcomes) = h.state("hourly", 10).await;
    use OutcomeKind::*;
    assert_eq!(outcome_kinds(&outcomes), [Missed, Missed, Enqueued]);
    assert_eq!(state.health(), ScheduleHealth::Missed);
    assert!(
        state.health_reason.contains("missed 2 due runs"),
        "{}",
        state.health_reason
    );
    let alert = h
        .open_alert("schedule-missed:hourly")
        .await
        .expect("a missed alert");
    assert!(
        alert.message.contains("missed 2 due runs"),
        "{}",
        alert.message
    );
}

#[tokio::test]
async fn skip_runs_nothing_late_and_all_runs_up_to_the_cap_inside_the_window() {
    let h = Harness::sqlite("2025-12-20T00:30:00Z").await;
    h.create(with_catch_up(
        config("skip", "0 * * * *", "UTC"),
        CatchUpPolicy::Skip,
        None,
        0,
    ))
    .await;
    h.create(with_catch_up(
        config("all", "0 * * * *", "UTC"),
        CatchUpPolicy::All,
        Some(Duration::from_secs(4 * 3600)),
        2,
    ))
    .await;
    h.create(with_catch_up(
        config("window", "0 * * * *", "UTC"),
        CatchUpPolicy::All,
        Some(Duration::from_secs(90 * 60)),
        10,
    ))
    .await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    h.set("2025-12-20T05:30:00Z");
    engine.tick(h.now()).await.unwrap();

    use OutcomeKind::*;
    assert!(h.jobs("skip").await.is_empty(), "skip never runs late");
    assert_eq!(outcome_kinds(&h.state("skip", 10).await.1), [Missed; 5]);

    assert_eq!(
        h.job_due_times("all").await,
        [t("2025-12-20T04:00:00Z"), t("2025-12-20T05:00:00Z")]
    );
    assert_eq!(
        outcome_kinds(&h.state("all", 10).await.1),
        [Missed, Missed, Missed, Enqueued, Enqueued]
    );

    // A 90-minute window at 05:30 reaches back to 04:00.
    assert_eq!(
        h.job_due_times("window").await,
        [t("2025-12-20T04:00:00Z"), t("2025-12-20T05:00:00Z")]
    );
    let outcomes = h.state("window", 10).await.1;
    assert_eq!(
        outcome_kinds(&outcomes),
        [Missed, Missed, Missed, Enqueued, Enqueued]
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o.detail.contains("outside the catch-up window")),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn a_long_backlog_is_committed_in_slices_and_every_due_time_is_recorded() {
    let h = Harness::sqlite("2025-12-20T00:00:05Z").await;
    h.create(config("secs", "*/10 * * * * *", "UTC")).await;
    let mut s = settings();
    s.max_runs_per_commit = 100;
    let engine = h.engine("r1", s);
    engine.tick(h.now()).await.unwrap();
    // Ten hours without a tick: 3,600 due times.
    h.set("2025-12-20T10:00:05Z");
    let report = engine.tick(h.now()).await.unwrap();
    assert_eq!(report.outcomes, 3600);
    assert_eq!(report.enqueued, 1);
    let (state, _) = h.state("secs", 1).await;
    assert_eq!((state.missed_count, state.fired_count), (3599, 1));
    assert_eq!(
        at(state.next_due_time.as_ref().unwrap()),
        t("2025-12-20T10:00:10Z")
    );
    assert_eq!(h.job_due_times("secs").await, [t("2025-12-20T10:00:00Z")]);
}
