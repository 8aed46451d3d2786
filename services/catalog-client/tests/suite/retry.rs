//! Reads are tried again after a transient failure, a bounded number of
//! times; writes are sent once.

use std::num::NonZeroU32;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::Code;
use vigil_auth::ClientCredentials;
use vigil_backoff::Backoff;
use vigil_catalog_client::{CallSettings, CatalogClient, ErrorKind, RetryPolicy};

use crate::common::{FaultyCatalog, get_state, list_states, put_state};

fn settings(attempts: u32) -> CallSettings {
    CallSettings {
        deadline: Duration::from_secs(10),
        retry: RetryPolicy {
            attempts: NonZeroU32::new(attempts).unwrap(),
            backoff: Backoff::new(Duration::from_millis(5), Duration::from_millis(20)),
        },
    }
}

/// A client for whatever serves on `listener`, four attempts for reads.
fn client_for(listener: &TcpListener) -> CatalogClient {
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    CatalogClient::connect_lazy(&ClientCredentials::default(), &endpoint)
        .unwrap()
        .with_settings(settings(4))
}

#[tokio::test]
async fn a_read_succeeds_after_the_catalog_was_briefly_unavailable() {
    let catalog = FaultyCatalog::start().await;
    let client = catalog.client(settings(4));
    put_state(&client, "nightly#backup").await.unwrap();
    catalog.faults.refuse_next(2, Code::Unavailable);
    let states = list_states(&client)
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
async fn a_read_succeeds_once_the_catalog_is_back_on_its_port() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = client_for(&listener);
    let read = tokio::spawn(async move { list_states(&client).await });
    // The first attempt's connection is closed unanswered, as by a catalog
    // going away; then the catalog comes up on the same port.
    let (first, _) = listener.accept().await.unwrap();
    drop(first);
    let _catalog = FaultyCatalog::start_on(listener).await;
    let states = read
        .await
        .unwrap()
        .expect("a later attempt reaches the catalog");
    assert!(states.is_empty());
}

#[tokio::test]
async fn a_write_is_not_sent_again_after_its_connection_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = client_for(&listener);
    let write = tokio::spawn(async move { put_state(&client, "nightly#backup").await });
    let (first, _) = listener.accept().await.unwrap();
    drop(first);
    let err = write.await.unwrap().unwrap_err();
    assert_eq!(
        (err.rpc(), err.kind()),
        ("PutScheduleState", ErrorKind::Transient)
    );
    // A second attempt would have connected before the call returned.
    let listener = listener.into_std().unwrap();
    let next = listener.accept().map(|_| ()).unwrap_err();
    assert_eq!(
        next.kind(),
        std::io::ErrorKind::WouldBlock,
        "no second connection"
    );
}

#[tokio::test]
async fn busy_and_slow_answers_are_transient_too() {
    let catalog = FaultyCatalog::start().await;
    let client = catalog.client(settings(3));
    catalog.faults.refuse_next(1, Code::ResourceExhausted);
    catalog.faults.refuse_next(1, Code::DeadlineExceeded);
    list_states(&client).await.unwrap();
    assert_eq!(catalog.faults.calls(), 3);
}

#[tokio::test]
async fn retries_of_a_read_are_bounded() {
    let catalog = FaultyCatalog::start().await;
    let client = catalog.client(settings(3));
    catalog.faults.refuse_next(10, Code::Unavailable);
    let err = get_state(&client, "nightly#backup").await.unwrap_err();
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
    let err = list_states(&client).await.unwrap_err();
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
    let err = put_state(&client, "nightly#backup").await.unwrap_err();
    assert_eq!(
        (err.rpc(), err.code()),
        ("PutScheduleState", Code::Unavailable)
    );
    assert_eq!(catalog.faults.calls(), 1, "the write was not repeated");
    let missing = get_state(&client, "nightly#backup").await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "nothing was written");
}
