//! S1: every enabled schedule is armed (has a persisted next due time)
//! within moments of being enabled or changed; disabled or deleted ones are
//! disarmed; the reconciler keeps the armed set equal to the catalog's.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vigil_proto::catalog::v1::{ScheduleHealth, ScheduleRole};

use crate::common::*;

#[tokio::test]
async fn first_tick_arms_every_enabled_schedule_with_its_next_due_time() {
    let h = Harness::sqlite("2025-12-20T10:00:00Z").await;
    let created = h
        .create(config("nightly", "0 2 * * *", "Europe/Berlin"))
        .await;
    h.create(with_retention(config("hourly", "15 * * * *", "UTC")))
        .await;
    let mut off = config("disabled", "0 3 * * *", "UTC");
    off.enabled = Some(false);
    h.create(off).await;

    let mut s = settings();
    s.system_schedules = true;
    let engine = h.engine("r1", s);
    let report = engine.tick(h.now()).await.unwrap();
    assert_eq!(report.armed, 4, "{report:?}");

    let (nightly, _) = h.state("nightly", 1).await;
    assert_eq!(nightly.health(), ScheduleHealth::Armed);
    assert_eq!(
        at(nightly.next_due_time.as_ref().unwrap()),
        t("2025-12-21T01:00:00Z")
    );
    assert_eq!(nightly.armed_etag, created.etag);
    assert_eq!(nightly.role(), ScheduleRole::Backup);
    assert_eq!(at(nightly.armed_time.as_ref().unwrap()), h.now());

    let (hourly, _) = h.state("hourly", 1).await;
    assert_eq!(
        at(hourly.next_due_time.as_ref().unwrap()),
        t("2025-12-20T10:15:00Z")
    );
    let (prune, _) = h.state("hourly#prune", 1).await;
    assert_eq!(prune.role(), ScheduleRole::Prune);
    assert_eq!(
        at(prune.next_due_time.as_ref().unwrap()),
        t("2025-12-21T03:30:00Z")
    );
    let (verify, _) = h.state("hourly#verify", 1).await;
    assert_eq!(verify.role(), ScheduleRole::Verify);
    // 2025-12-21 is a Sunday; the drill runs Sundays at 04:30.
    assert_eq!(
        at(verify.next_due_time.as_ref().unwrap()),
        t("2025-12-21T04:30:00Z")
    );

    assert!(
        h.try_state("disabled", 1).await.is_none(),
        "a disabled configuration is not armed"
    );
    assert!(
        h.try_state("nightly#prune", 1).await.is_none(),
        "no retention, no prune schedule"
    );
}

#[tokio::test]
async fn disabling_disarms_and_reenabling_arms_from_the_enable_time_without_retroactive_runs() {
    let h = Harness::sqlite("2025-12-20T10:00:00Z").await;
    h.create(config("c", "0 * * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    assert!(h.try_state("c", 1).await.is_some());

    h.set_enabled("c", false).await;
    let report = engine.tick(h.now()).await.unwrap();
    assert_eq!(report.removed, 1);
    assert!(
        h.try_state("c", 1).await.is_none(),
        "disabled schedule keeps no state"
    );

    // Disabled across three due times, then enabled again at 13:30.
    h.set("2025-12-20T13:30:00Z");
    engine.tick(h.now()).await.unwrap();
    assert!(h.jobs("c").await.is_empty());
    h.set_enabled("c", true).await;
    engine.tick(h.now()).await.unwrap();
    let (state, outcomes) = h.state("c", 10).await;
    assert_eq!(
        at(state.next_due_time.as_ref().unwrap()),
        t("2025-12-20T14:00:00Z")
    );
    assert!(
        outcomes.is_empty(),
        "nothing is recorded for the disabled hours"
    );
    assert!(
        h.jobs("c").await.is_empty(),
        "no retroactive run for the disabled hours"
    );
}

#[tokio::test]
async fn deleting_a_configuration_removes_its_schedules() {
    let h = Harness::sqlite("2025-12-20T10:00:00Z").await;
    h.create(config("gone", "0 * * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    h.cat
        .clone()
        .delete_configuration(vigil_proto::catalog::v1::DeleteConfigurationRequest {
            name: "gone".into(),
            etag: String::new(),
        })
        .await
        .unwrap();
    engine.tick(h.now()).await.unwrap();
    assert!(h.try_state("gone", 1).await.is_none());
}

#[tokio::test]
async fn a_running_scheduler_arms_a_new_configuration_from_its_event_without_waiting_for_the_reconcile_interval()
 {
    let h = Harness::sqlite("2025-12-20T10:00:00Z").await;
    let shutdown = CancellationToken::new();
    let mut s = settings();
    // An hour-long reconcile interval: only the configuration event can arm it in time.
    s.reconcile_interval = Duration::from_secs(3600);
    let scheduler = h.start_scheduler("r1", s, &shutdown).await;
    // Let the first reconcile pass finish before the configuration exists.
    h.until(
        Duration::from_secs(10),
        "the replica reports its heartbeat",
        || async {
            !h.components(vigil_proto::catalog::v1::ComponentKind::Scheduler)
                .await
                .is_empty()
        },
    )
    .await;

    let created = h.create(config("fresh", "*/10 * * * * *", "UTC")).await;
    h.until(
        Duration::from_secs(10),
        "the new schedule is armed",
        || async { h.try_state("fresh", 1).await.is_some() },
    )
    .await;
    let (state, _) = h.state("fresh", 1).await;
    // The manual clock never moved: armed at the very instant of the change.
    assert_eq!(
        at(state.armed_time.as_ref().unwrap()),
        at(created.update_time.as_ref().unwrap())
    );
    assert_eq!(
        at(state.next_due_time.as_ref().unwrap()),
        t("2025-12-20T10:00:10Z")
    );
    shutdown.cancel();
    scheduler.stopped().await;
}
