//! The split deployment with separate processes: `vigil-catalog`,
//! `vigil-scheduler` and two `vigil-executor`s sharing one repository, and
//! the CLI pointed at the catalog alone. Every service answers through the
//! catalog's port (it forwards SchedulerService and ExecutorService calls);
//! an upload is staged in the repository, so after the executor that took
//! it is killed, the other one restores it and serves its download.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vigil_tests::{Server, eventually, vigil, vigil_json, vigil_ok};

/// Short leases and heartbeats, so a killed executor is noticed quickly.
pub(crate) const FAST: &str = r#"
[catalog_server]
lease_reap_interval = "1s"
component_timeout = "3s"

[scheduler]
heartbeat_interval = "1s"

[executor]
lease_duration = "3s"
heartbeat_interval = "1s"
report_interval = "1s"
"#;

/// A small tree: text, binary, a nested directory and a symlink.
pub(crate) fn source_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("docs/2025")).unwrap();
    std::fs::write(dir.join("readme.txt"), "split deployment\n".repeat(100)).unwrap();
    let binary: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.join("docs/2025/scan.bin"), binary).unwrap();
    std::os::unix::fs::symlink("../readme.txt", dir.join("docs/latest")).unwrap();
}

/// Relative path → (kind, content or link target) of every entry under `root`.
pub(crate) fn tree(root: &Path) -> Vec<(PathBuf, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.push((
                    rel,
                    "link".into(),
                    target.into_os_string().into_encoded_bytes(),
                ));
            } else if meta.is_dir() {
                out.push((rel, "dir".into(), Vec::new()));
                stack.push(path);
            } else {
                out.push((rel, "file".into(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn start_executor(
    dir: &Path,
    name: &str,
    common: &[&str],
    catalog: &str,
    repository: &Path,
    key: Option<&Path>,
) -> Server {
    let data = dir.join(name);
    let mut args: Vec<&str> = common.to_vec();
    args.extend([
        "--data-dir",
        data.to_str().unwrap(),
        "--catalog",
        catalog,
        "--repository",
        repository.to_str().unwrap(),
    ]);
    if let Some(key) = key {
        args.extend(["--repository-key-file", key.to_str().unwrap()]);
    }
    Server::start("vigil-executor", &args, &[], dir)
}

#[test]
fn the_cli_against_a_catalog_on_its_own_reaches_every_service() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config = dir.join("vigil.toml");
    std::fs::write(&config, FAST).unwrap();
    let common = ["--config", config.to_str().unwrap()];
    let source = dir.join("source");
    source_tree(&source);

    let catalog_data = dir.join("catalog");
    let catalog = Server::start(
        "vigil-catalog",
        &[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            catalog_data.to_str().unwrap(),
        ],
        &[],
        dir,
    );
    let ep = catalog.endpoint();
    let scheduler_data = dir.join("scheduler");
    let _scheduler = Server::start(
        "vigil-scheduler",
        &[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            scheduler_data.to_str().unwrap(),
            "--catalog",
            &ep,
        ],
        &[],
        dir,
    );
    // One repository for both executors; the first creates it and its key.
    let repository = dir.join("repository");
    let mut executors = vec![start_executor(
        dir,
        "executor-a",
        &common,
        &ep,
        &repository,
        None,
    )];
    let key = dir.join("executor-a/repository.key");
    executors.push(start_executor(
        dir,
        "executor-b",
        &common,
        &ep,
        &repository,
        Some(&key),
    ));

    let yaml = dir.join("c.yaml");
    std::fs::write(
        &yaml,
        format!(
            "configurations:\n  - name: split_export\n    kind: EXPORT\n    source:\n      paths: [{src}]\n  - name: split_nightly\n    kind: FULL\n    enabled: true\n    schedule:\n      cron: \"0 3 * * *\"\n      timezone: Europe/Berlin\n    source:\n      paths: [{src}]\n",
            src = source.display()
        ),
    )
    .unwrap();
    vigil_ok(&ep, &["config", "apply", "-f", yaml.to_str().unwrap()]);

    // SchedulerService through the catalog, once the replica has reported.
    let schedules = eventually(
        Duration::from_secs(30),
        "schedules through the catalog",
        || {
            let out = vigil(&ep, &["--json", "schedules", "list"]);
            out.status
                .success()
                .then(|| String::from_utf8(out.stdout).unwrap())
        },
    );
    assert!(schedules.contains("split_nightly"), "{schedules}");
    vigil_ok(&ep, &["schedules", "pause", "split_nightly"]);
    let shown = vigil_ok(&ep, &["--json", "schedules", "show", "split_nightly"]);
    assert!(shown.to_lowercase().contains("paused"), "{shown}");
    vigil_ok(&ep, &["schedules", "resume", "split_nightly"]);

    // A backup, then its archive downloaded through the catalog.
    let job = vigil_json(&ep, &["backup", "run", "split_export", "--wait"]);
    assert_eq!(job["state"], "COMPLETED", "{job}");
    let exported = job["artifact"].as_str().unwrap().to_owned();
    let archive = dir.join("export.vgx");
    eventually(
        Duration::from_secs(30),
        "a download through the catalog",
        || {
            let out = vigil(
                &ep,
                &["download", &exported, "-o", archive.to_str().unwrap()],
            );
            out.status.success().then_some(())
        },
    );

    // Upload through the catalog; find the executor that ran the job.
    let uploaded = vigil_json(&ep, &["upload", archive.to_str().unwrap()]);
    let upload_job = uploaded["job"]["id"].as_str().unwrap().to_owned();
    let artifact = uploaded["artifact"]["id"].as_str().unwrap().to_owned();
    assert_eq!(uploaded["job"]["state"], "COMPLETED", "{uploaded}");
    let ran = executors
        .iter()
        .position(|e| e.log().contains(&upload_job))
        .expect("an executor logged the upload job");
    for (i, e) in executors.iter().enumerate() {
        let staged = std::fs::read_dir(dir.join(["executor-a", "executor-b"][i]).join("staging"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(staged, 0, "executor {i} kept upload files: {}", e.log());
    }

    // That executor dies; the other restores the upload and serves it.
    executors[ran].kill9();
    let restored = dir.join("restored");
    let job = vigil_json(
        &ep,
        &[
            "restore",
            &artifact,
            "--to",
            restored.to_str().unwrap(),
            "--wait",
        ],
    );
    assert_eq!(job["state"], "COMPLETED", "{job}");
    let survivor = &executors[1 - ran];
    assert!(survivor.log().contains(job["id"].as_str().unwrap()));
    // A restore recreates the source's absolute path under the target.
    let root = restored.join(source.strip_prefix("/").unwrap());
    assert_eq!(tree(&root), tree(&source));

    let again = dir.join("again.vgx");
    eventually(
        Duration::from_secs(30),
        "a download from the survivor",
        || {
            let out = vigil(&ep, &["download", &artifact, "-o", again.to_str().unwrap()]);
            out.status.success().then_some(())
        },
    );
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&archive).unwrap()
    );
}

/// The catalog passes over an executor that died and is still listed as
/// alive (its heartbeats have not expired) for another live one of the
/// same repository: downloads through the catalog keep working at once.
#[test]
fn a_download_through_the_catalog_skips_a_dead_executor() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config = dir.join("vigil.toml");
    // Heartbeats expire only after two minutes: the dead executor stays
    // listed as alive for the whole test.
    std::fs::write(
        &config,
        FAST.replace("\"3s\"\n\n[scheduler]", "\"120s\"\n\n[scheduler]"),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("component_timeout = \"120s\"")
    );
    let common = ["--config", config.to_str().unwrap()];
    let source = dir.join("source");
    source_tree(&source);
    let catalog_data = dir.join("catalog");
    let mut args = common.to_vec();
    args.extend(["--data-dir", catalog_data.to_str().unwrap()]);
    let catalog = Server::start("vigil-catalog", &args, &[], dir);
    let ep = catalog.endpoint();
    let repository = dir.join("repository");
    let mut executors = vec![start_executor(
        dir,
        "executor-a",
        &common,
        &ep,
        &repository,
        None,
    )];
    let key = dir.join("executor-a/repository.key");
    executors.push(start_executor(
        dir,
        "executor-b",
        &common,
        &ep,
        &repository,
        Some(&key),
    ));
    let yaml = dir.join("c.yaml");
    let line = format!(
        "configurations:\n  - name: dead_export\n    kind: EXPORT\n    source:\n      paths: [{}]\n",
        source.display()
    );
    std::fs::write(&yaml, line).unwrap();
    vigil_ok(&ep, &["config", "apply", "-f", yaml.to_str().unwrap()]);
    let job = vigil_json(&ep, &["backup", "run", "dead_export", "--wait"]);
    assert_eq!(job["state"], "COMPLETED", "{job}");
    let artifact = job["artifact"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(30), "both executors' endpoints", || {
        let v = vigil_json(&ep, &["version"]);
        let components = v["server"]["components"].as_array()?.clone();
        let reported = components.iter().filter(|c| {
            c.to_string().contains("EXECUTOR")
                && c["endpoint"].as_str().is_some_and(|e| !e.is_empty())
        });
        (reported.count() == 2).then_some(())
    });
    let archive = dir.join("first.vgx");
    let out = vigil(
        &ep,
        &["download", &artifact, "-o", archive.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = std::fs::read(&archive).unwrap();

    executors[0].kill9();
    // The catalog takes the executors in turn, so one of two downloads in
    // a row is first sent to the dead one.
    for i in 0..2 {
        let again = dir.join(format!("again-{i}.vgx"));
        let out = vigil(&ep, &["download", &artifact, "-o", again.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "download {i} after the kill: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            std::fs::read(&again).unwrap() == first,
            "download {i} is exact"
        );
    }
}

/// A new bucket on the test S3 server (`VIGIL_TEST_S3_ENDPOINT`).
fn new_bucket(endpoint: &str) -> String {
    use std::io::{Read, Write};
    let host = endpoint
        .strip_prefix("http://")
        .expect("VIGIL_TEST_S3_ENDPOINT is an http:// URL")
        .trim_end_matches('/');
    let bucket = format!("vigil-split-{}-{}", std::process::id(), rand_suffix());
    let mut conn = std::net::TcpStream::connect(host).expect("the S3 server answers");
    write!(
        conn,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "create bucket: {answer}"
    );
    bucket
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        .into()
}

/// Bytes the process `pid` has read so far (`rchar` of /proc/PID/io).
fn bytes_read_by(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("rchar: ").map(|n| n.trim().parse().ok()))
                .flatten()
        })
        .unwrap_or(0)
}

/// The shape of deploy/docker-compose.yml as processes on loopback: a
/// PostgreSQL catalog, two scheduler replicas, two executors with their own
/// data dirs sharing one S3 repository, and the CLI against the catalog.
#[test]
fn compose_shape_needs_postgres_needs_s3() {
    let url = vigil_tests::postgres::fresh_database("split_s3");
    let s3 = std::env::var("VIGIL_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("VIGIL_TEST_S3_ENDPOINT is not set: this test needs an S3 server (.ci/s3.sh)")
    });
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config = dir.join("vigil.toml");
    std::fs::write(&config, FAST).unwrap();
    let cfg = config.to_str().unwrap();
    let repository = format!("s3://{}/compose", new_bucket(&s3));
    let env = [
        ("AWS_ENDPOINT_URL", s3.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        (
            "SPLIT_REPOSITORY_PASSPHRASE",
            "correct horse battery staple",
        ),
    ];
    let data = |name: &str| dir.join(name).display().to_string();

    let catalog_dir = data("catalog");
    let catalog = Server::start(
        "vigil-catalog",
        &[
            "--config",
            cfg,
            "--data-dir",
            &catalog_dir,
            "--database-url",
            &url,
        ],
        &[],
        dir,
    );
    let ep = catalog.endpoint();
    let _schedulers: Vec<Server> = (0..2)
        .map(|i| {
            let d = data(&format!("scheduler-{i}"));
            Server::start(
                "vigil-scheduler",
                &["--config", cfg, "--data-dir", &d, "--catalog", &ep],
                &[],
                dir,
            )
        })
        .collect();
    let start_executor = |name: &str| {
        let d = data(name);
        let args = [
            "--config",
            cfg,
            "--data-dir",
            &d,
            "--catalog",
            &ep,
            "--repository",
            &repository,
            "--repository-passphrase-env",
            "SPLIT_REPOSITORY_PASSPHRASE",
        ];
        Server::start("vigil-executor", &args, &env, dir)
    };
    // Both start together on a fresh repository: both come up.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| start_executor("executor-a"));
        let b = s.spawn(|| start_executor("executor-b"));
        (a.join().unwrap(), b.join().unwrap())
    });
    let mut executors = [a, b];

    let sources: Vec<PathBuf> = (0..2).map(|i| dir.join(format!("source-{i}"))).collect();
    for s in &sources {
        source_tree(s);
    }
    let big = dir.join("big");
    std::fs::create_dir_all(&big).unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..(24 << 20))
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(big.join("noise.bin"), noise).unwrap();
    let yaml = dir.join("c.yaml");
    std::fs::write(
        &yaml,
        format!(
            "configurations:\n  - name: full_0\n    kind: FULL\n    source:\n      paths: [{}]\n  - name: full_1\n    kind: FULL\n    source:\n      paths: [{}]\n  - name: big_export\n    kind: EXPORT\n    source:\n      paths: [{}]\n",
            sources[0].display(),
            sources[1].display(),
            big.display()
        ),
    )
    .unwrap();
    vigil_ok(&ep, &["config", "apply", "-f", yaml.to_str().unwrap()]);

    // Concurrent backups: both queued at once, run side by side by the executors.
    let jobs: Vec<String> = ["full_0", "full_1"]
        .iter()
        .map(|c| {
            vigil_json(&ep, &["backup", "run", c])["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let artifacts: Vec<String> = jobs
        .iter()
        .map(|id| {
            let job = eventually(Duration::from_secs(120), "the backup to end", || {
                let job = vigil_json(&ep, &["jobs", "show", id]);
                (job["state"] == "COMPLETED" || job["state"] == "FAILED").then_some(job)
            });
            assert_eq!(job["state"], "COMPLETED", "{job}");
            job["artifact"].as_str().unwrap().to_owned()
        })
        .collect();

    // An export archive to upload, downloaded through the catalog.
    let job = vigil_json(&ep, &["backup", "run", "big_export", "--wait"]);
    assert_eq!(job["state"], "COMPLETED", "{job}");
    let archive = dir.join("big.vgx");
    eventually(
        Duration::from_secs(30),
        "a download through the catalog",
        || {
            let out = vigil(
                &ep,
                &[
                    "download",
                    job["artifact"].as_str().unwrap(),
                    "-o",
                    archive.to_str().unwrap(),
                ],
            );
            out.status.success().then_some(())
        },
    );

    // kill -9 of an executor while an upload streams into it.
    let mut upload = std::process::Command::new(vigil_tests::bin("vigil"))
        .env(
            "VIGIL_TOKEN_FILE",
            vigil_tests::admin_token_file(&ep).expect("the catalog's admin token"),
        )
        .args([
            "--endpoint",
            &executors[0].endpoint(),
            "upload",
            archive.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually(
        Duration::from_secs(60),
        "the upload to be under way",
        || (bytes_read_by(upload.id()) > 4 << 20).then_some(()),
    );
    executors[0].kill9();
    assert!(
        !upload.wait().unwrap().success(),
        "the upload survived its executor"
    );

    let verify = vigil(&ep, &["verify", "--wait"]);
    assert!(
        verify.status.success(),
        "verify after the kill:\n{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // The upload again, through the catalog (only b is alive), then its
    // restore and the backups' restores on a restarted a.
    let uploaded = eventually(
        Duration::from_secs(30),
        "an upload through the catalog",
        || {
            let out = vigil(&ep, &["--json", "upload", archive.to_str().unwrap()]);
            out.status
                .success()
                .then(|| serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap())
        },
    );
    executors[1].kill9();
    executors[0] = start_executor("executor-a");
    let uploaded_artifact = uploaded["artifact"]["id"].as_str().unwrap();
    for (artifact, source) in [
        (uploaded_artifact, &big),
        (&artifacts[0], &sources[0]),
        (&artifacts[1], &sources[1]),
    ] {
        let target = dir.join(format!("restored-{artifact}"));
        let job = vigil_json(
            &ep,
            &[
                "restore",
                artifact,
                "--to",
                target.to_str().unwrap(),
                "--wait",
            ],
        );
        assert_eq!(job["state"], "COMPLETED", "{job}");
        let root = target.join(source.strip_prefix("/").unwrap());
        assert_eq!(tree(&root), tree(source), "restore of {artifact}");
    }
}
