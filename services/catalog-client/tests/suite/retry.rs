//! Reads are tried again after a transient failure, a bounded number of
//! times; writes are sent once.

use std::num::NonZeroU32;
use std::time::Duration;

use tonic::Code;
use vigil_backoff::Backoff;
use vigil_catalog_client::{CallSettings, ErrorKind, RetryPolicy};
use vigil_proto::catalog::v1::{
    GetScheduleStateRequest, ListScheduleStatesRequest, PutScheduleStateRequest, ScheduleState,
};

use crate::common::FaultyCatalog;

fn settings(attempts: u32) -> CallSettings {
    CallSettings {
        deadline: Duration::from_secs(10),
        retry: RetryPolicy {
            attempts: NonZeroU32::new(attempts).unwrap(),
            backoff: Backoff::new(Duration::from_millis(5), Duration::from_millis(20)),
        },
    }
}

fn state(key: &str) -> ScheduleState {
    ScheduleState {
        schedule: key.to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_read_succeeds_after_the_catalog_was_briefly_unavailable() {
    let catalog = FaultyCatalog::start().await;
    let client = catalog.client(settings(4));
    client
        .call(PutScheduleStateRequest {
            state: Some(state("nightly#backup")),
        })
        .await
        .unwrap();
    catalog.faults.refuse_next(2, Code::Unavailable);
    let states = client
        .all(ListScheduleStatesRequest::default())
        .await
        .expect("the third attempt reaches the catalog");
    assert_eq!(states.len(), 1);
    assert_eq!(
        catalog.faults.calls(),
        1 + 3,
        "one write, three attempts of the read"
    );
}

#[tokio::test]
async fn busy_and_slow_answers_are_transient_too() {
    let catalog = FaultyCatalog::start().await;
    let client = catalog.client(settings(3));
    catalog.faults.refuse_next(1, Code::ResourceExhausted);
    catalog.faults.refuse_next(1, Code::DeadlineExceeded);
    client
        .all(ListScheduleStatesRequest::default())
        .await
        .unwrap();
    assert_eq!(catalog.faults.calls(), 3);
}

#[tokio::test]
async fn retries_of_a_read_are_bounded() {
    let catalog = FaultyCatalog::start().await;
    let client = catalog.client(settings(3));
    catalog.faults.refuse_next(10, Code::Unavailable);
    let err = client
        .call(GetScheduleStateRequest {
            schedule: "nightly#backup".into(),
            outcome_count: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.rpc(), err.code()),
        ("GetScheduleState", Code::Unavailable)
    );
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(catalog.faults.calls(), 3);
}

#[tokio::test]
async fn a_read_is_not_retried_after_a_failure_that_is_not_transient() {
    let catalog = FaultyCatalog::start().await;
    let client = catalog.client(settings(4));
    catalog.faults.refuse_next(1, Code::Internal);
    let err = client
        .all(ListScheduleStatesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.rpc(), err.code()),
        ("ListScheduleStates", Code::Internal)
    );
    assert_eq!(catalog.faults.calls(), 1);
}

#[tokio::test]
async fn a_write_is_sent_once_even_when_the_catalog_is_unavailable() {
    let catalog = FaultyCatalog::start().await;
    let client = catalog.client(settings(4));
    catalog.faults.refuse_next(1, Code::Unavailable);
    let err = client
        .call(PutScheduleStateRequest {
            state: Some(state("nightly#backup")),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.rpc(), err.code()),
        ("PutScheduleState", Code::Unavailable)
    );
    assert_eq!(catalog.faults.calls(), 1, "the write was not repeated");
    let missing = client
        .call(GetScheduleStateRequest {
            schedule: "nightly#backup".into(),
            outcome_count: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "nothing was written");
}
