//! The retry policy and timeouts against a real tonic server.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::TryStreamExt;
use tonic::Code;
use vigil_client::proto::catalog::v1::catalog_service_server::CatalogServiceServer;
use vigil_client::proto::catalog::v1::{CreateJobRequest, JobKind};
use vigil_client::proto::scheduler::v1::scheduler_service_server::SchedulerServiceServer;
use vigil_client::{Error, VigilClient};

use support::catalog::{ScriptedCatalog, WatchMode};
use support::scheduler::ScriptedScheduler;

async fn scheduler_server(s: Arc<ScriptedScheduler>) -> support::Running {
    support::serve(
        tonic::transport::Server::builder().add_service(SchedulerServiceServer::from_arc(s)),
    )
    .await
}

#[tokio::test]
async fn idempotent_read_is_retried_through_unavailable() {
    let sched = Arc::new(ScriptedScheduler {
        list_failures: 2,
        ..Default::default()
    });
    let server = scheduler_server(sched.clone()).await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let views: Vec<_> = client
        .list_schedules(1)
        .try_collect()
        .await
        .expect("third attempt succeeds");
    assert_eq!(views.len(), 1);
    assert_eq!(sched.list_calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn idempotent_read_gives_up_after_max_attempts() {
    let sched = Arc::new(ScriptedScheduler {
        list_failures: 100,
        ..Default::default()
    });
    let server = scheduler_server(sched.clone()).await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let err = client
        .list_schedules(1)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(
        sched.list_calls.load(Ordering::SeqCst),
        support::fast_retry().max_attempts
    );
}

#[tokio::test]
async fn non_idempotent_call_is_sent_once() {
    let sched = Arc::new(ScriptedScheduler::default());
    let server = scheduler_server(sched.clone()).await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let err = client
        .trigger_schedule("daily_full_backup")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(
        sched.trigger_calls.load(Ordering::SeqCst),
        1,
        "a trigger must never be retried"
    );
}

#[tokio::test]
async fn request_timeout_cuts_a_hanging_call_and_reads_retry_it() {
    let sched = Arc::new(ScriptedScheduler::default());
    let server = scheduler_server(sched.clone()).await;
    let client = support::client(&server, Duration::from_millis(150)).await;

    let err = client
        .get_schedule("daily_full_backup", 0, 0)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err}");
    assert_eq!(
        sched.get_calls.load(Ordering::SeqCst),
        support::fast_retry().max_attempts
    );
}

#[tokio::test]
async fn invalid_argument_is_not_retried_and_keeps_field_violations() {
    let sched = Arc::new(ScriptedScheduler::default());
    let server = scheduler_server(sched.clone()).await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let err = client
        .preview_schedule(Default::default(), 5, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(matches!(err, Error::Server(_)));
    let violations = err.field_violations();
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field, "schedule.cron");
    assert_eq!(
        err.to_string(),
        "schedule.cron: expected 5 or 6 fields, got 3"
    );
    assert_eq!(sched.preview_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn create_job_is_retried_only_with_a_request_id() {
    let catalog = Arc::new(ScriptedCatalog {
        create_job_failures: 1,
        ..ScriptedCatalog::new(WatchMode::BreakOnce)
    });
    let server = support::serve(
        tonic::transport::Server::builder()
            .add_service(CatalogServiceServer::from_arc(catalog.clone())),
    )
    .await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let without_id = CreateJobRequest {
        configuration: "c".into(),
        kind: JobKind::Backup as i32,
        ..Default::default()
    };
    let err = client.create_job(without_id).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(catalog.create_job_calls.load(Ordering::SeqCst), 1);

    // run_backup sets a request id, so its transient failure is retried with the same id.
    let catalog = Arc::new(ScriptedCatalog {
        create_job_failures: 1,
        ..ScriptedCatalog::new(WatchMode::BreakOnce)
    });
    let server = support::serve(
        tonic::transport::Server::builder()
            .add_service(CatalogServiceServer::from_arc(catalog.clone())),
    )
    .await;
    let client = support::client(&server, Duration::from_secs(5)).await;
    let job = client.run_backup("c").await.expect("retried");
    assert_eq!(job.id, "j1");
    let ids = catalog.request_ids.lock().unwrap().clone();
    assert_eq!(ids.len(), 2);
    assert!(!ids[0].is_empty());
    assert_eq!(ids[0], ids[1], "a retry must repeat the same request id");
}

#[tokio::test]
async fn connecting_to_a_closed_port_names_the_endpoint() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = VigilClient::builder()
        .endpoint(&url)
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(err.to_string().contains(&url), "{err}");
}
