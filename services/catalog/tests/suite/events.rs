//! WatchEvents, in one process and across replicas sharing PostgreSQL.

use std::time::Duration;

use futures::StreamExt;
use vigil_catalog::CatalogOptions;
use vigil_proto::catalog::v1::*;

use crate::common::*;

both_backends!(watch_events_reports_changes_by_kind);
async fn watch_events_reports_changes_by_kind(options: CatalogOptions) {
    let mut h = start(options).await;
    let mut all = h
        .coord
        .watch_events(WatchEventsRequest { kinds: vec![] })
        .await
        .unwrap()
        .into_inner();
    let mut jobs_only = h
        .coord
        .watch_events(WatchEventsRequest {
            kinds: vec![EventKind::JobQueued as i32],
        })
        .await
        .unwrap()
        .into_inner();
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    let job = h
        .coord
        .enqueue_job(scheduled("daily", t0()))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();

    let first = all.next().await.unwrap().unwrap();
    assert_eq!(
        (first.kind, first.name.as_str()),
        (EventKind::ConfigurationChanged as i32, "daily")
    );
    let second = all.next().await.unwrap().unwrap();
    assert_eq!(
        (second.kind, second.id.as_str()),
        (EventKind::JobQueued as i32, job.id.as_str())
    );
    let only = jobs_only.next().await.unwrap().unwrap();
    assert_eq!(
        only.kind,
        EventKind::JobQueued as i32,
        "the filter drops configuration events"
    );

    let err = h
        .coord
        .watch_events(WatchEventsRequest { kinds: vec![99] })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "kinds[0]");
}

/// Two catalog replicas on one PostgreSQL database see each other's changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_relay_changes_over_needs_postgres() {
    let options = vigil_catalog::testing::postgres_options_from_env().await;
    let mut a = start(options.clone()).await;
    let mut b = start(options).await;
    let mut watch_b = b
        .coord
        .watch_events(WatchEventsRequest { kinds: vec![] })
        .await
        .unwrap()
        .into_inner();
    // B's listener connects in the background; probe until a change made
    // through A shows up at B.
    let relayed = tokio::time::timeout(Duration::from_secs(20), async {
        for i in 0.. {
            let name = format!("probe{i}");
            a.catalog
                .create_configuration(CreateConfigurationRequest {
                    configuration: Some(full(&name)),
                })
                .await
                .unwrap();
            if let Ok(Some(Ok(event))) =
                tokio::time::timeout(Duration::from_millis(500), watch_b.next()).await
            {
                assert_eq!(event.kind, EventKind::ConfigurationChanged as i32);
                return event.name;
            }
        }
        unreachable!()
    })
    .await
    .expect("a change made through replica A reached replica B");
    assert!(relayed.starts_with("probe"));
    // Drain the rest of the probes.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), watch_b.next()).await {
    }

    let job = a
        .coord
        .enqueue_job(scheduled("probe0", t0()))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), watch_b.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.kind, event.id.as_str()),
        (EventKind::JobQueued as i32, job.id.as_str())
    );
    // Replica B leases the job queued through A.
    let leased = b
        .coord
        .lease_job(LeaseJobRequest {
            executor_id: "e".into(),
            capabilities: all_capabilities(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(leased.id, job.id);
}
