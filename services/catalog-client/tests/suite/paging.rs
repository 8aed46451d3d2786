//! One page loop for every List RPC. (Its guard against a repeated page
//! token is shown in the unit tests of `src/page.rs`: a real catalog never
//! repeats one.)

use tonic::Code;
use vigil_catalog_client::CallSettings;
use vigil_proto::catalog::v1::ListScheduleStatesRequest;

use crate::common::{FaultyCatalog, list_states, put_state};

#[tokio::test]
async fn every_page_is_read_and_each_page_is_a_call() {
    let catalog = FaultyCatalog::start().await;
    let client = catalog.client(CallSettings::default());
    for i in 0..5 {
        put_state(&client, &format!("c{i}#backup")).await.unwrap();
    }
    let before = catalog.faults.calls();
    let states = client
        .all(ListScheduleStatesRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut keys: Vec<_> = states.into_iter().map(|s| s.schedule).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "c0#backup",
            "c1#backup",
            "c2#backup",
            "c3#backup",
            "c4#backup"
        ]
    );
    assert_eq!(catalog.faults.calls() - before, 3, "pages of 2, 2 and 1");
}

#[tokio::test]
async fn a_page_that_fails_fails_the_listing_naming_the_rpc() {
    let catalog = FaultyCatalog::start().await;
    let client = catalog.client(CallSettings::default());
    catalog.faults.refuse_next(1, Code::PermissionDenied);
    let err = list_states(&client).await.unwrap_err();
    assert_eq!(
        (err.rpc(), err.code()),
        ("ListScheduleStates", Code::PermissionDenied)
    );
}
