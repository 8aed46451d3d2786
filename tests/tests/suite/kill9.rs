//! Guarantee E2 with real processes: an executor killed with SIGKILL at
//! random moments during 20 backups never corrupts the repository. Expired
//! leases are retried or failed (never left RUNNING), `vigil verify` passes,
//! and the next backup succeeds and reuses the data already stored.

use std::io::Write;
use std::time::Duration;

use vigil_tests::{Server, eventually, vigil, vigil_json, vigil_ok};

const CONFIG: &str = r#"
[catalog_server]
lease_reap_interval = "1s"

[executor]
lease_duration = "3s"
heartbeat_interval = "1s"
"#;

/// Writes `files` files of `size` pseudo-random (incompressible) bytes.
fn dataset(dir: &std::path::Path, files: usize, size: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..files {
        let mut f = std::fs::File::create(dir.join(format!("file-{i:03}.bin"))).unwrap();
        let mut buf = vec![0u8; size];
        for chunk in buf.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        f.write_all(&buf).unwrap();
    }
}

#[test]
fn executor_killed_at_random_moments_never_corrupts_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let source = dir.path().join("source");
    dataset(&source, 40, 2 << 20);
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let common = [
        "--data-dir",
        data.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];

    let catalog = Server::start("vigil-catalog", &common, &[], dir.path());
    let endpoint = catalog.endpoint();
    let executor_args: Vec<&str> = common
        .iter()
        .copied()
        .chain(["--catalog", endpoint.as_str()])
        .collect();
    let yaml = dir.path().join("c.yaml");
    std::fs::write(
        &yaml,
        format!(
            "configurations:\n  - name: crashy\n    kind: FULL\n    source:\n      paths: [{}]\n",
            source.display()
        ),
    )
    .unwrap();
    vigil_ok(
        &endpoint,
        &["config", "apply", "-f", yaml.to_str().unwrap()],
    );

    let mut rng: u64 = 42;
    for round in 0..20 {
        let mut executor = Server::start("vigil-executor", &executor_args, &[], dir.path());
        vigil_ok(&endpoint, &["backup", "run", "crashy"]);
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = 100 + (rng >> 33) % 1_900;
        std::thread::sleep(Duration::from_millis(delay));
        executor.kill9();
        eprintln!("round {round}: killed the executor after {delay} ms");
    }

    // A fresh executor takes over; every job ends, none stays RUNNING.
    let _executor = Server::start("vigil-executor", &executor_args, &[], dir.path());
    let jobs = eventually(Duration::from_secs(240), "every job to end", || {
        let jobs = vigil_json(&endpoint, &["jobs", "list", "--limit", "1000"]);
        let jobs = jobs.as_array().unwrap().clone();
        jobs.iter()
            .all(|j| j["state"] == "COMPLETED" || j["state"] == "FAILED")
            .then_some(jobs)
    });
    assert_eq!(jobs.len(), 20);
    for j in jobs.iter().filter(|j| j["state"] == "FAILED") {
        assert!(
            j["error"].as_str().unwrap().contains("executor lost"),
            "{j}"
        );
    }
    assert!(
        jobs.iter().any(|j| j["state"] == "COMPLETED"),
        "no backup ever completed"
    );
    // The kills did interrupt running backups: some jobs needed another lease.
    let interrupted = jobs
        .iter()
        .filter(|j| j["attempt"].as_u64().unwrap_or(0) > 1)
        .count();
    eprintln!("{interrupted} of 20 jobs were interrupted at least once");
    assert!(interrupted > 0, "no kill landed while a backup was running");

    let verify = vigil(&endpoint, &["verify", "--wait"]);
    assert!(
        verify.status.success(),
        "verify failed after the kills:\n{}\n{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );

    let last = vigil_json(&endpoint, &["backup", "run", "crashy", "--wait"]);
    assert_eq!(last["state"], "COMPLETED", "{last}");
    let stats = &last["stats"];
    assert!(stats["chunks_reused"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(
        stats["chunks_new"].as_u64().unwrap(),
        0,
        "unchanged data stored again: {stats}"
    );
}

/// The embedded catalog (SQLite in WAL mode, `synchronous = NORMAL`) keeps
/// every commit it answered when its own process is killed with SIGKILL:
/// the operating system still holds what SQLite wrote to its log, and the
/// next start reads it back. Each `config apply` and `backup run` below is
/// one answered commit.
#[test]
fn a_catalog_killed_after_answering_keeps_every_commit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--data-dir", data.to_str().unwrap()];
    let mut catalog = Server::start("vigil-catalog", &args, &[], dir.path());
    let endpoint = catalog.endpoint();
    for i in 0..5 {
        let yaml = dir.path().join(format!("kept-{i}.yaml"));
        std::fs::write(
            &yaml,
            format!(
                "configurations:\n  - name: kept-{i}\n    kind: FULL\n    source:\n      paths: [/srv/kept-{i}]\n"
            ),
        )
        .unwrap();
        vigil_ok(
            &endpoint,
            &["config", "apply", "-f", yaml.to_str().unwrap()],
        );
    }
    let queued = vigil_json(&endpoint, &["backup", "run", "kept-4"]);
    catalog.kill9();

    let catalog = Server::start("vigil-catalog", &args, &[], dir.path());
    let endpoint = catalog.endpoint();
    let configurations = vigil_json(&endpoint, &["config", "list"]);
    let names: Vec<&str> = configurations
        .as_array()
        .expect("a list of configurations")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["kept-0", "kept-1", "kept-2", "kept-3", "kept-4"]);
    let jobs = vigil_json(&endpoint, &["jobs", "list"]);
    let jobs = jobs.as_array().expect("a list of jobs");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["id"], queued["id"], "{queued}");
    assert_eq!(jobs[0]["state"], "QUEUED");
}
