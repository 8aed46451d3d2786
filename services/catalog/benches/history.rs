//! `ListJobs` at a large history: 1,000,000 finished jobs over 400 days and
//! 2,000 configurations, on SQLite and, when VIGIL_TEST_POSTGRES_URL is set,
//! on PostgreSQL. The catalog runs in this process and is reached over gRPC.
//!
//! Prints, for each filter, the median and worst time of the first page (the
//! default 100 jobs). Target: every first page within 50 ms.
//!
//! `cargo bench -p vigil-catalog --bench history`
//! (`VIGIL_BENCH_JOBS=100000` for a quicker run).

use std::time::{Duration, Instant};

use vigil_catalog::CatalogOptions;
use vigil_catalog::testing;
use vigil_proto::catalog::v1::{JobKind, JobState, ListJobsRequest};

const RUNS: usize = 9;
const CONFIGURATIONS: usize = 2_000;
const TARGET: Duration = Duration::from_millis(50);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let jobs = std::env::var("VIGIL_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000usize);
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        bench("sqlite", testing::sqlite_options(dir.path()), jobs).await;
        if std::env::var_os(testing::POSTGRES_ENV).is_some() {
            let options = testing::postgres_options_from_env().await;
            bench("postgres", options, jobs).await;
        }
    });
}

/// The filters measured: a name and the request.
fn filters() -> Vec<(&'static str, ListJobsRequest)> {
    let states = |s: &[JobState]| s.iter().map(|s| *s as i32).collect::<Vec<_>>();
    vec![
        ("no filter", ListJobsRequest::default()),
        (
            "one configuration",
            ListJobsRequest {
                configuration: "fleet-00042".into(),
                ..Default::default()
            },
        ),
        (
            "FAILED",
            ListJobsRequest {
                states: states(&[JobState::Failed]),
                ..Default::default()
            },
        ),
        (
            "QUEUED or RUNNING (none)",
            ListJobsRequest {
                states: states(&[JobState::Queued, JobState::Running]),
                ..Default::default()
            },
        ),
        (
            "kind PRUNE (none)",
            ListJobsRequest {
                kind: JobKind::Prune as i32,
                ..Default::default()
            },
        ),
        (
            "configuration and FAILED",
            ListJobsRequest {
                configuration: "fleet-00042".into(),
                states: states(&[JobState::Failed]),
                ..Default::default()
            },
        ),
        (
            "kind BACKUP and COMPLETED",
            ListJobsRequest {
                kind: JobKind::Backup as i32,
                states: states(&[JobState::Completed]),
                ..Default::default()
            },
        ),
    ]
}

async fn bench(backend: &str, options: CatalogOptions, jobs: usize) {
    println!("== {backend}: {jobs} jobs, {CONFIGURATIONS} configurations");
    let server = testing::spawn(options).await;
    let names: Vec<String> = (0..CONFIGURATIONS)
        .map(|i| format!("fleet-{i:05}"))
        .collect();
    let seeded = Instant::now();
    testing::seed_finished_jobs(&server, &names, jobs, chrono::Duration::days(400)).await;
    println!("seeded in {:.1?}", seeded.elapsed());
    let mut catalog = server.catalog_client().await;
    let mut worst_median = Duration::ZERO;
    for (name, request) in filters() {
        let mut runs = Vec::with_capacity(RUNS);
        let mut returned = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let page = catalog
                .list_jobs(request.clone())
                .await
                .expect("list jobs")
                .into_inner();
            runs.push(t.elapsed());
            returned = page.jobs.len();
        }
        runs.sort();
        let median = runs[RUNS / 2];
        worst_median = worst_median.max(median);
        println!(
            "first page, {name}: {returned} jobs, median {median:.1?}, worst {:.1?}",
            runs[RUNS - 1]
        );
    }
    let verdict = if worst_median <= TARGET {
        "meets"
    } else {
        "MISSES"
    };
    println!("slowest median {worst_median:.1?}: {verdict} the {TARGET:?} target");
    server.stop().await;
}
