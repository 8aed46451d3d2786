//! Incremental ticks: a running replica keeps its snapshot and applies the
//! changes the catalog announces. The reconcile and resync intervals are an
//! hour long and the manual clock never gets there, so after the first full
//! read only announced changes can reach the replica: an edit re-arms, a due
//! run fires once, a state another writer stored is read back, and a
//! disabled configuration's state is removed.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vigil_proto::catalog::v1::{OutcomeKind, PutScheduleStateRequest};

use crate::common::*;

/// A running replica that reconciles only hourly and reads everything again
/// every `resync`, once its heartbeat shows it is up.
async fn start_follower(
    h: &Harness,
    resync: Duration,
    shutdown: &CancellationToken,
) -> vigil_scheduler::Scheduler {
    let mut s = settings();
    s.reconcile_interval = Duration::from_secs(3600);
    s.resync_interval = resync;
    let scheduler = h.start_scheduler("follower", s, shutdown).await;
    h.until(
        Duration::from_secs(10),
        "the replica's heartbeat",
        || async {
            !h.components(vigil_proto::catalog::v1::ComponentKind::Scheduler)
                .await
                .is_empty()
        },
    )
    .await;
    scheduler
}

#[tokio::test]
async fn a_running_replica_follows_edits_other_writers_and_disables_from_events_alone() {
    let h = Harness::sqlite("2025-12-20T10:00:00Z").await;
    let shutdown = CancellationToken::new();
    let scheduler = start_follower(&h, Duration::from_secs(3600), &shutdown).await;

    // Created: armed from the configuration event.
    h.create(config("followed", "*/10 * * * * *", "UTC")).await;
    h.until(Duration::from_secs(10), "armed", || async {
        h.try_state("followed", 1).await.is_some()
    })
    .await;

    // Due: fired once from the kept snapshot.
    h.clock.advance(chrono::Duration::seconds(10));
    scheduler.wake();
    h.until(Duration::from_secs(10), "the first due run", || async {
        h.jobs("followed").await.len() == 1
    })
    .await;

    // Edited: re-armed for the new version from its event alone.
    let edited = h.update(config("followed", "0 30 * * * *", "UTC")).await;
    h.until(Duration::from_secs(10), "re-armed for the edit", || async {
        h.try_state("followed", 1)
            .await
            .is_some_and(|(s, _)| s.armed_etag == edited.etag)
    })
    .await;
    let (state, _) = h.state("followed", 1).await;
    assert_eq!(
        at(state.next_due_time.as_ref().unwrap()),
        t("2025-12-20T10:30:00Z")
    );

    // Another writer pauses the schedule: the replica reads the state back
    // from its event and records the due run as paused, not as a job.
    let mut paused = state.clone();
    paused.paused = true;
    let stored = h
        .coord
        .clone()
        .put_schedule_state(PutScheduleStateRequest {
            state: Some(paused),
        })
        .await
        .unwrap()
        .into_inner()
        .state
        .unwrap();
    h.set("2025-12-20T10:30:00Z");
    scheduler.wake();
    h.until(Duration::from_secs(10), "the paused due run", || async {
        h.try_state("followed", 5)
            .await
            .is_some_and(|(_, outcomes)| outcomes.len() == 2)
    })
    .await;
    let (after, outcomes) = h.state("followed", 5).await;
    assert_eq!(
        outcome_kinds(&outcomes),
        [OutcomeKind::Enqueued, OutcomeKind::Paused]
    );
    assert!(after.paused, "the other writer's pause is kept");
    assert_ne!(after.etag, stored.etag);
    assert_eq!(h.jobs("followed").await.len(), 1, "no job while paused");

    // Disabled: the state goes, from the configuration event alone.
    h.set_enabled("followed", false).await;
    h.until(Duration::from_secs(10), "disarmed", || async {
        h.try_state("followed", 1).await.is_none()
    })
    .await;
    shutdown.cancel();
    scheduler.stopped().await;
}

/// A change nobody announced (written into the database by hand) is not
/// seen by incremental ticks, and is seen by the first tick after
/// `resync_interval`, which reads the whole catalog again.
#[tokio::test]
async fn a_change_no_event_announced_is_read_at_the_next_resync_and_not_before() {
    let h = Harness::sqlite("2025-12-20T10:00:00Z").await;
    let shutdown = CancellationToken::new();
    let scheduler = start_follower(&h, Duration::from_secs(600), &shutdown).await;
    // The full read that follows the stream's connection is taken before the
    // hand-made change below, or it would see that change.
    h.until(
        Duration::from_secs(10),
        "the replica to follow the event stream",
        || async { scheduler.engine().follows_events() },
    )
    .await;
    h.create(config("quiet", "0 2 * * *", "UTC")).await;
    h.until(Duration::from_secs(10), "armed", || async {
        h.try_state("quiet", 1).await.is_some()
    })
    .await;

    // Removed behind the catalog's back: no event announces it.
    sqlx::query("DELETE FROM schedule_states WHERE schedule = 'quiet'")
        .execute(h.catalog.catalog.store().db().writer())
        .await
        .unwrap();

    // An announced change makes the replica tick from its kept snapshot,
    // which still holds the removed state, so nothing re-arms it.
    h.clock.advance(chrono::Duration::seconds(60));
    h.create(config("loud", "0 3 * * *", "UTC")).await;
    h.until(
        Duration::from_secs(10),
        "the announced one armed",
        || async { h.try_state("loud", 1).await.is_some() },
    )
    .await;
    assert!(
        h.try_state("quiet", 1).await.is_none(),
        "an incremental tick read only what was announced"
    );

    // Past resync_interval the next tick reads everything and re-arms it.
    h.clock.advance(chrono::Duration::seconds(600));
    scheduler.wake();
    h.until(
        Duration::from_secs(10),
        "re-armed by the resync",
        || async { h.try_state("quiet", 1).await.is_some() },
    )
    .await;
    let (state, _) = h.state("quiet", 1).await;
    assert_eq!(
        at(state.next_due_time.as_ref().unwrap()),
        t("2025-12-21T02:00:00Z")
    );
    shutdown.cancel();
    scheduler.stopped().await;
}
