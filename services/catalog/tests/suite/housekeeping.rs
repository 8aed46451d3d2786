//! What keeps the catalog bounded: components without a heartbeat leave the
//! live view and are later deleted, `ListComponents` pages, and old history
//! is pruned without losing the newest success or a job an artifact needs.

use std::time::Duration;

use vigil_catalog::CatalogOptions;
use vigil_proto::catalog::v1::*;

use crate::common::*;

fn component(id: &str) -> Component {
    Component {
        id: id.into(),
        kind: ComponentKind::Executor as i32,
        ..Default::default()
    }
}

async fn beat(h: &mut Harness, id: &str) {
    h.coord
        .report_heartbeat(ReportHeartbeatRequest {
            component: Some(component(id)),
        })
        .await
        .unwrap();
}

/// Every listed component id, two per page.
async fn listed(h: &mut Harness, include_gone: bool) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let page = h
            .coord
            .list_components(ListComponentsRequest {
                kind: ComponentKind::Executor as i32,
                page_size: 2,
                page_token: token,
                include_gone,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.components.len() <= 2);
        ids.extend(page.components.into_iter().map(|c| c.id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        token = page.next_page_token;
    }
}

both_backends!(dead_components_leave_the_live_view_then_are_deleted);
async fn dead_components_leave_the_live_view_then_are_deleted(options: CatalogOptions) {
    let (mut options, clock) = manual(options);
    options.component_gone_after = Duration::from_secs(3600);
    options.component_delete_after = Duration::from_secs(86_400);
    let mut h = start(options).await;
    for id in ["e1", "e2", "e3", "e4", "e5"] {
        beat(&mut h, id).await;
    }
    assert_eq!(listed(&mut h, false).await, ["e1", "e2", "e3", "e4", "e5"]);

    // e1 and e2 stop; the others keep beating.
    clock.advance(chrono::Duration::minutes(61));
    for id in ["e3", "e4", "e5"] {
        beat(&mut h, id).await;
    }
    assert_eq!(listed(&mut h, false).await, ["e3", "e4", "e5"]);
    assert_eq!(listed(&mut h, true).await, ["e1", "e2", "e3", "e4", "e5"]);
    let store = h.server.catalog.store().clone();
    assert_eq!(store.delete_gone_components().await.unwrap(), 0);

    clock.advance(chrono::Duration::hours(23));
    for id in ["e3", "e4", "e5"] {
        beat(&mut h, id).await;
    }
    // e1 and e2, and the catalog's own record (its heartbeat runs hourly here).
    assert!(store.delete_gone_components().await.unwrap() >= 2);
    assert_eq!(listed(&mut h, true).await, ["e3", "e4", "e5"]);

    // A component that comes back is listed again.
    beat(&mut h, "e1").await;
    assert_eq!(listed(&mut h, false).await, ["e1", "e3", "e4", "e5"]);
    let err = h
        .coord
        .list_components(ListComponentsRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "page_token");
}

/// Creates one manual backup of `configuration`.
async fn create_one(h: &mut Harness, configuration: &str) -> BackupJob {
    h.catalog
        .create_job(CreateJobRequest {
            configuration: configuration.into(),
            kind: JobKind::Backup as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap()
}

/// Creates, leases and ends one manual backup of `configuration`: COMPLETED
/// with its artifact (a completed backup always records one), or FAILED
/// when `fail` is set.
async fn run_one(h: &mut Harness, configuration: &str, fail: bool) -> BackupJob {
    let job = create_one(h, configuration).await;
    let leased = h
        .coord
        .lease_job(LeaseJobRequest {
            executor_id: "exec-1".into(),
            capabilities: all_capabilities(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(leased.job.as_ref().unwrap().id, job.id);
    let lease_token = leased.lease_token;
    if fail {
        h.coord
            .fail_job(FailJobRequest {
                job_id: job.id.clone(),
                executor_id: "exec-1".into(),
                lease_token,
                error: "disk full".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    } else {
        h.coord
            .complete_job(CompleteJobRequest {
                job_id: job.id.clone(),
                executor_id: "exec-1".into(),
                lease_token,
                artifact: Some(Artifact {
                    configuration: configuration.into(),
                    job: job.id.clone(),
                    format: ArtifactFormat::Snapshot as i32,
                    state: ArtifactState::Available as i32,
                    location: format!("snapshots/{}", job.id),
                    checksum: "blake3:abc".into(),
                    ..Default::default()
                }),
                stats: Some(JobStats {
                    bytes_read: 4096,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    job
}

/// Creates one manual backup of `configuration` and cancels it while it is
/// queued: a finished job that no artifact references.
async fn cancelled_one(h: &mut Harness, configuration: &str) -> BackupJob {
    let job = create_one(h, configuration).await;
    h.catalog
        .cancel_job(CancelJobRequest { id: job.id.clone() })
        .await
        .unwrap();
    job
}

both_backends!(history_retention_keeps_the_newest_success_and_referenced_jobs);
async fn history_retention_keeps_the_newest_success_and_referenced_jobs(options: CatalogOptions) {
    let (mut options, clock) = manual(options);
    options.history_retention = Duration::from_secs(10 * 86_400);
    let mut h = start(options).await;
    for name in ["daily", "quiet"] {
        h.catalog
            .create_configuration(CreateConfigurationRequest {
                configuration: Some(full(name)),
            })
            .await
            .unwrap();
    }
    let minute = chrono::Duration::minutes(1);
    let with_artifact = run_one(&mut h, "daily", false).await;
    clock.advance(minute);
    let plain = cancelled_one(&mut h, "daily").await;
    clock.advance(minute);
    let failed = run_one(&mut h, "daily", true).await;
    clock.advance(minute);
    let quiet_last = run_one(&mut h, "quiet", false).await;
    clock.advance(chrono::Duration::days(5));
    let newest = run_one(&mut h, "daily", false).await;

    let store = h.server.catalog.store().clone();
    assert_eq!(
        store.prune_history().await.unwrap().jobs,
        0,
        "nothing is old yet"
    );

    clock.advance(chrono::Duration::days(6));
    let pruned = store.prune_history().await.unwrap();
    assert_eq!(pruned.jobs, 2, "{pruned:?}");
    let left: Vec<String> = all_jobs(&mut h).await.into_iter().map(|j| j.id).collect();
    assert!(
        left.contains(&with_artifact.id),
        "an artifact references it"
    );
    assert!(
        left.contains(&quiet_last.id),
        "the newest success of its configuration"
    );
    assert!(left.contains(&newest.id));
    assert!(!left.contains(&plain.id));
    assert!(!left.contains(&failed.id));

    // Much later, the newest success of each configuration is still there.
    clock.advance(chrono::Duration::days(400));
    store.prune_history().await.unwrap();
    let left: Vec<String> = all_jobs(&mut h).await.into_iter().map(|j| j.id).collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left.contains(&newest.id) && left.contains(&quiet_last.id));
}

/// A catalog on SQLite in `dir`, opened without its background task, so
/// nothing but the test writes to it.
async fn open_sqlite(dir: &tempfile::TempDir) -> vigil_catalog::Catalog {
    vigil_catalog::Catalog::open(vigil_catalog::testing::sqlite_options(dir.path()))
        .await
        .unwrap()
}

/// On SQLite every write goes through the catalog's one writer connection.
/// The read connections refuse to write: a write that bypassed the writer
/// fails here, in tests, instead of contending for SQLite's lock. Writers
/// that come at once all succeed, each in its turn; that they wait in the
/// pool's queue rather than in SQLite's busy handler shows in the queue
/// benchmark's SQLite p99, not here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_reads_cannot_write_and_concurrent_writes_queue_for_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open_sqlite(&dir).await;
    let store = catalog.store();
    store.create_configuration(full("kept")).await.unwrap();
    let refused = sqlx::query("DELETE FROM configurations")
        .execute(store.db().pool())
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("readonly"),
        "a read connection wrote: {refused}"
    );
    assert_eq!(
        store.get_configuration("kept").await.unwrap().name,
        "kept",
        "the refused write changed nothing"
    );

    // Many writers at once: each waits its turn, none fails as busy.
    let writes = futures::future::join_all((0..64).map(|i| {
        let store = store.clone();
        async move { store.create_configuration(full(&format!("c{i}"))).await }
    }))
    .await;
    for w in &writes {
        assert!(w.is_ok(), "{w:?}");
    }
    let page = store
        .list_configurations(&ListConfigurationsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.configurations.len(), 65);
}

/// SQLite keeps no planner statistics unless asked; the housekeeping asks,
/// so the report's queries get the plans they were written for. The catalog
/// is opened without its background task, so nothing else refreshes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_planner_statistics_are_refreshed() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open_sqlite(&dir).await;
    let store = catalog.store();
    store.create_configuration(full("stats")).await.unwrap();
    // The first housekeeping, at start, analyses the tables while empty.
    store.db().refresh_statistics().await.unwrap();
    for _ in 0..300 {
        let req = CreateJobRequest {
            configuration: "stats".into(),
            kind: JobKind::Backup as i32,
            ..Default::default()
        };
        store.create_job(&req, Default::default()).await.unwrap();
    }
    let db = store.db();
    db.refresh_statistics().await.unwrap();
    // sqlite_stat1 holds "rows, rows per key..." per index; the jobs
    // table's rows are counted as they are now, not as when they were empty.
    let stat: String = sqlx::query_scalar(
        "SELECT stat FROM sqlite_stat1 WHERE tbl = 'jobs' AND idx = 'jobs_newest'",
    )
    .fetch_one(db.pool())
    .await
    .expect("the jobs table is analysed");
    let rows: i64 = stat.split(' ').next().unwrap().parse().unwrap();
    assert!(rows >= 300, "statistics count the 300 jobs: {stat:?}");
}

/// A window's counts as the report computed them before migration 0012,
/// from every job row, sorted.
async fn direct_counts(h: &Harness, since: i64) -> Vec<[i64; 6]> {
    use sqlx::Row as _;
    let pool = h.server.catalog.store().db().pool().clone();
    let rows = sqlx::query(
        "SELECT kind, state, job_trigger, CAST(COUNT(*) AS BIGINT) AS n, \
         CAST(COALESCE(SUM(bytes_read), 0) AS BIGINT) AS bytes, \
         CAST(COALESCE(SUM(CASE WHEN attempt > 1 OR error LIKE '%executor lost%' \
         THEN 1 ELSE 0 END), 0) AS BIGINT) AS lost \
         FROM jobs WHERE create_time >= $1 GROUP BY kind, state, job_trigger",
    )
    .bind(since)
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut counts: Vec<[i64; 6]> = rows
        .iter()
        .map(|r| ["kind", "state", "job_trigger", "n", "bytes", "lost"].map(|c| r.get::<i64, _>(c)))
        .collect();
    counts.sort();
    counts
}

/// A window's counts as `SummarizeHistory` answers them, sorted.
async fn summarized_counts(h: &mut Harness, since: i64) -> Vec<[i64; 6]> {
    let summary = h
        .coord
        .summarize_history(SummarizeHistoryRequest {
            since: Some(vigil_proto::timestamp_from_micros(since)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut counts: Vec<[i64; 6]> = summary
        .job_counts
        .iter()
        .map(|c| {
            [
                i64::from(c.kind),
                i64::from(c.state),
                i64::from(c.trigger),
                c.count as i64,
                c.bytes_read as i64,
                c.lease_expiries as i64,
            ]
        })
        .collect();
    counts.sort();
    counts
}

/// Checks the summarized counts against the direct ones for windows that
/// start at zero, mid-hour, on an hour and at each job's creation.
async fn assert_counts_agree(h: &mut Harness, what: &str) {
    let t0 = t0().timestamp_micros();
    let minute = 60_000_000;
    let mut starts = vec![0, t0 - 7 * minute, t0 + 10 * minute, t0 + 60 * minute];
    starts.extend(
        all_jobs(h)
            .await
            .iter()
            .filter_map(|j| j.create_time.as_ref())
            .map(vigil_proto::timestamp_to_micros),
    );
    for since in starts {
        let direct = direct_counts(h, since).await;
        assert_eq!(
            summarized_counts(h, since).await,
            direct,
            "{what}: counts of the jobs created since {since}"
        );
    }
}

/// Leases the oldest queued job for a minute and lets the lease expire.
async fn lose_lease(h: &mut Harness, clock: &vigil_server_common::clock::ManualClock) {
    let leased = h
        .coord
        .lease_job(LeaseJobRequest {
            executor_id: "exec-lost".into(),
            capabilities: all_capabilities(),
            lease_duration: Some(prost_types::Duration {
                seconds: 60,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(leased.job.is_some(), "a queued job to lease");
    clock.advance(chrono::Duration::minutes(2));
    h.server
        .catalog
        .store()
        .reclaim_expired_leases()
        .await
        .unwrap();
}

both_backends!(job_counts_agree_with_a_direct_count);
async fn job_counts_agree_with_a_direct_count(options: CatalogOptions) {
    let (mut options, clock) = manual(options);
    options.history_retention = Duration::from_secs(10 * 86_400);
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    let minute = chrono::Duration::minutes(1);
    assert_counts_agree(&mut h, "empty").await;

    // Over three hours: completed, failed, cancelled, lost three times
    // (FAILED with "executor lost"), then queued and running jobs.
    run_one(&mut h, "daily", false).await;
    clock.advance(minute * 25);
    run_one(&mut h, "daily", true).await;
    clock.advance(minute * 40);
    cancelled_one(&mut h, "daily").await;
    let lost = create_one(&mut h, "daily").await;
    for _ in 0..3 {
        lose_lease(&mut h, &clock).await;
    }
    let lost = h
        .catalog
        .get_job(GetJobRequest { id: lost.id })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(lost.state(), JobState::Failed, "{lost:?}");
    assert_counts_agree(&mut h, "after completions, failures and lost leases").await;

    clock.advance(minute * 70);
    run_one(&mut h, "daily", false).await;
    create_one(&mut h, "daily").await;
    create_one(&mut h, "daily").await;
    h.coord
        .lease_job(LeaseJobRequest {
            executor_id: "exec-2".into(),
            capabilities: all_capabilities(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_counts_agree(&mut h, "with queued and running jobs").await;

    // Eleven days on, retention deletes the finished jobs it may.
    clock.advance(chrono::Duration::days(11));
    let pruned = h.server.catalog.store().prune_history().await.unwrap();
    assert!(pruned.jobs >= 3, "{pruned:?}");
    assert_counts_agree(&mut h, "after retention").await;
    let pool = h.server.catalog.store().db().pool().clone();
    let empty: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_counts WHERE n = 0")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(empty, 0, "rows counting nothing are deleted with the jobs");
}

both_backends!(migration_0012_counts_the_jobs_already_there);
/// Jobs stored before migration 0012 are counted by it, each where the
/// triggers will take it away again: deleting them all leaves nothing.
async fn migration_0012_counts_the_jobs_already_there(options: CatalogOptions) {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let (options, _clock) = manual(options);
    let (url, migrator) = match &options.database_url {
        Some(url) => (url.clone(), sqlx::migrate!("migrations/postgres")),
        None => {
            std::fs::create_dir_all(&options.data_dir).unwrap();
            (
                format!(
                    "sqlite://{}?mode=rwc",
                    options.data_dir.join("catalog.db").display()
                ),
                sqlx::migrate!("migrations/sqlite"),
            )
        }
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    migrator.run_to(11, &mut conn).await.unwrap();
    let t0 = t0().timestamp_micros();
    for i in 0..60_i64 {
        // States QUEUED, COMPLETED, FAILED and CANCELLED, over five hours.
        let state = [1, 3, 4, 5][(i % 4) as usize];
        let error = if i % 8 == 2 { "executor lost" } else { "" };
        let sql = format!(
            "INSERT INTO jobs (id, name, configuration, kind, job_trigger, state, backup_kind, \
             create_time, update_time, attempt, max_attempts, cancel_requested, error, \
             capabilities, warnings, trace_context, bytes_read) VALUES ('old-{i}', 'old_{i}', \
             'daily', {kind}, {trigger}, {state}, 1, {created}, {created}, {attempt}, 3, 0, \
             '{error}', '[]', '[]', '{{}}', {bytes})",
            kind = 1 + i % 2,
            trigger = 1 + i % 3,
            created = t0 - 5 * 3_600_000_000 + i * 300_000_000,
            attempt = 1 + i % 5 / 4,
            bytes = i * 1000,
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();

    let mut h = start(options).await;
    assert_counts_agree(&mut h, "after migration 0012").await;
    let pool = h.server.catalog.store().db().writer().clone();
    sqlx::query("DELETE FROM jobs")
        .execute(&pool)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM job_counts WHERE n <> 0 OR bytes_read <> 0 OR lost <> 0",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        left, 0,
        "every counted job was taken away where it was counted"
    );
    assert_counts_agree(&mut h, "after deleting every job").await;
}
