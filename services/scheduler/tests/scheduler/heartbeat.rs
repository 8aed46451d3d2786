//! S9: a running replica has a heartbeat in the catalog; when it stops, the
//! catalog shows it dead with the time of its last heartbeat ("scheduler
//! down since ...").

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vigil_proto::catalog::v1::ComponentKind;

use crate::common::*;

#[tokio::test]
async fn a_running_replica_is_alive_in_the_catalog_and_shows_down_since_its_last_heartbeat_once_stopped()
 {
    let h = Harness::sqlite("2025-12-20T12:00:00Z").await;
    let shutdown = CancellationToken::new();
    let scheduler = h.start_scheduler("sched-a", settings(), &shutdown).await;
    h.until(
        Duration::from_secs(10),
        "the replica reports a heartbeat",
        || async {
            h.components(ComponentKind::Scheduler)
                .await
                .iter()
                .any(|c| c.id == "sched-a")
        },
    )
    .await;
    let me = h
        .components(ComponentKind::Scheduler)
        .await
        .into_iter()
        .find(|c| c.id == "sched-a")
        .unwrap();
    assert!(me.alive);
    assert_eq!(me.kind(), ComponentKind::Scheduler);
    assert_eq!(me.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        at(me.heartbeat_time.as_ref().unwrap()),
        t("2025-12-20T12:00:00Z")
    );

    shutdown.cancel();
    scheduler.stopped().await;
    h.clock.advance(chrono::Duration::minutes(5));
    let me = h
        .components(ComponentKind::Scheduler)
        .await
        .into_iter()
        .find(|c| c.id == "sched-a")
        .unwrap();
    assert!(!me.alive, "no heartbeat for five minutes: down");
    assert_eq!(
        at(me.heartbeat_time.as_ref().unwrap()),
        t("2025-12-20T12:00:00Z"),
        "down since its last heartbeat"
    );
}
