//! Fire lateness: 10,000 enabled schedules, all due in the same minute, on
//! SQLite and (when VIGIL_TEST_POSTGRES_URL is set) on PostgreSQL.
//!
//! The catalog runs in this process; the scheduler runs as a child process
//! (this same binary in scheduler mode), so its CPU time and peak RSS are
//! its own. Prints p50, p99 and max lateness (job creation time minus due
//! time), the scheduler's CPU seconds and peak RSS while firing, and its
//! idle CPU between due times; asserts that every due run was enqueued
//! exactly once. Target: p99 lateness at most 1 s.
//!
//! `cargo bench -p vigil-scheduler --bench fire_lateness`
//! (`VIGIL_BENCH_SCHEDULES=2000` for a quicker run).
//!
//! `VIGIL_BENCH_BURST=1` puts every schedule on the same second instead;
//! `VIGIL_BENCH_REPLICAS=3` runs three scheduler replicas sharing the work;
//! `VIGIL_BENCH_KILL=1` kills one replica with SIGKILL 100 ms into the burst
//! (its share is then fired by the others after the takeover delay, so
//! lateness grows; the figure that matters is zero duplicates).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike, Utc};
use tonic::transport::{Channel, Endpoint};
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use vigil_proto::catalog::v1::coordination_service_client::CoordinationServiceClient;
use vigil_proto::catalog::v1::{
    self as pb, ApplyConfigurationsRequest, BackupConfiguration, BackupKind, Component,
    ComponentKind, ListJobsRequest, ListScheduleStatesRequest, ReportHeartbeatRequest, Source,
};

const ROLE_ENV: &str = "VIGIL_BENCH_ROLE";
const CATALOG_ENV: &str = "VIGIL_BENCH_CATALOG";
const REPLICA_ENV: &str = "VIGIL_BENCH_REPLICA";
/// How long the idle phase (nothing due) is measured: long enough to hold
/// several sweeps of every schedule, so the figure is their average cost.
const IDLE_WINDOW: Duration = Duration::from_secs(60);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if std::env::var(ROLE_ENV).as_deref() == Ok("scheduler") {
        // As `vigild` does at start, so the figures are the shipped binary's.
        vigil_server_common::memory::limit_malloc_arenas();
        // `RUST_LOG=vigil_scheduler=debug` shows each tick's phases.
        if std::env::var_os("RUST_LOG").is_some() {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_writer(std::io::stderr)
                .init();
        }
        runtime.block_on(run_scheduler());
        return;
    }
    let schedules: usize = std::env::var("VIGIL_BENCH_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let sqlite = vigil_catalog::testing::sqlite_options(dir.path());
        let sqlite_p99 = bench("sqlite", sqlite, schedules).await;
        // PostgreSQL is measured when the bench is pointed at one.
        let pg_p99 = match std::env::var_os("VIGIL_TEST_POSTGRES_URL") {
            Some(_) => {
                let options = vigil_catalog::testing::postgres_options_from_env().await;
                Some(bench("postgres", options, schedules).await)
            }
            None => None,
        };
        for (backend, p99) in [("sqlite", Some(sqlite_p99)), ("postgres", pg_p99)] {
            if let Some(p99) = p99 {
                let verdict = if p99 <= Duration::from_secs(1) {
                    "meets"
                } else {
                    "MISSES"
                };
                println!("{backend}: p99 lateness {p99:?} {verdict} the 1 s target");
            }
        }
    });
}

/// The scheduler child: runs one replica until its stdin closes.
async fn run_scheduler() {
    let endpoint = std::env::var(CATALOG_ENV).expect("catalog endpoint");
    let replica_id = std::env::var(REPLICA_ENV).unwrap_or_else(|_| "bench".into());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let scheduler = vigil_scheduler::Scheduler::start(
        vigil_scheduler::SchedulerOptions {
            catalog_endpoint: endpoint,
            replica_id,
            clock: vigil_server_common::clock::system(),
            settings: vigil_scheduler::SchedulerSettings {
                system_schedules: false,
                ..Default::default()
            },
            endpoint: String::new(),
        },
        shutdown.clone(),
    )
    .await
    .expect("start the scheduler");
    // The parent closes our stdin to stop us.
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        let _ = std::io::stdin().read_line(&mut sink);
    })
    .await
    .ok();
    shutdown.cancel();
    scheduler.stopped().await;
}

async fn bench(
    backend: &str,
    mut options: vigil_catalog::CatalogOptions,
    schedules: usize,
) -> Duration {
    let burst = flag("VIGIL_BENCH_BURST");
    let kill = flag("VIGIL_BENCH_KILL");
    let replicas: usize = std::env::var("VIGIL_BENCH_REPLICAS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    println!(
        "== {backend}: {schedules} schedules due {}, {replicas} scheduler replica(s){}",
        if burst {
            "on the same second"
        } else {
            "in one minute"
        },
        if kill {
            ", one killed with SIGKILL during the burst"
        } else {
            ""
        }
    );
    options.clock = vigil_server_common::clock::system();
    let (endpoint, _stop) = serve_catalog(options).await;
    let channel = Endpoint::from_shared(endpoint.clone())
        .unwrap()
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap();
    let cat = CatalogServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
    let coord = CoordinationServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
    let heartbeat = tokio::spawn(executor_heartbeat(coord.clone()));

    // The due minute: the next whole minute far enough away to create and
    // arm every schedule first (75 s, and 2 s more per thousand schedules).
    let now = Utc::now();
    let lead = 75 + 2 * (schedules as i64 / 1000);
    let due_minute = (now + chrono::Duration::seconds(lead))
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap()
        + chrono::Duration::minutes(1);
    let created = Instant::now();
    create_configurations(&cat, schedules, due_minute).await;
    println!(
        "created {schedules} configurations in {:.1?}",
        created.elapsed()
    );

    let mut children: Vec<Child> = (0..replicas)
        .map(|i| spawn_scheduler(&endpoint, &format!("bench-{i}")))
        .collect();
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    let armed = Instant::now();
    wait_until(
        || async { armed_count(&coord).await >= schedules },
        Duration::from_secs(120),
        "every schedule armed",
    )
    .await;
    println!(
        "scheduler armed {schedules} schedules in {:.1?}",
        armed.elapsed()
    );

    // Firing: from just before the minute until every run is enqueued.
    let until_start = (due_minute - Utc::now() - chrono::Duration::seconds(2))
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(until_start).await;
    // The replica to be killed is left out: its CPU time is gone with it.
    let live: Vec<u32> = pids.iter().skip(usize::from(kill)).copied().collect();
    let cpu_before = cpu_seconds(&live);
    if kill {
        let at = (due_minute + chrono::Duration::milliseconds(100) - Utc::now())
            .to_std()
            .unwrap_or_default();
        tokio::time::sleep(at).await;
        children[0].kill().expect("SIGKILL a replica");
        let _ = children[0].wait();
        println!("killed replica bench-0 with SIGKILL 100 ms after the due second");
    }
    // Do not load the shared cores with polling while the minute fires.
    let span = if burst { 2 } else { 61 };
    let until_end = (due_minute + chrono::Duration::seconds(span) - Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(until_end).await;
    wait_until(
        || async { job_count(&cat).await >= schedules },
        Duration::from_secs(60 + 120),
        "every due run enqueued",
    )
    .await;
    let cpu_firing = cpu_seconds(&live) - cpu_before;
    let peak_rss = live.iter().map(|p| peak_rss_kib(*p)).max().unwrap_or(0);

    // Idle: nothing is due for an hour.
    let idle_before = cpu_seconds(&live);
    tokio::time::sleep(IDLE_WINDOW).await;
    let idle = cpu_seconds(&live) - idle_before;

    let jobs = all_jobs(&cat).await;
    for child in children.iter_mut().skip(usize::from(kill)) {
        stop_child(child);
    }
    heartbeat.abort();

    let mut per_config: HashMap<&str, usize> = HashMap::new();
    let mut lateness: Vec<Duration> = Vec::with_capacity(jobs.len());
    for job in &jobs {
        *per_config.entry(job.configuration.as_str()).or_default() += 1;
        let due = at(job.due_time.as_ref().expect("scheduled job has a due time"));
        let created = at(job.create_time.as_ref().expect("job has a create time"));
        assert!(
            due >= due_minute && due < due_minute + chrono::Duration::minutes(1),
            "due time {due} outside the minute"
        );
        lateness.push((created - due).to_std().unwrap_or_default());
    }
    let duplicates = per_config.values().filter(|n| **n > 1).count();
    println!(
        "jobs: {} for {schedules} schedules, duplicates: {duplicates}",
        jobs.len()
    );
    assert_eq!(jobs.len(), schedules, "every due run enqueued exactly once");
    assert_eq!(per_config.len(), schedules, "one job per schedule");
    assert!(
        per_config.values().all(|n| *n == 1),
        "no schedule fired twice"
    );

    lateness.sort();
    let pct = |p: f64| {
        lateness[((lateness.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(lateness.len() - 1)]
    };
    let (p50, p99, max) = (pct(0.50), pct(0.99), *lateness.last().unwrap());
    println!("lateness: p50 {p50:.3?}  p99 {p99:.3?}  max {max:.3?}");
    println!(
        "scheduler CPU while firing: {cpu_firing:.2} s (all live replicas); peak RSS {:.1} MiB (largest replica)",
        peak_rss as f64 / 1024.0
    );
    println!(
        "scheduler idle CPU between due times: {idle:.2} s over {IDLE_WINDOW:?} ({:.1}% of one core, all live replicas)",
        100.0 * idle / IDLE_WINDOW.as_secs_f64()
    );
    p99
}

async fn serve_catalog(
    options: vigil_catalog::CatalogOptions,
) -> (String, tokio_util::sync::DropGuard) {
    let catalog = vigil_catalog::Catalog::open(options)
        .await
        .expect("open the catalog");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let token = stop.clone();
    let background = {
        let (catalog, stop) = (catalog.clone(), stop.clone());
        tokio::spawn(async move { catalog.run_background(stop).await })
    };
    tokio::spawn(async move {
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder()
            .add_service(catalog.catalog_service())
            .add_service(catalog.coordination_service())
            .serve_with_incoming_shutdown(incoming, token.cancelled_owned())
            .await
            .unwrap();
        let _ = background.await;
    });
    (endpoint, stop.drop_guard())
}

/// Schedule `i` fires every hour at minute `due_minute` and second `i % 60`
/// (second 0 for all in burst mode).
async fn create_configurations(
    cat: &CatalogServiceClient<Channel>,
    n: usize,
    due_minute: DateTime<Utc>,
) {
    let burst = flag("VIGIL_BENCH_BURST");
    let all: Vec<BackupConfiguration> = (0..n)
        .map(|i| BackupConfiguration {
            name: format!("bench-{i:05}"),
            kind: BackupKind::Full as i32,
            enabled: Some(true),
            schedule: Some(pb::Schedule {
                spec: Some(pb::schedule::Spec::Cron(format!(
                    "{} {} * * * *",
                    if burst { 0 } else { i % 60 },
                    due_minute.minute()
                ))),
                timezone: "UTC".into(),
                ..Default::default()
            }),
            source: Some(Source {
                paths: vec!["/srv/data".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    for batch in all.chunks(1000) {
        cat.clone()
            .apply_configurations(ApplyConfigurationsRequest {
                configurations: batch.to_vec(),
                dry_run: false,
            })
            .await
            .expect("apply configurations");
    }
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

/// `VIGIL_BENCH_PROFILER=heaptrack` (or any program that takes a command
/// line) runs the scheduler child under it. Its CPU and RSS figures are then
/// the profiler's, so only the profile is worth reading.
fn spawn_scheduler(endpoint: &str, replica: &str) -> Child {
    let exe = std::env::current_exe().expect("own path");
    let mut command = match std::env::var_os("VIGIL_BENCH_PROFILER") {
        Some(profiler) => {
            let mut c = Command::new(profiler);
            c.arg(exe);
            c
        }
        None => Command::new(exe),
    };
    command
        .env(ROLE_ENV, "scheduler")
        .env(REPLICA_ENV, replica)
        .env(CATALOG_ENV, endpoint)
        .stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the scheduler")
}

fn stop_child(child: &mut Child) {
    drop(child.stdin.take());
    let _ = child.wait();
}

/// A live executor offering FULL backups, so that no "no capable executor"
/// alert storm is part of the measurement; it never leases.
async fn executor_heartbeat(coord: CoordinationServiceClient<Channel>) {
    loop {
        let component = Component {
            id: "bench-executor".into(),
            kind: ComponentKind::Executor as i32,
            capabilities: vec!["backup:full".into()],
            ..Default::default()
        };
        let _ = coord
            .clone()
            .report_heartbeat(ReportHeartbeatRequest {
                component: Some(component),
            })
            .await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

async fn wait_until<F, Fut>(mut check: F, limit: Duration, what: &str)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn armed_count(coord: &CoordinationServiceClient<Channel>) -> usize {
    let mut count = 0;
    let mut token = String::new();
    loop {
        let Ok(resp) = coord
            .clone()
            .list_schedule_states(ListScheduleStatesRequest {
                page_size: 1000,
                page_token: token,
            })
            .await
        else {
            return count;
        };
        let resp = resp.into_inner();
        count += resp
            .states
            .iter()
            .filter(|s| s.next_due_time.is_some())
            .count();
        if resp.next_page_token.is_empty() {
            return count;
        }
        token = resp.next_page_token;
    }
}

async fn job_count(cat: &CatalogServiceClient<Channel>) -> usize {
    all_jobs(cat).await.len()
}

async fn all_jobs(cat: &CatalogServiceClient<Channel>) -> Vec<pb::BackupJob> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let resp = cat
            .clone()
            .list_jobs(ListJobsRequest {
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list jobs")
            .into_inner();
        out.extend(resp.jobs);
        if resp.next_page_token.is_empty() {
            return out;
        }
        token = resp.next_page_token;
    }
}

fn at(ts: &prost_types::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(vigil_proto::timestamp_to_micros(ts)).expect("valid timestamp")
}

/// User plus system CPU seconds of processes `pids` together.
fn cpu_seconds(pids: &[u32]) -> f64 {
    pids.iter().map(|p| cpu_seconds_of(*p)).sum()
}

/// User plus system CPU seconds of process `pid`, from /proc.
fn cpu_seconds_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    (ticks(11) + ticks(12)) / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Peak resident set size of process `pid` in KiB (VmHWM).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
