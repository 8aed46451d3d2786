//! Alert webhooks: retried with backoff until delivered, one delivery per
//! transition, the delivery state recorded on the alert.

use tokio_util::sync::CancellationToken;
use vigil_proto::catalog::v1::AlertDelivery;

use crate::common::*;
use crate::receiver::Receiver;

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_the_same_delivery_three_times_and_it_is_recorded_delivered()
 {
    let h = Harness::sqlite("2025-12-20T09:30:00Z").await;
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(b"s3cret", 2).await;
    let shutdown = CancellationToken::new();
    let engine = h.engine_with_webhooks(
        "r1",
        webhook_settings(&hook.url, dir.path(), "s3cret"),
        shutdown.clone(),
    );
    h.create(config("c", "0 * * * *", "UTC")).await;
    engine.tick(h.now()).await.unwrap(); // no executor: one S8 alert opens

    let hits = hook.until("three attempts", |hits| hits.len() >= 3).await;
    assert_eq!(
        hits.iter().map(|h| h.answered).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    assert!(hits.iter().all(|h| h.signature_ok));
    assert!(
        hits.iter()
            .all(|h| h.idempotency_key == hits[0].idempotency_key),
        "{hits:#?}"
    );
    h.until(
        std::time::Duration::from_secs(10),
        "the delivery is recorded",
        || async {
            h.open_alert("no-capable-executor:c")
                .await
                .is_some_and(|a| {
                    a.delivery_state() == AlertDelivery::Delivered && a.delivery_detail.is_empty()
                })
        },
    )
    .await;
    shutdown.cancel();
}

#[tokio::test]
async fn two_replicas_seeing_the_same_condition_deliver_each_transition_once() {
    let h = Harness::sqlite("2025-12-20T09:30:00Z").await;
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(b"s3cret", 0).await;
    let shutdown = CancellationToken::new();
    let settings = webhook_settings(&hook.url, dir.path(), "s3cret");
    let a = h.engine_with_webhooks("a", settings.clone(), shutdown.clone());
    let b = h.engine_with_webhooks("b", settings, shutdown.clone());
    h.create(config("c", "0 * * * *", "UTC")).await;
    a.tick(h.now()).await.unwrap();
    b.tick(h.now()).await.unwrap();
    a.tick(h.now()).await.unwrap();

    // The condition clears: a capable executor reports.
    h.executor("e1", &["backup:full"]).await;
    b.tick(h.now()).await.unwrap();
    a.tick(h.now()).await.unwrap();
    let hits = hook
        .until("the resolution", |hits| {
            hits.iter().any(|h| h.event == "alert.resolved")
        })
        .await;
    let opened = hits.iter().filter(|h| h.event == "alert.opened").count();
    let resolved = hits.iter().filter(|h| h.event == "alert.resolved").count();
    assert_eq!((opened, resolved), (1, 1), "{hits:#?}");
    shutdown.cancel();
}
