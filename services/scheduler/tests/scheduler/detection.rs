//! S2 and S8: the seed's failure as a test. A schedule whose runs are never
//! picked up becomes DOWN within its grace period, with an alert and a
//! webhook, whether no executor runs at all or none offers its kind. Late
//! and missed runs alert too, and alerts resolve when health returns.

use tokio_util::sync::CancellationToken;
use tonic::Request;
use vigil_proto::catalog::v1::{AlertKind, ScheduleHealth};
use vigil_proto::scheduler::v1::scheduler_service_server::SchedulerService;
use vigil_proto::scheduler::v1::{GetScheduleRequest, ListSchedulesRequest};
use vigil_scheduler::service::Service;

use crate::common::*;
use crate::receiver::Receiver;

const SECRET: &str = "correct horse battery staple";

#[tokio::test]
async fn with_no_executor_at_all_a_never_picked_up_run_is_down_after_grace_with_alert_and_signed_webhook()
 {
    let h = Harness::sqlite("2025-12-20T09:30:00Z").await;
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(SECRET.as_bytes(), 0).await;
    let shutdown = CancellationToken::new();
    let engine = h.engine_with_webhooks(
        "r1",
        webhook_settings(&hook.url, dir.path(), SECRET),
        shutdown.clone(),
    );
    h.create(config("daily_full_backup", "0 * * * *", "UTC"))
        .await;

    engine.tick(h.now()).await.unwrap();
    let alert = h
        .open_alert("no-capable-executor:daily_full_backup")
        .await
        .expect("S8 alert at once");
    assert_eq!(alert.kind(), AlertKind::NoCapableExecutor);
    assert!(
        alert
            .message
            .contains("no live executor: no executor has ever reported a heartbeat"),
        "{}",
        alert.message
    );

    h.set("2025-12-20T10:00:00Z");
    engine.tick(h.now()).await.unwrap();
    assert_eq!(h.jobs("daily_full_backup").await.len(), 1);
    h.set("2025-12-20T10:05:00Z");
    engine.tick(h.now()).await.unwrap();
    assert_eq!(
        h.state("daily_full_backup", 1).await.0.health(),
        ScheduleHealth::Armed,
        "inside the 6 minute grace"
    );
    assert!(
        h.open_alert("schedule-down:daily_full_backup")
            .await
            .is_none()
    );

    h.set("2025-12-20T10:06:01Z");
    engine.tick(h.now()).await.unwrap();
    let (state, _) = h.state("daily_full_backup", 1).await;
    assert_eq!(state.health(), ScheduleHealth::Down);
    assert!(
        state
            .health_reason
            .contains("without being picked up: no live executor"),
        "{}",
        state.health_reason
    );
    let down = h
        .open_alert("schedule-down:daily_full_backup")
        .await
        .expect("a DOWN alert");
    assert_eq!(down.kind(), AlertKind::ScheduleDown);

    let hits = hook
        .until("the DOWN alert is delivered", |hits| {
            hits.iter()
                .any(|h| h.body["alert"]["kind"] == "SCHEDULE_DOWN")
        })
        .await;
    let hit = hits
        .iter()
        .find(|h| h.body["alert"]["kind"] == "SCHEDULE_DOWN")
        .unwrap();
    assert!(hit.signature_ok, "signature must verify: {hit:?}");
    assert_eq!(hit.event, "alert.opened");
    assert_eq!(hit.idempotency_key, format!("{}:opened", down.id));
    assert_eq!(
        hit.body["alert"]["dedup_key"],
        "schedule-down:daily_full_backup"
    );

    // The status API shows it too, and never as healthy.
    let svc = Service::new(engine.clone());
    let list = svc
        .list_schedules(Request::new(ListSchedulesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let view = list
        .schedules
        .iter()
        .find(|v| v.state.as_ref().unwrap().schedule == "daily_full_backup")
        .unwrap();
    assert_eq!(view.state.as_ref().unwrap().health(), ScheduleHealth::Down);
    shutdown.cancel();
}

#[tokio::test]
async fn with_an_executor_lacking_the_capability_the_alert_names_it_and_the_schedule_goes_down() {
    let h = Harness::sqlite("2025-12-20T09:59:00Z").await;
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(SECRET.as_bytes(), 0).await;
    let shutdown = CancellationToken::new();
    let engine = h.engine_with_webhooks(
        "r1",
        webhook_settings(&hook.url, dir.path(), SECRET),
        shutdown.clone(),
    );
    h.create(config("edms", "0 * * * *", "UTC")).await;

    h.executor("exec-db-only", &["backup:database", "engine:postgres"])
        .await;
    engine.tick(h.now()).await.unwrap();
    let alert = h
        .open_alert("no-capable-executor:edms")
        .await
        .expect("S8 alert");
    assert!(
        alert.message.contains("no live executor offers [backup:full]; live executors: exec-db-only offers [backup:database, engine:postgres]"),
        "{}",
        alert.message
    );

    h.set("2025-12-20T10:00:00Z");
    h.executor("exec-db-only", &["backup:database", "engine:postgres"])
        .await;
    engine.tick(h.now()).await.unwrap();
    assert!(
        h.lease("exec-db-only", &["backup:database", "engine:postgres"])
            .await
            .is_none(),
        "it cannot lease a FULL backup"
    );

    h.set("2025-12-20T10:06:30Z");
    h.executor("exec-db-only", &["backup:database", "engine:postgres"])
        .await;
    engine.tick(h.now()).await.unwrap();
    let (state, _) = h.state("edms", 1).await;
    assert_eq!(state.health(), ScheduleHealth::Down);
    assert!(
        state
            .health_reason
            .contains("no live executor offers [backup:full]"),
        "{}",
        state.health_reason
    );
    hook.until("both alerts are delivered", |hits| {
        let kinds: Vec<_> = hits
            .iter()
            .map(|h| {
                h.body["alert"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        kinds.contains(&"NO_CAPABLE_EXECUTOR".to_owned())
            && kinds.contains(&"SCHEDULE_DOWN".to_owned())
    })
    .await;

    // A capable executor arrives and picks the run up: the S8 alert resolves
    // at once, DOWN turns into LATE (it started after the grace).
    h.set("2025-12-20T10:07:00Z");
    h.executor("exec-full", &["backup:full"]).await;
    assert!(h.lease("exec-full", &["backup:full"]).await.is_some());
    engine.tick(h.now()).await.unwrap();
    assert!(h.open_alert("no-capable-executor:edms").await.is_none());
    assert!(h.open_alert("schedule-down:edms").await.is_none());
    assert_eq!(h.state("edms", 1).await.0.health(), ScheduleHealth::Late);
    assert!(h.open_alert("schedule-late:edms").await.is_some());
    let hits = hook
        .until("the resolutions are delivered", |hits| {
            hits.iter().filter(|h| h.event == "alert.resolved").count() >= 2
        })
        .await;
    assert!(hits.iter().all(|h| h.signature_ok));
    shutdown.cancel();
}

#[tokio::test]
async fn a_schedule_that_never_fired_is_down_once_its_first_due_time_plus_grace_has_passed_never_new()
 {
    let h = Harness::sqlite("2025-12-20T09:30:00Z").await;
    h.create(config("quiet", "0 10 * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    engine.tick(h.now()).await.unwrap();
    let svc = Service::new(engine.clone());
    let get = |svc: Service| async move {
        svc.get_schedule(Request::new(GetScheduleRequest {
            schedule: "quiet".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap()
    };
    let before = get(svc.clone()).await;
    assert!(before.never_fired);
    assert_eq!(
        before.state.as_ref().unwrap().health(),
        ScheduleHealth::Armed,
        "armed and not yet due is fine"
    );

    // No replica ticks past the first due time (10:00) plus its one hour grace.
    h.set("2025-12-20T11:00:01Z");
    let view = get(svc.clone()).await;
    assert!(view.never_fired);
    let state = view.state.unwrap();
    assert_eq!(
        state.health(),
        ScheduleHealth::Down,
        "never fired past due plus grace is DOWN, not new"
    );
    assert!(
        state.health_reason.contains("not fired"),
        "{}",
        state.health_reason
    );

    // A replica comes back: the run is caught up, but the schedule is not shown healthy.
    engine.tick(h.now()).await.unwrap();
    let view = get(svc).await;
    assert!(!view.never_fired);
    assert_eq!(view.state.unwrap().health(), ScheduleHealth::Late);
    assert!(h.open_alert("schedule-late:quiet").await.is_some());
}

#[tokio::test]
async fn a_late_start_raises_a_late_alert_until_a_run_starts_on_time() {
    let h = Harness::sqlite("2025-12-20T09:59:00Z").await;
    h.create(config("c", "0 * * * *", "UTC")).await;
    let engine = h.engine("r1", settings());
    let caps = ["backup:full"];
    h.executor("e1", &caps).await;
    engine.tick(h.now()).await.unwrap();
    assert!(
        h.alerts(false).await.is_empty(),
        "a capable live executor: nothing to report"
    );

    h.set("2025-12-20T10:00:00Z");
    engine.tick(h.now()).await.unwrap();
    h.set("2025-12-20T10:10:00Z");
    h.executor("e1", &caps).await;
    let (job, token) = h.lease_held("e1", &caps).await.unwrap();
    engine.note_jobs(std::slice::from_ref(&job));
    engine.tick(h.now()).await.unwrap();
    let (state, _) = h.state("c", 1).await;
    assert_eq!(state.health(), ScheduleHealth::Late);
    assert!(
        state
            .health_reason
            .contains("started 10m after its due time"),
        "{}",
        state.health_reason
    );
    assert!(h.open_alert("schedule-late:c").await.is_some());

    h.complete(&job.id, "e1", &token).await;
    h.set("2025-12-20T11:00:00Z");
    h.executor("e1", &caps).await;
    engine.tick(h.now()).await.unwrap();
    assert_eq!(
        h.state("c", 1).await.0.health(),
        ScheduleHealth::Armed,
        "a new run waiting inside its grace"
    );
    h.set("2025-12-20T11:01:00Z");
    let job = h.lease("e1", &caps).await.unwrap();
    engine.tick(h.now()).await.unwrap();
    assert_eq!(
        at(job.due_time.as_ref().unwrap()),
        t("2025-12-20T11:00:00Z")
    );
    assert_eq!(h.state("c", 1).await.0.health(), ScheduleHealth::Armed);
    assert!(
        h.open_alert("schedule-late:c").await.is_none(),
        "resolved once a run starts on time"
    );
}

#[tokio::test]
async fn a_replica_still_waiting_for_executors_leaves_the_executor_alert_of_another_replica_open() {
    let h = Harness::sqlite("2025-12-20T09:30:00Z").await;
    h.create(config("c", "0 * * * *", "UTC")).await;
    h.engine("old", settings()).tick(h.now()).await.unwrap();
    assert!(h.open_alert("no-capable-executor:c").await.is_some());
    let mut young = settings();
    young.executor_check_delay = std::time::Duration::from_secs(3600);
    h.engine("just-started", young).tick(h.now()).await.unwrap();
    assert!(
        h.open_alert("no-capable-executor:c").await.is_some(),
        "not resolved by a replica that cannot know"
    );
}
