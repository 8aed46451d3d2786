//! Test helpers (feature `testing`): a real catalog serving both services on
//! an ephemeral loopback port, on SQLite or on a fresh PostgreSQL database.
//!
//! ```no_run
//! # async fn t() {
//! use vigil_catalog::testing;
//! let dir = tempfile::tempdir().unwrap();
//! let cat = testing::spawn(testing::sqlite_options(dir.path())).await;
//! let mut client = cat.coordination_client().await;
//! # let _ = &mut client; }
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use sqlx::Connection;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use vigil_proto::catalog::v1::coordination_service_client::CoordinationServiceClient;

use crate::{Catalog, CatalogOptions};

/// Environment variable with the URL of a PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "VIGIL_TEST_POSTGRES_URL";

/// A running catalog. Dropping it stops the server and its background task.
#[derive(Debug)]
pub struct TestCatalog {
    /// Where the gRPC services listen.
    pub addr: SocketAddr,
    /// The catalog behind the server, for direct store access.
    pub catalog: Catalog,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
}

impl TestCatalog {
    /// `http://127.0.0.1:port`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A channel to the catalog, with TCP_NODELAY.
    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(self.endpoint())
            .expect("a valid endpoint")
            .tcp_nodelay(true)
            .connect()
            .await
            .expect("connect to the test catalog")
    }

    /// A connected `CatalogService` client.
    pub async fn catalog_client(&self) -> CatalogServiceClient<Channel> {
        CatalogServiceClient::new(self.channel().await)
    }

    /// A connected `CoordinationService` client.
    pub async fn coordination_client(&self) -> CoordinationServiceClient<Channel> {
        CoordinationServiceClient::new(self.channel().await)
    }

    /// Stops the server and waits until it has drained.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let server = std::mem::replace(&mut self.server, tokio::spawn(async {}));
        let _ = server.await;
    }
}

impl Drop for TestCatalog {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Opens a catalog with `options` and serves both services on `127.0.0.1:0`,
/// with the background lease reaper running.
pub async fn spawn(options: CatalogOptions) -> TestCatalog {
    let catalog = Catalog::open(options).await.expect("open the test catalog");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let shutdown = CancellationToken::new();
    let router = tonic::transport::Server::builder()
        .add_service(catalog.catalog_service())
        .add_service(catalog.coordination_service())
        .add_service(catalog.access_service());
    let background = {
        let catalog = catalog.clone();
        let token = shutdown.clone();
        tokio::spawn(async move { catalog.run_background(token).await })
    };
    let token = shutdown.clone();
    let server = tokio::spawn(async move {
        // Without TCP_NODELAY every small answer waits for a delayed ACK.
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        if let Err(e) = router
            .serve_with_incoming_shutdown(incoming, token.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "test catalog server failed");
        }
        let _ = background.await;
    });
    TestCatalog {
        addr,
        catalog,
        shutdown,
        server,
    }
}

/// SQLite in `dir`, the wall clock, a one-second lease reaper.
pub fn sqlite_options(dir: &Path) -> CatalogOptions {
    let mut options = CatalogOptions::new(dir);
    options.lease_reap_interval = Duration::from_secs(1);
    options
}

/// The value of `var`, which points a test at a service outside the test
/// process (PostgreSQL, MariaDB or an S3 server). Such a test carries
/// `needs_postgres`, `needs_mysql` or `needs_s3` in its path: nextest's
/// default profile leaves it out (reported as skipped), and the `ci` profile
/// runs it. It never passes by skipping: without the variable it panics,
/// naming the variable to set.
pub fn service_env(var: &str) -> String {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{var} is not set: this test needs the service it names \
             (.ci/test.sh starts one and sets it)"
        ),
    }
}

/// Options for a fresh, uniquely named database on the PostgreSQL server of
/// `VIGIL_TEST_POSTGRES_URL`; panics when the variable is unset
/// ([`service_env`]).
pub async fn postgres_options_from_env() -> CatalogOptions {
    let admin_url = service_env(POSTGRES_ENV);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("{DB_PREFIX}{now}_{}", &suffix[..12]);
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect to VIGIL_TEST_POSTGRES_URL");
    drop_stale_databases(&mut admin, now).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    let _ = admin.close().await;
    let mut url = url::Url::parse(&admin_url).expect("VIGIL_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    let mut options = CatalogOptions::new(std::env::temp_dir());
    options.database_url = Some(url.to_string());
    options.lease_reap_interval = Duration::from_secs(1);
    options
}

/// Prefix of the databases made by [`postgres_options_from_env`].
const DB_PREFIX: &str = "vigil_cat_test_";

/// Drops databases this helper made more than an hour ago, best effort, so
/// repeated runs do not pile up databases on the server. Only names of the
/// helper's exact shape are touched, and a database still in use is kept.
async fn drop_stale_databases(admin: &mut sqlx::PgConnection, now: u64) {
    let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database")
        .fetch_all(&mut *admin)
        .await
        .unwrap_or_default();
    for name in names {
        let Some(rest) = name.strip_prefix(DB_PREFIX) else {
            continue;
        };
        let Some((stamp, suffix)) = rest.split_once('_') else {
            continue;
        };
        let shaped = suffix.len() == 12 && suffix.chars().all(|c| c.is_ascii_hexdigit());
        let old = stamp
            .parse::<u64>()
            .is_ok_and(|t| now.saturating_sub(t) > 3600);
        if shaped && old {
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\"");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&mut *admin)
                .await;
        }
    }
}

/// Writes `jobs` finished backups straight into the catalog's tables (the API
/// would take far longer than the benchmarks that need them): created over
/// the `span` before now, oldest first, round-robin over `configurations`,
/// one in 50 FAILED and the rest COMPLETED, each 1000 bytes read.
pub async fn seed_finished_jobs(
    catalog: &TestCatalog,
    configurations: &[String],
    jobs: usize,
    span: chrono::Duration,
) {
    assert!(!configurations.is_empty(), "jobs need a configuration");
    assert!(
        configurations.iter().all(|c| c
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_".contains(ch))),
        "configuration names go into the SQL text: plain keys only"
    );
    let pool = catalog.catalog.store().db().writer().clone();
    let now = chrono::Utc::now().timestamp_micros();
    let span = span.num_microseconds().unwrap_or(i64::MAX / 4).max(1);
    let step = (span / jobs.max(1) as i64).max(1);
    let mut tx = pool.begin().await.expect("begin the seeding transaction");
    let ids: Vec<usize> = (0..jobs).collect();
    for chunk in ids.chunks(500) {
        let mut sql = String::from(
            "INSERT INTO jobs (id, name, configuration, kind, job_trigger, state, backup_kind, \
             create_time, update_time, start_time, end_time, attempt, max_attempts, \
             cancel_requested, error, capabilities, warnings, trace_context, bytes_read) VALUES ",
        );
        for (k, i) in chunk.iter().enumerate() {
            let created = now - span + step * *i as i64;
            let (state, error) = if i % 50 == 0 {
                (4, "seeded failure")
            } else {
                (3, "")
            };
            if k > 0 {
                sql.push(',');
            }
            let configuration = &configurations[i % configurations.len()];
            sql.push_str(&format!(
                "('job-{i:07}', 'seeded_job_{i:07}', '{configuration}', 1, 1, {state}, 1, \
                 {created}, {created}, {created}, {}, 1, 3, 0, '{error}', '[]', '[]', '{{}}', 1000)",
                created + 60_000_000
            ));
        }
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .expect("insert seeded jobs");
    }
    tx.commit().await.expect("commit the seeded jobs");
    // PostgreSQL's autovacuum analyses a table after a bulk load like this
    // one within a minute, and the catalog's housekeeping refreshes SQLite's
    // statistics every ten minutes; do it now so plans are those a live
    // catalog gets.
    match catalog.catalog.store().db().dialect() {
        crate::db::Dialect::Postgres => {
            sqlx::query("ANALYZE jobs")
                .execute(&pool)
                .await
                .expect("analyse the seeded jobs");
        }
        crate::db::Dialect::Sqlite => catalog
            .catalog
            .store()
            .db()
            .refresh_statistics()
            .await
            .expect("refresh the statistics of the seeded jobs"),
    }
}
