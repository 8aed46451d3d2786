//! Stopping cleanly: SIGTERM during a backup stops it within seconds, hands
//! the job back to the queue at once (not after a lease expiry, and without
//! spending an attempt), tells `vigil backup run --wait` so, and lets the
//! next executor run it to the end. The backup is a PostgreSQL dump held
//! back by a lock on its table, so it is still running when the signal comes.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vigil_proto::catalog::v1::JobState;
use vigil_tests::postgres::fresh_database;
use vigil_tests::{Server, admin_token_file, bin, eventually, vigil_json, vigil_ok};

/// Short leases: a job left RUNNING would be reclaimed only after this.
const SETTINGS: &str = r#"
[executor]
lease_duration = "60s"
heartbeat_interval = "1s"
report_interval = "1s"
"#;

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-q", "-t", "-A", "-d", url, "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A psql session holding an exclusive lock on `table`, so pg_dump waits.
fn hold_lock(url: &str, table: &str) -> Child {
    let mut c = Command::new("psql")
        .args(["-X", "-q", "-d", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("psql runs");
    let stdin = c.stdin.as_mut().expect("piped stdin");
    writeln!(stdin, "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;").unwrap();
    stdin.flush().unwrap();
    eventually(Duration::from_secs(10), "the lock to be taken", || {
        let granted = psql(
            url,
            &format!(
                "SELECT count(*) FROM pg_locks WHERE relation = '{table}'::regclass \
                 AND mode = 'AccessExclusiveLock' AND granted"
            ),
        );
        (granted == "1").then_some(())
    });
    c
}

/// Starts `vigil backup run NAME --wait` in the background.
fn start_waiting(endpoint: &str, name: &str) -> Child {
    let mut cmd = Command::new(bin("vigil"));
    if let Some(token) = admin_token_file(endpoint) {
        cmd.env("VIGIL_TOKEN_FILE", token);
    }
    cmd.args(["--endpoint", endpoint, "backup", "run", name, "--wait"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigil runs")
}

fn start_vigild(dir: &Path, data: &Path, settings: &Path) -> Server {
    Server::start(
        "vigild",
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--config",
            settings.to_str().unwrap(),
        ],
        &[],
        dir,
    )
}

/// The job's state and attempt as the stopped server left them on disk.
fn job_on_disk(data: &Path, id: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(data.join("catalog.db"))
        .arg(format!(
            "SELECT state, attempt, lease_owner IS NULL, lease_expire_time IS NULL FROM jobs WHERE id = '{id}'"
        ))
        .output()
        .expect("sqlite3 runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn needs_postgres_sigterm_hands_a_running_backup_back_and_the_next_start_completes_it() {
    let url = fresh_database("stopping");
    psql(
        &url,
        "CREATE TABLE docs (id int PRIMARY KEY, body text); \
         INSERT INTO docs SELECT g, md5(g::text) FROM generate_series(1, 1000) g",
    );
    let mut lock = hold_lock(&url, "docs");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let data = dir.join("data");
    let settings = dir.join("vigil.toml");
    std::fs::write(&settings, SETTINGS).unwrap();
    let mut server = start_vigild(dir, &data, &settings);
    let endpoint = server.endpoint();
    let yaml = dir.join("c.yaml");
    std::fs::write(
        &yaml,
        format!(
            "configurations:\n  - name: held_dump\n    kind: DATABASE\n    enabled: false\n    \
             source:\n      database:\n        engine: postgres\n        url: {url}\n"
        ),
    )
    .unwrap();
    vigil_ok(
        &endpoint,
        &["config", "apply", "-f", yaml.to_str().unwrap()],
    );

    let waiter = start_waiting(&endpoint, "held_dump");
    let job = eventually(Duration::from_secs(60), "the dump to run", || {
        let jobs = vigil_json(&endpoint, &["jobs", "list", "--configuration", "held_dump"]);
        jobs.as_array()?
            .iter()
            .find(|j| j["state"] == "RUNNING")
            .cloned()
    });
    let id = job["id"].as_str().unwrap().to_owned();
    let db = url.rsplit('/').next().unwrap().to_owned();
    eventually(
        Duration::from_secs(30),
        "pg_dump to wait for the lock",
        || {
            let waiting = psql(
                &url,
                &format!(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' \
                 AND application_name = 'vigil-executor'"
                ),
            );
            (waiting != "0").then_some(())
        },
    );

    let sent = Instant::now();
    let code = server.terminate();
    let took = sent.elapsed();
    let log = server.log();
    assert_eq!(code, Some(0), "vigild log:\n{log}");
    assert!(
        took < Duration::from_secs(10),
        "stopping took {took:?}, not seconds (the grace period is 30 s):\n{log}"
    );

    // Back in the queue at once: QUEUED, no lease, the attempt not spent.
    let queued = JobState::Queued as i32;
    assert_eq!(
        job_on_disk(&data, &id),
        format!("{queued}|0|1|1"),
        "the job as the stopped server left it"
    );

    // `--wait` says what happened, not a transport error.
    let waited = waiter.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&waited.stderr);
    assert_eq!(waited.status.code(), Some(75), "stderr:\n{stderr}");
    assert!(
        stderr.contains("handed back to the queue (executor shutting down)"),
        "{stderr}"
    );
    assert!(!stderr.contains("tcp connect error"), "{stderr}");

    // The next start runs it to the end, on its first counted attempt.
    let _ = lock.kill();
    let _ = lock.wait();
    let server = start_vigild(dir, &data, &settings);
    let endpoint = server.endpoint();
    let done = eventually(Duration::from_secs(60), "the job to end", || {
        let job = vigil_json(&endpoint, &["jobs", "show", &id]);
        (job["state"] == "COMPLETED" || job["state"] == "FAILED").then_some(job)
    });
    assert_eq!(done["state"], "COMPLETED", "{done}");
    assert_eq!(done["attempt"], 1, "{done}");
}
