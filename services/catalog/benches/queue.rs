//! The job queue under load: 16 workers, each on its own gRPC connection as
//! 16 executors would be, run lease → heartbeat → complete cycles against a
//! real catalog until the queue is empty. Each completion records the
//! backup's artifact in the same transaction, as a real executor's does.
//!
//! Prints cycles per second and the cycle latency (median, p99) on SQLite
//! and, when VIGIL_TEST_POSTGRES_URL is set, on PostgreSQL. Target: at least
//! 2,000 cycles/s on PostgreSQL. Also prints the CPU time each cycle cost
//! this process (the workers and the catalog) and, with a PostgreSQL server
//! on the same machine, the backends of the catalog's database (from /proc),
//! which does not depend on what else the machine runs, and the WAL flushes
//! the server made per cycle. The queued jobs' planner statistics are
//! refreshed before the cycles start, as a live catalog's are
//! (`VIGIL_BENCH_NO_ANALYZE=1` leaves them as they are).
//!
//! `cargo bench -p vigil-catalog --bench queue`
//! (`VIGIL_BENCH_JOBS` jobs, default 20,000; `VIGIL_BENCH_WORKERS`, default 16;
//! `VIGIL_BENCH_BACKEND=postgres` or `sqlite` for one backend only).

use std::time::{Duration, Instant};

use tonic::transport::{Channel, Endpoint};
use vigil_catalog::CatalogOptions;
use vigil_catalog::testing::{self, TestCatalog};
use vigil_proto::catalog::v1::coordination_service_client::CoordinationServiceClient;
use vigil_proto::catalog::v1::{
    Artifact, ArtifactFormat, ArtifactState, BackupConfiguration, BackupKind, CompleteJobRequest,
    CreateConfigurationRequest, EnqueueJobRequest, HeartbeatJobRequest, JobKind, JobProgress,
    JobStats, JobTrigger, LeaseJobRequest, Source,
};

const CONFIGURATION: &str = "queue-bench";
const TARGET: f64 = 2_000.0;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let jobs = number("VIGIL_BENCH_JOBS", 20_000).max(1);
    let workers = number("VIGIL_BENCH_WORKERS", 16).max(1);
    // `VIGIL_BENCH_BACKEND=postgres` (or `sqlite`) measures one backend only.
    let only = std::env::var("VIGIL_BENCH_BACKEND").unwrap_or_default();
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        if only != "postgres" {
            bench("sqlite", testing::sqlite_options(dir.path()), jobs, workers).await;
        }
        if only != "sqlite" && std::env::var_os(testing::POSTGRES_ENV).is_some() {
            let options = testing::postgres_options_from_env().await;
            bench("postgres", options, jobs, workers).await;
        }
    });
}

async fn bench(backend: &str, options: CatalogOptions, jobs: usize, workers: usize) {
    println!("== {backend}: {jobs} jobs, {workers} workers over gRPC");
    let server = testing::spawn(options).await;
    server
        .catalog_client()
        .await
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(BackupConfiguration {
                name: CONFIGURATION.into(),
                kind: BackupKind::Full as i32,
                source: Some(Source {
                    paths: vec!["/srv/data".into()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
        })
        .await
        .expect("create the configuration");
    let enqueued = Instant::now();
    enqueue(&server, jobs, workers).await;
    let enqueue_time = enqueued.elapsed();
    println!(
        "queued {jobs} jobs in {enqueue_time:.1?} ({:.0}/s over gRPC)",
        jobs as f64 / enqueue_time.as_secs_f64()
    );

    let pool = server.catalog.store().db().pool().clone();
    if std::env::var_os("VIGIL_BENCH_NO_ANALYZE").is_none() {
        analyze(&server).await;
    }
    let cpu_before = cpu_times(&pool, backend).await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|n| {
            let endpoint = server.endpoint();
            tokio::spawn(async move { work(&endpoint, n).await })
        })
        .collect();
    let mut latencies = Vec::with_capacity(jobs);
    for t in tasks {
        latencies.extend(t.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    let cpu_after = cpu_times(&pool, backend).await;
    assert_eq!(latencies.len(), jobs, "every job completed once");
    latencies.sort();
    let rate = jobs as f64 / elapsed.as_secs_f64();
    let verdict = if rate >= TARGET { "meets" } else { "MISSES" };
    println!(
        "{jobs} cycles in {elapsed:.2?}: {rate:.0} cycles/s; cycle median {:.1?}, p99 {:.1?}; \
         {verdict} the {TARGET} cycles/s target",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
    );
    let per_cycle = |before: u64, after: u64| after.saturating_sub(before) / jobs as u64 / 1000;
    let process = per_cycle(cpu_before.process, cpu_after.process);
    let database: u64 = cpu_after
        .backends
        .iter()
        .map(|(pid, ns)| ns.saturating_sub(cpu_before.backends.get(pid).copied().unwrap_or(0)))
        .sum::<u64>()
        / jobs as u64
        / 1000;
    if backend == "postgres" {
        println!(
            "CPU per cycle: {process} µs in this process (workers and catalog), \
             {database} µs in the PostgreSQL backends of its database"
        );
        let flushes = cpu_after.wal_flushes - cpu_before.wal_flushes;
        println!(
            "WAL flushes per cycle: {:.2} (the whole server's, from pg_stat_wal)",
            flushes as f64 / jobs as f64
        );
    } else {
        println!("CPU per cycle: {process} µs in this process (workers and catalog)");
    }
    server.stop().await;
}

/// Refreshes the planner statistics of the queued jobs, as PostgreSQL's
/// autovacuum does within a minute of such a load and the catalog's
/// housekeeping does for SQLite. The benchmark's database is minutes old:
/// without this, PostgreSQL keeps plans it made for the first few jobs on
/// each connection (`VIGIL_BENCH_NO_ANALYZE=1` shows that case).
async fn analyze(server: &TestCatalog) {
    let db = server.catalog.store().db();
    match db.dialect() {
        vigil_catalog::db::Dialect::Postgres => {
            sqlx::query("ANALYZE jobs, job_capabilities")
                .execute(db.pool())
                .await
                .expect("analyse the queued jobs");
        }
        vigil_catalog::db::Dialect::Sqlite => db
            .refresh_statistics()
            .await
            .expect("refresh the statistics of the queued jobs"),
    }
}

/// CPU nanoseconds used so far, from /proc (Linux): by this process's
/// threads, and by each PostgreSQL backend serving the catalog's database
/// when the server runs on this machine.
struct CpuTimes {
    process: u64,
    backends: std::collections::HashMap<i64, u64>,
    /// WAL flushes of the whole PostgreSQL server so far (`pg_stat_wal`).
    wal_flushes: i64,
}

async fn cpu_times(pool: &sqlx::AnyPool, backend: &str) -> CpuTimes {
    let on_cpu = |path: String| -> Option<u64> {
        std::fs::read_to_string(path)
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let process = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| on_cpu(format!("{}/schedstat", t.path().display())))
        .sum();
    let mut backends = std::collections::HashMap::new();
    let mut wal_flushes = 0;
    if backend == "postgres" {
        wal_flushes = sqlx::query_scalar("SELECT wal_sync FROM pg_stat_wal")
            .fetch_one(pool)
            .await
            .unwrap_or_default();
        let pids: Vec<i64> = sqlx::query_scalar(
            "SELECT CAST(pid AS BIGINT) FROM pg_stat_activity WHERE datname = current_database()",
        )
        .fetch_all(pool)
        .await
        .unwrap_or_default();
        for pid in pids {
            if let Some(ns) = on_cpu(format!("/proc/{pid}/schedstat")) {
                backends.insert(pid, ns);
            }
        }
    }
    CpuTimes {
        process,
        backends,
        wal_flushes,
    }
}

async fn connect(endpoint: &str) -> CoordinationServiceClient<Channel> {
    let channel = Endpoint::from_shared(endpoint.to_owned())
        .expect("endpoint")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connect to the catalog");
    CoordinationServiceClient::new(channel)
}

/// Queues `jobs` manual backups, from `workers` connections at once.
async fn enqueue(server: &TestCatalog, jobs: usize, workers: usize) {
    let tasks: Vec<_> = (0..workers)
        .map(|n| {
            let endpoint = server.endpoint();
            tokio::spawn(async move {
                let mut coord = connect(&endpoint).await;
                for i in (n..jobs).step_by(workers) {
                    coord
                        .enqueue_job(EnqueueJobRequest {
                            configuration: CONFIGURATION.into(),
                            kind: JobKind::Backup as i32,
                            trigger: JobTrigger::Manual as i32,
                            request_id: format!("bench-{i}"),
                            ..Default::default()
                        })
                        .await
                        .expect("enqueue");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("enqueuer");
    }
}

/// One executor: lease, heartbeat and complete until nothing is left.
/// Returns each cycle's latency.
async fn work(endpoint: &str, n: usize) -> Vec<Duration> {
    let mut coord = connect(endpoint).await;
    let executor_id = format!("bench-executor-{n}");
    let mut latencies = Vec::new();
    loop {
        let t = Instant::now();
        let leased = coord
            .lease_job(LeaseJobRequest {
                executor_id: executor_id.clone(),
                capabilities: vec!["backup:full".into()],
                ..Default::default()
            })
            .await
            .expect("lease")
            .into_inner();
        let Some(job) = leased.job else {
            return latencies;
        };
        coord
            .heartbeat_job(HeartbeatJobRequest {
                job_id: job.id.clone(),
                executor_id: executor_id.clone(),
                lease_token: leased.lease_token.clone(),
                progress: Some(JobProgress {
                    phase: "reading files".into(),
                    bytes_done: 512,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("heartbeat");
        coord
            .complete_job(CompleteJobRequest {
                job_id: job.id.clone(),
                executor_id: executor_id.clone(),
                lease_token: leased.lease_token,
                stats: Some(JobStats {
                    bytes_read: 1024,
                    ..Default::default()
                }),
                artifact: Some(Artifact {
                    format: ArtifactFormat::Snapshot as i32,
                    backup_kind: BackupKind::Full as i32,
                    state: ArtifactState::Available as i32,
                    location: format!("snapshots/{}", job.id),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("complete");
        latencies.push(t.elapsed());
    }
}
