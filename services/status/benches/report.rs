//! Status report and `/metrics` at fleet size: 2,000 configurations and
//! 100,000 jobs in the history, on SQLite and (when VIGIL_TEST_POSTGRES_URL
//! is set) on PostgreSQL. The catalog runs in this process and is reached
//! over gRPC on a loopback port, as in `vigild`.
//!
//! Prints the median and worst of several `GetStatusReport` calls and of
//! several `/metrics` renderings (the scrape's work: gather plus render).
//! Targets: report ≤ 150 ms, scrape ≤ 100 ms.
//!
//! `cargo bench -p vigil-status --bench report`
//! (`VIGIL_BENCH_CONFIGS=200 VIGIL_BENCH_JOBS=10000` for a quicker run;
//! `VIGIL_BENCH_BACKEND=postgres` or `sqlite` for one backend only).

use std::time::{Duration, Instant};

use chrono::Utc;
use tonic::transport::{Channel, Endpoint};
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use vigil_proto::catalog::v1::{
    self as pb, ApplyConfigurationsRequest, BackupConfiguration, BackupKind, Source,
};
use vigil_proto::status::v1::GetStatusReportRequest;
use vigil_proto::status::v1::status_service_client::StatusServiceClient;

const RUNS: usize = 7;

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
    let configs = number("VIGIL_BENCH_CONFIGS", 2_000);
    let jobs = number("VIGIL_BENCH_JOBS", 100_000);
    // `VIGIL_BENCH_BACKEND=postgres` (or `sqlite`) measures one backend only.
    let only = std::env::var("VIGIL_BENCH_BACKEND").unwrap_or_default();
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        if only != "postgres" {
            let sqlite = vigil_catalog::testing::sqlite_options(dir.path());
            bench("sqlite", sqlite, configs, jobs).await;
        }
        // PostgreSQL is measured when the bench is pointed at one.
        if only != "sqlite" && std::env::var_os("VIGIL_TEST_POSTGRES_URL").is_some() {
            let options = vigil_catalog::testing::postgres_options_from_env().await;
            bench("postgres", options, configs, jobs).await;
        }
    });
}

async fn bench(backend: &str, options: vigil_catalog::CatalogOptions, configs: usize, jobs: usize) {
    println!("== {backend}: {configs} configurations, {jobs} jobs");
    let server = vigil_catalog::testing::spawn(options).await;
    let channel: Channel = Endpoint::from_shared(server.endpoint())
        .unwrap()
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap();
    let seeded = Instant::now();
    seed_configurations(&CatalogServiceClient::new(channel.clone()), configs).await;
    let names: Vec<String> = (0..configs).map(|i| format!("fleet-{i:05}")).collect();
    vigil_catalog::testing::seed_finished_jobs(&server, &names, jobs, chrono::Duration::days(30))
        .await;
    println!("seeded in {:.1?}", seeded.elapsed());

    // The test catalog has no auth layer; the status service's channel
    // carries no credential.
    let authed = vigil_auth::ClientCredentials::default().wrap(channel.clone());
    let status =
        vigil_status::StatusServer::new(authed.clone(), vigil_server_common::clock::system());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder()
            .add_service(status.into_service())
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    let mut client = StatusServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
        .max_decoding_message_size(256 << 20);

    let mut report = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let r = client
            .get_status_report(GetStatusReportRequest::default())
            .await
            .expect("status report");
        report.push(t.elapsed());
        assert!(r.into_inner().report.is_some());
    }
    let mut scrape = Vec::new();
    let catalog = vigil_catalog_client::CatalogClient::new(authed.clone());
    for _ in 0..RUNS {
        let t = Instant::now();
        let inputs = vigil_status::gather(&catalog, Utc::now(), chrono::Duration::days(1))
            .await
            .expect("gather");
        let text = vigil_status::metrics::render(&inputs);
        scrape.push(t.elapsed());
        assert!(text.ends_with("# EOF\n"));
    }
    print_figure("GetStatusReport", &mut report, Duration::from_millis(150));
    print_figure("/metrics scrape", &mut scrape, Duration::from_millis(100));
}

fn print_figure(what: &str, runs: &mut [Duration], target: Duration) {
    runs.sort();
    let median = runs[runs.len() / 2];
    let worst = runs[runs.len() - 1];
    let verdict = if median <= target { "meets" } else { "MISSES" };
    println!(
        "{what}: median {median:.1?}, worst {worst:.1?} over {} runs; {verdict} the {target:?} target",
        runs.len()
    );
}

async fn seed_configurations(cat: &CatalogServiceClient<Channel>, n: usize) {
    let all: Vec<BackupConfiguration> = (0..n)
        .map(|i| BackupConfiguration {
            name: format!("fleet-{i:05}"),
            kind: BackupKind::Full as i32,
            enabled: Some(true),
            schedule: Some(pb::Schedule {
                spec: Some(pb::schedule::Spec::Cron(format!("{} 2 * * *", i % 60))),
                timezone: "Europe/Berlin".into(),
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
