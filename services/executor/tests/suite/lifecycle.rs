//! Jobs over their life: cancel stops a running dump, a lost lease stops the
//! work without reporting over the catalog's decision, an interrupted backup
//! leaves a valid repository whose next backup reuses what was stored,
//! verify finds a flipped byte and names what it affects, and prune follows
//! the retention policy.

use crate::common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Harness, config, database, db, fast_options, start_executor, tree};
use vigil_proto::catalog::v1::*;
use vigil_proto::executor::v1::GetExecutorInfoRequest;

/// A psql session holding an exclusive lock on `table`, so pg_dump waits.
fn hold_lock(url: &str, table: &str) -> Child {
    let mut c = Command::new("psql")
        .args(["-X", "-q", "-d", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(
        c.stdin.as_mut().unwrap(),
        "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;"
    )
    .unwrap();
    c.stdin.as_mut().unwrap().flush().unwrap();
    for _ in 0..100 {
        let n = db::psql(
            url,
            &format!(
                "SELECT count(*) FROM pg_locks WHERE relation = '{table}'::regclass AND mode = 'AccessExclusiveLock' AND granted"
            ),
        );
        if n.trim() == "1" {
            return c;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.kill();
    let _ = c.wait();
    panic!("the lock was never taken");
}

/// Sessions the executor's tools opened on database `name` (a killed
/// client's session lingers while it waits for the lock).
fn tool_sessions(url: &str, name: &str) -> u32 {
    db::psql(url, &format!("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'vigil-executor' AND datname = '{name}'"))
        .trim()
        .parse()
        .unwrap()
}

async fn until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn needs_postgres_cancel_stops_a_running_dump() {
    let admin = db::postgres_url();
    let h = Harness::start().await;
    let name = db::pg_create(&admin, "vigil_cancel");
    let url = db::pg_db_url(&admin, &name);
    db::pg_fill(&url);
    let mut lock = hold_lock(&url, "docs");
    h.configure(config(
        "stuck",
        BackupKind::Database,
        &[],
        Some(database(DatabaseEngine::Postgres, &url, None)),
    ))
    .await;
    let job = h.create_job("stuck", JobKind::Backup, None).await;
    h.wait_running(&job.id).await;
    until("pg_dump connects", Duration::from_secs(10), async || {
        tool_sessions(&url, &name) > 0
    })
    .await;
    h.catalog_client()
        .await
        .cancel_job(CancelJobRequest { id: job.id.clone() })
        .await
        .unwrap();
    assert!(
        db::pg_dump_running(&name),
        "pg_dump runs while the job waits"
    );
    let done = h.wait_job(&job.id, Duration::from_secs(15)).await;
    let still_running = db::pg_dump_running(&name);
    let _ = lock.kill();
    let _ = lock.wait();
    db::pg_drop(&admin, &name);
    assert_eq!(done.state(), JobState::Cancelled, "{}", done.error);
    assert!(done.artifact.is_empty());
    assert!(!still_running, "pg_dump was killed");
}

#[tokio::test]
async fn needs_postgres_a_lost_lease_stops_the_work_and_reports_nothing() {
    let admin = db::postgres_url();
    let h = Harness::start().await;
    let name = db::pg_create(&admin, "vigil_lease");
    let url = db::pg_db_url(&admin, &name);
    db::pg_fill(&url);
    let mut lock = hold_lock(&url, "docs");
    h.configure(config(
        "stolen",
        BackupKind::Database,
        &[],
        Some(database(DatabaseEngine::Postgres, &url, None)),
    ))
    .await;
    let job = h.create_job("stolen", JobKind::Backup, None).await;
    h.wait_running(&job.id).await;
    until("pg_dump connects", Duration::from_secs(10), async || {
        tool_sessions(&url, &name) > 0
    })
    .await;
    // The catalog takes the job away (as its reaper does when a lease
    // expires): the job is FAILED and no longer leased to anyone.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE jobs SET state = {}, error = 'taken away by the test', \
         lease_owner = NULL, lease_expire_time = NULL, lease_token_hash = NULL \
         WHERE id = '{}'",
        JobState::Failed as i32,
        job.id
    )))
    .execute(h.catalog.catalog.store().db().writer())
    .await
    .unwrap();
    assert!(
        db::pg_dump_running(&name),
        "pg_dump runs while the job waits"
    );
    let mut info = h.executor_client().await;
    until(
        "the executor drops the job",
        Duration::from_secs(10),
        async || {
            info.get_executor_info(GetExecutorInfoRequest {})
                .await
                .unwrap()
                .into_inner()
                .running_jobs
                .is_empty()
        },
    )
    .await;
    let still_running = db::pg_dump_running(&name);
    let _ = lock.kill();
    let _ = lock.wait();
    db::pg_drop(&admin, &name);
    assert!(!still_running, "pg_dump was killed");
    let after = h.get_job(&job.id).await;
    assert_eq!(after.state(), JobState::Failed);
    assert_eq!(
        after.error, "taken away by the test",
        "the executor must not report over the catalog"
    );
}

#[tokio::test]
async fn an_interrupted_backup_leaves_a_valid_repository_and_the_next_run_reuses_its_data() {
    let mut h = Harness::start().await;
    let src = h.path().join("big");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..48 {
        std::fs::write(
            src.join(format!("f{i:02}.bin")),
            tree::noise(2 << 20, 100 + i),
        )
        .unwrap();
    }
    h.configure(config("big", BackupKind::Full, &[&src], None))
        .await;
    let job = h.create_job("big", JobKind::Backup, None).await;
    // Interrupt once some data went in.
    until(
        "the backup makes progress",
        Duration::from_secs(60),
        async || {
            h.get_job(&job.id)
                .await
                .progress
                .is_some_and(|p| p.bytes_done > (48 << 20))
        },
    )
    .await;
    // A crash image: the repository as it is on disk at this moment.
    let data = h.exec().data_dir.clone();
    let image = h.path().join("crash-image");
    // `cp -a` of a live directory fails when a temporary file is renamed
    // away between being listed and being copied; copy again until one
    // pass sees no such change.
    let mut failed_passes = 0;
    loop {
        let _ = std::fs::remove_dir_all(&image);
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&data)
            .arg(&image)
            .status()
            .unwrap();
        if copied.success() {
            break;
        }
        failed_passes += 1;
        assert!(failed_passes < 20, "cp -a of the data dir kept failing");
    }
    let packs_in_image = walkdir::WalkDir::new(image.join("repository/data"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count();
    assert!(
        packs_in_image > 0,
        "the crash image holds the packs written so far"
    );
    h.exec.take().unwrap().stop().await;
    let interrupted = h.get_job(&job.id).await;
    assert_eq!(
        interrupted.state(),
        JobState::Queued,
        "an interrupted job goes back in the queue: {interrupted:?}"
    );
    assert_eq!(interrupted.error, "executor shutting down");

    // A new executor on the same data finishes it, reusing stored chunks.
    h.exec = Some(start_executor(fast_options(&h.catalog.endpoint(), &data)).await);
    let done = h.wait_job(&job.id, Duration::from_secs(120)).await;
    assert_eq!(done.state(), JobState::Completed, "{}", done.error);
    let stats = done.stats.unwrap();
    assert!(stats.chunks_reused > 0, "{stats:?}");
    assert_eq!(done.attempt, 1, "the interrupted attempt does not count");
    let verify = h.run_ok("", JobKind::Verify, None).await;
    assert_eq!(verify.stats.unwrap().errors_found, 0);
    let target = h.path().join("restore");
    let r = h.restore(&done.artifact, Some(&target), None, false).await;
    assert_eq!(
        h.wait_job(&r.id, Duration::from_secs(120)).await.state(),
        JobState::Completed
    );
    tree::assert_same(&src, &tree::restored_root(&target, &src));

    // The crash image opens, verifies, and takes a backup that reuses its data.
    let other = Harness::start().await;
    let exec = start_executor(fast_options(&other.catalog.endpoint(), &image)).await;
    let mut other = other;
    other.exec.take().unwrap().stop().await;
    other.exec = Some(exec);
    other.run_ok("", JobKind::Verify, None).await;
    other
        .configure(config("big", BackupKind::Full, &[&src], None))
        .await;
    let after_crash = other.run_ok("big", JobKind::Backup, None).await;
    assert!(after_crash.stats.unwrap().chunks_reused > 0);
}

fn flip_a_byte_in_the_largest_pack(repo: &std::path::Path) {
    let mut packs: Vec<_> = walkdir::WalkDir::new(repo.join("data"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.metadata().unwrap().len(), e.into_path()))
        .collect();
    packs.sort();
    let (len, path) = packs.pop().expect("a pack");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[(len / 2) as usize] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
}

#[tokio::test]
async fn verify_finds_a_flipped_byte_and_names_what_it_affects() {
    let h = Harness::start().await;
    let src = h.path().join("src");
    tree::build(&src);
    h.configure(config("checked", BackupKind::Full, &[&src], None))
        .await;
    let job = h.run_ok("checked", JobKind::Backup, None).await;
    let ok = h
        .run_ok(
            "checked",
            JobKind::Verify,
            Some(job_params::Params::Verify(VerifyParams {
                drill: true,
                ..Default::default()
            })),
        )
        .await;
    assert_eq!(ok.stats.unwrap().errors_found, 0);
    let a = h.artifact(&job.artifact).await;
    assert!(a.verify_time.is_some());
    assert_eq!(a.state(), ArtifactState::Available);

    flip_a_byte_in_the_largest_pack(&h.exec().data_dir.join("repository"));
    let bad = h.run_failing("checked", JobKind::Verify, None).await;
    assert!(bad.error.contains("verify found damage"), "{}", bad.error);
    assert!(
        bad.error.contains(&job.artifact),
        "the artifact is named: {}",
        bad.error
    );
    assert!(
        bad.error.contains("report.pdf")
            || bad.error.contains("copy.pdf")
            || bad.error.contains("text.log"),
        "{}",
        bad.error
    );
    assert!(bad.stats.unwrap().errors_found > 0);
    assert_eq!(
        h.artifact(&job.artifact).await.state(),
        ArtifactState::Damaged
    );

    // A restore fails loudly on the damaged file and restores the others.
    let target = h.path().join("restore");
    let r = h.restore(&job.artifact, Some(&target), None, false).await;
    let r = h.wait_job(&r.id, Duration::from_secs(60)).await;
    assert_eq!(r.state(), JobState::Failed);
    assert!(r.error.contains("could not be restored"), "{}", r.error);
    let root = tree::restored_root(&target, &src);
    assert_eq!(
        std::fs::read(root.join("documents/readme.txt")).unwrap(),
        b"hello vigil\n"
    );
}

#[tokio::test]
async fn prune_follows_the_retention_policy_with_a_dry_run_first() {
    let h = Harness::start().await;
    let src = h.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut c = config("kept", BackupKind::Full, &[&src], None);
    c.retention = Some(Retention {
        keep_last: 1,
        ..Default::default()
    });
    h.configure(c).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        std::fs::write(src.join("state.txt"), format!("version {i}")).unwrap();
        ids.push(h.run_ok("kept", JobKind::Backup, None).await.artifact);
    }
    let dry = h
        .run_ok(
            "kept",
            JobKind::Prune,
            Some(job_params::Params::Prune(PruneParams { dry_run: true })),
        )
        .await;
    let listed: Vec<&String> = dry
        .warnings
        .iter()
        .filter(|w| w.starts_with("dry run: would remove artifact"))
        .collect();
    assert_eq!(listed.len(), 2, "{:?}", dry.warnings);
    assert!(
        listed.iter().any(|w| w.contains(&ids[0])) && listed.iter().any(|w| w.contains(&ids[1]))
    );
    for id in &ids {
        assert_eq!(
            h.artifact(id).await.state(),
            ArtifactState::Available,
            "a dry run changes nothing"
        );
    }
    let real = h.run_ok("kept", JobKind::Prune, None).await;
    assert_eq!(real.stats.unwrap().artifacts_removed, 2);
    assert_eq!(h.artifact(&ids[0]).await.state(), ArtifactState::Pruned);
    assert_eq!(h.artifact(&ids[1]).await.state(), ArtifactState::Pruned);
    assert_eq!(h.artifact(&ids[2]).await.state(), ArtifactState::Available);
    let r = h
        .restore(&ids[0], Some(&h.path().join("r")), None, false)
        .await;
    let r = h.wait_job(&r.id, Duration::from_secs(60)).await;
    assert!(r.error.contains("was pruned"), "{}", r.error);
    h.run_ok("", JobKind::Verify, None).await;
    let r = h
        .restore(&ids[2], Some(&h.path().join("r2")), None, false)
        .await;
    assert_eq!(
        h.wait_job(&r.id, Duration::from_secs(60)).await.state(),
        JobState::Completed
    );
    let restored = tree::restored_root(&h.path().join("r2"), &src).join("state.txt");
    assert_eq!(std::fs::read_to_string(restored).unwrap(), "version 2");
}

/// A first FULL backup (no files cache, no earlier artifact) knows its total
/// from the scan: heartbeats carry the tree's exact bytes and files, so
/// `--wait` shows a percentage and an ETA; the job's log times the scan.
#[tokio::test]
async fn a_first_full_backup_reports_the_tree_total_from_its_scan() {
    let h = Harness::start().await;
    let src = h.path().join("scanned");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let mut bytes = 0u64;
    for i in 0..32u64 {
        let data = tree::noise((2 << 20) + i as usize * 1000, 7 + i);
        bytes += data.len() as u64;
        let dir = if i % 2 == 0 {
            src.clone()
        } else {
            src.join("sub")
        };
        std::fs::write(dir.join(format!("f{i:02}.bin")), data).unwrap();
    }
    h.configure(config("scanned", BackupKind::Full, &[&src], None))
        .await;
    let job = h.create_job("scanned", JobKind::Backup, None).await;
    let mut seen = None;
    until(
        "a heartbeat carries the total",
        Duration::from_secs(120),
        async || {
            let now = h.get_job(&job.id).await;
            if let Some(p) = now.progress.clone().filter(|p| p.bytes_total > 0) {
                seen = Some(p);
                return true;
            }
            assert!(
                !matches!(
                    now.state(),
                    JobState::Completed | JobState::Failed | JobState::Cancelled
                ),
                "the backup ended before any heartbeat carried a total: {now:?}"
            );
            false
        },
    )
    .await;
    let progress = seen.unwrap();
    assert_eq!(progress.phase, "backing up");
    assert_eq!(progress.bytes_total, bytes, "{progress:?}");
    assert_eq!(progress.files_total, 32, "{progress:?}");
    assert!(progress.bytes_done <= progress.bytes_total, "{progress:?}");
    let done = h.wait_job(&job.id, Duration::from_secs(300)).await;
    assert_eq!(done.state(), JobState::Completed, "{done:?}");

    let mut catalog = h.catalog_client().await;
    let log = catalog
        .list_job_events(ListJobEventsRequest {
            job: job.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let finished: Vec<&str> = log
        .events
        .iter()
        .filter(|e| e.kind() == JobEventKind::PhaseFinished)
        .map(|e| e.phase.as_str())
        .collect();
    assert_eq!(
        finished,
        [
            "scanning",
            "backing up",
            "reading back",
            "recording artifact"
        ],
        "{log:?}"
    );
}
