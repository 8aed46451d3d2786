//! Shared helpers of the suite.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tonic::transport::Channel;
use vigil_catalog::CatalogOptions;
use vigil_catalog::testing::{self, TestCatalog};
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use vigil_proto::catalog::v1::coordination_service_client::CoordinationServiceClient;
use vigil_proto::catalog::v1::*;
use vigil_server_common::clock::ManualClock;

/// Runs `body` on SQLite and on PostgreSQL.
macro_rules! both_backends {
    ($body:ident) => {
        mod $body {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let dir = tempfile::tempdir().expect("tempdir");
                super::$body(vigil_catalog::testing::sqlite_options(dir.path())).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn needs_postgres() {
                let options = vigil_catalog::testing::postgres_options_from_env().await;
                super::$body(options).await;
            }
        }
    };
}

/// A started catalog and its two clients.
pub(crate) struct Harness {
    pub server: TestCatalog,
    pub catalog: CatalogServiceClient<Channel>,
    pub coord: CoordinationServiceClient<Channel>,
}

pub(crate) async fn start(options: CatalogOptions) -> Harness {
    let server = testing::spawn(options).await;
    let catalog = server.catalog_client().await;
    let coord = server.coordination_client().await;
    Harness {
        server,
        catalog,
        coord,
    }
}

/// The suite's fixed start instant: 2025-12-20T02:00:00Z.
pub(crate) fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-12-20T02:00:00Z")
        .unwrap()
        .to_utc()
}

/// Options with a manual clock stopped at `t0()` and no background reaper in the way.
pub(crate) fn manual(mut options: CatalogOptions) -> (CatalogOptions, ManualClock) {
    let clock = ManualClock::new(t0());
    options.clock = Arc::new(clock.clone());
    options.lease_reap_interval = std::time::Duration::from_secs(3600);
    (options, clock)
}

pub(crate) fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    vigil_proto::timestamp_from_micros(t.timestamp_micros())
}

/// A valid FULL configuration with a daily schedule.
pub(crate) fn full(name: &str) -> BackupConfiguration {
    BackupConfiguration {
        name: name.into(),
        kind: BackupKind::Full as i32,
        enabled: Some(true),
        schedule: Some(Schedule {
            spec: Some(schedule::Spec::Cron("0 2 * * *".into())),
            timezone: "Europe/Berlin".into(),
            ..Default::default()
        }),
        source: Some(Source {
            paths: vec!["/srv/edms/documents".into()],
            ..Default::default()
        }),
        retention: Some(Retention {
            keep_daily: 7,
            ..Default::default()
        }),
        labels: [("app".to_owned(), "edms".to_owned())].into(),
        ..Default::default()
    }
}

/// A valid DATABASE configuration reading its password from the environment.
pub(crate) fn database(name: &str) -> BackupConfiguration {
    BackupConfiguration {
        name: name.into(),
        kind: BackupKind::Database as i32,
        source: Some(Source {
            database: Some(DatabaseSource {
                engine: DatabaseEngine::Postgres as i32,
                url: "postgres://edms@127.0.0.1:5432/edms".into(),
                password: Some(SecretRef {
                    source: Some(secret_ref::Source::Env("EDMS_DB_PASSWORD".into())),
                }),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every configuration, all pages.
pub(crate) async fn all_configurations(h: &mut Harness) -> Vec<BackupConfiguration> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = h
            .catalog
            .list_configurations(ListConfigurationsRequest {
                page_size: 2,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list configurations")
            .into_inner();
        out.extend(page.configurations);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

/// Every job, all pages.
pub(crate) async fn all_jobs(h: &mut Harness) -> Vec<BackupJob> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = h
            .catalog
            .list_jobs(ListJobsRequest {
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list jobs")
            .into_inner();
        out.extend(page.jobs);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

/// The field of the first BadRequest violation of `status`.
pub(crate) fn bad_field(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let bad = details.bad_request().expect("a BadRequest detail");
    bad.field_violations[0].field.clone()
}

/// A scheduled BACKUP enqueue request.
pub(crate) fn scheduled(configuration: &str, due: DateTime<Utc>) -> EnqueueJobRequest {
    EnqueueJobRequest {
        configuration: configuration.into(),
        kind: JobKind::Backup as i32,
        trigger: JobTrigger::Scheduled as i32,
        due_time: Some(ts(due)),
        schedule: configuration.into(),
        ..Default::default()
    }
}

/// Every capability an executor can have.
pub(crate) fn all_capabilities() -> Vec<String> {
    [
        "backup:full",
        "backup:database",
        "backup:export",
        "restore",
        "verify",
        "prune",
        "upload",
        "engine:postgres",
        "engine:mysql",
        "engine:sqlite",
    ]
    .map(String::from)
    .to_vec()
}
