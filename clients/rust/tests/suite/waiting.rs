//! Waiting for jobs and paginating lists against a real tonic server.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use vigil_client::proto::catalog::v1::catalog_service_server::CatalogServiceServer;
use vigil_client::proto::catalog::v1::{JobState, ListJobsRequest};

use support::catalog::{ScriptedCatalog, WatchMode};

async fn catalog_server(c: Arc<ScriptedCatalog>) -> support::Running {
    support::serve(
        tonic::transport::Server::builder().add_service(CatalogServiceServer::from_arc(c)),
    )
    .await
}

#[tokio::test]
async fn wait_reconnects_a_broken_watch() {
    let catalog = Arc::new(ScriptedCatalog::new(WatchMode::BreakOnce));
    let server = catalog_server(catalog.clone()).await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let mut seen = Vec::new();
    let job = client
        .wait_for_job("j1", None, |j| seen.push(j.state()))
        .await
        .unwrap();
    assert_eq!(job.state(), JobState::Completed);
    assert_eq!(catalog.watch_calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        seen,
        vec![JobState::Running, JobState::Running, JobState::Completed]
    );
    assert_eq!(
        catalog.get_job_calls.load(Ordering::SeqCst),
        0,
        "no polling while watch works"
    );
}

#[tokio::test]
async fn wait_falls_back_to_polling_when_watch_is_unimplemented() {
    let catalog = Arc::new(ScriptedCatalog::new(WatchMode::Unimplemented));
    let server = catalog_server(catalog.clone()).await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let mut seen = Vec::new();
    let job = client
        .wait_for_job("j1", None, |j| seen.push(j.state()))
        .await
        .unwrap();
    assert_eq!(job.state(), JobState::Completed);
    assert_eq!(catalog.watch_calls.load(Ordering::SeqCst), 1);
    assert_eq!(catalog.get_job_calls.load(Ordering::SeqCst), 4);
    // Unchanged polls are not reported twice.
    assert_eq!(
        seen,
        vec![JobState::Queued, JobState::Running, JobState::Completed]
    );
}

#[tokio::test]
async fn wait_for_unknown_job_is_not_found() {
    let catalog = Arc::new(ScriptedCatalog::new(WatchMode::Unimplemented));
    let server = catalog_server(catalog.clone()).await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let err = client.wait_for_job("nope", None, |_| {}).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert!(err.to_string().starts_with("id: "), "{err}");
}

#[tokio::test]
async fn list_jobs_follows_every_page_and_take_stops_early() {
    let catalog = Arc::new(ScriptedCatalog {
        job_count: 25,
        ..ScriptedCatalog::new(WatchMode::BreakOnce)
    });
    let server = catalog_server(catalog.clone()).await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let filter = ListJobsRequest {
        page_size: 10,
        ..Default::default()
    };
    let all: Vec<_> = client
        .list_jobs(filter.clone())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 25);
    assert_eq!(all[24].id, "j24");

    let first: Vec<_> = client
        .list_jobs(filter)
        .take(3)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["j0", "j1", "j2"]
    );
}
