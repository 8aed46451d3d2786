//! Every call has a deadline; a long poll names its own.

use std::time::Duration;

use tonic::Code;
use vigil_catalog_client::{CallSettings, CatalogClient, ErrorKind, RetryPolicy};
use vigil_proto::catalog::v1::{EventKind, LeaseJobRequest, WatchEventsRequest};

use crate::common::{FaultyCatalog, put_state};

/// A lease that waits `wait` for a job; the catalog holds the call that
/// long when no job is queued.
fn lease(wait: Duration) -> LeaseJobRequest {
    LeaseJobRequest {
        executor_id: "executor-1".into(),
        capabilities: vec!["engine:sqlite".into()],
        lease_duration: Some(vigil_proto::duration_to_proto(Duration::from_secs(60))),
        wait: Some(vigil_proto::duration_to_proto(wait)),
    }
}

/// A client of `catalog` whose calls have `deadline`.
fn with_deadline(catalog: &FaultyCatalog, deadline: Duration) -> CatalogClient {
    catalog.client(CallSettings {
        deadline,
        retry: RetryPolicy::default(),
    })
}

#[tokio::test]
async fn a_call_the_catalog_holds_past_the_deadline_ends_with_deadline_exceeded() {
    let catalog = FaultyCatalog::start().await;
    let deadline = Duration::from_millis(200);
    let client = with_deadline(&catalog, deadline);
    let started = std::time::Instant::now();
    let err = client
        .call(lease(Duration::from_secs(20)))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        (err.rpc(), err.code()),
        ("LeaseJob", Code::DeadlineExceeded)
    );
    assert_eq!(err.kind(), ErrorKind::Transient);
    // The failure bound: far below the 20 s the catalog would have waited.
    assert!(
        took >= deadline && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert_eq!(catalog.faults.calls(), 1, "a lease is a write: sent once");
}

#[tokio::test]
async fn a_long_poll_gets_its_own_limit() {
    let catalog = FaultyCatalog::start().await;
    let client = with_deadline(&catalog, Duration::from_millis(100));
    let wait = Duration::from_millis(400);
    let answer = client
        .call_within(lease(wait), wait + Duration::from_secs(10))
        .await
        .expect("the poll ends when the catalog's wait does");
    assert!(answer.job.is_none());
}

#[tokio::test]
async fn a_watch_stream_outlives_the_deadline() {
    let catalog = FaultyCatalog::start().await;
    let deadline = Duration::from_millis(100);
    let client = with_deadline(&catalog, deadline);
    let watch = WatchEventsRequest {
        kinds: vec![EventKind::ScheduleChanged as i32],
    };
    let mut events = client.watch_events(watch).await.unwrap();
    let sent = catalog.faults.metadata(0);
    assert!(
        sent.get("grpc-timeout").is_none(),
        "the stream has no deadline"
    );
    // A call the catalog holds longer than the deadline, then a change.
    let wait = deadline * 4;
    client.call_within(lease(wait), wait * 10).await.unwrap();
    put_state(&client, "nightly#backup").await.unwrap();
    let event = events.message().await.unwrap().expect("the stream is open");
    assert_eq!(
        (event.kind(), event.name.as_str()),
        (EventKind::ScheduleChanged, "nightly#backup")
    );
}
