//! One rule for a failed call: the RPC's name and the catalog's code, a
//! lost compare-and-set told apart; the credentials and the trace context
//! go with every call.

use tonic::Code;
use vigil_auth::{ClientCredentials, Token};
use vigil_catalog_client::{CallSettings, ErrorKind};
use vigil_proto::catalog::v1::{GetConfigurationRequest, PutScheduleStateRequest, ScheduleState};

use crate::common::FaultyCatalog;

#[tokio::test]
async fn a_lost_compare_and_set_is_a_conflict_naming_the_rpc() {
    let catalog = FaultyCatalog::start().await;
    let client = catalog.client(CallSettings::default());
    let put = |etag: &str| PutScheduleStateRequest {
        state: Some(ScheduleState {
            schedule: "nightly#backup".into(),
            etag: etag.into(),
            ..Default::default()
        }),
    };
    let stored = client.call(put("")).await.unwrap().state.unwrap();
    client.call(put(&stored.etag)).await.unwrap();
    let stale = client.call(put(&stored.etag)).await.unwrap_err();
    assert_eq!(
        (stale.rpc(), stale.code()),
        ("PutScheduleState", Code::Aborted)
    );
    assert_eq!(stale.kind(), ErrorKind::Conflict);
    let exists = client.call(put("")).await.unwrap_err();
    assert_eq!(
        (exists.code(), exists.kind()),
        (Code::AlreadyExists, ErrorKind::Conflict)
    );
}

#[tokio::test]
async fn not_found_keeps_the_catalog_message() {
    let catalog = FaultyCatalog::start().await;
    let client = catalog.client(CallSettings::default());
    let err = client
        .call(GetConfigurationRequest {
            name: "nightly".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.rpc(), err.kind()),
        ("GetConfiguration", ErrorKind::NotFound)
    );
    assert!(err.message().contains("nightly"), "{err}");
    assert!(
        err.to_string()
            .starts_with("catalog GetConfiguration failed"),
        "{err}"
    );
}

#[tokio::test]
async fn every_call_presents_the_token() {
    let catalog = FaultyCatalog::start().await;
    let credentials = ClientCredentials {
        token: Some(Token::new("vigil_c_test")),
        ..ClientCredentials::default()
    };
    let client = catalog.client_with(&credentials, CallSettings::default());
    let _ = client
        .call(GetConfigurationRequest {
            name: "nightly".into(),
        })
        .await;
    let metadata = catalog.faults.metadata(0);
    assert_eq!(
        metadata.get("authorization").unwrap().to_str().unwrap(),
        "Bearer vigil_c_test"
    );
    assert!(
        metadata.get("grpc-timeout").is_some(),
        "the deadline is sent along"
    );
}
