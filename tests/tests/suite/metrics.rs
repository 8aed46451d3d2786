//! The process metrics after real work: `vigild` runs a backup that
//! completes and one that fails; its `/metrics` then counts the job
//! durations by kind and outcome, the bytes read, new and stored, the
//! scheduler's ticks, and the RPCs the work made.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use vigil_tests::{Server, eventually, vigil, vigil_json, vigil_ok};

fn scrape(addr: SocketAddr) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200").then(|| body.to_owned())
}

fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn job_byte_and_tick_metrics_follow_real_work() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let source = dir.join("source");
    crate::split::source_tree(&source);
    // A free port for the admin listener (vigild prints it, but the
    // harness reads only the gRPC line).
    let admin: SocketAddr = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let data = dir.join("data");
    let admin_arg = admin.to_string();
    let server = Server::start(
        "vigild",
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--admin-listen",
            &admin_arg,
        ],
        &[],
        dir,
    );
    let ep = server.endpoint();
    let before = eventually(Duration::from_secs(30), "a first scrape", || scrape(admin));

    let yaml = dir.join("c.yaml");
    std::fs::write(
        &yaml,
        format!(
            "configurations:\n  - name: metrics_full\n    kind: FULL\n    source:\n      paths: [{}]\n  - name: metrics_broken\n    kind: FULL\n    source:\n      paths: [{}]\n",
            source.display(),
            dir.join("missing").display()
        ),
    )
    .unwrap();
    vigil_ok(&ep, &["config", "apply", "-f", yaml.to_str().unwrap()]);
    let job = vigil_json(&ep, &["backup", "run", "metrics_full", "--wait"]);
    assert_eq!(job["state"], "COMPLETED", "{job}");
    let failed = vigil(&ep, &["backup", "run", "metrics_broken", "--wait"]);
    assert!(!failed.status.success());

    let after = scrape(admin).expect("a scrape after the work");
    let completed =
        "vigil_executor_job_duration_seconds_count{kind=\"BACKUP\",outcome=\"completed\"}";
    let failed = "vigil_executor_job_duration_seconds_count{kind=\"BACKUP\",outcome=\"failed\"}";
    assert_eq!(
        sample(&after, completed) - sample(&before, completed),
        1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, failed) - sample(&before, failed),
        1.0,
        "{after}"
    );
    let read = sample(&after, "vigil_executor_bytes_read_total");
    assert!(read >= 300_000.0, "the tree's bytes were read: {after}");
    assert!(
        sample(&after, "vigil_executor_bytes_new_total") > 0.0,
        "{after}"
    );
    assert!(
        sample(&after, "vigil_executor_bytes_stored_total") > 0.0,
        "{after}"
    );
    assert!(
        sample(&after, "vigil_scheduler_tick_duration_seconds_count") >= 1.0,
        "{after}"
    );
    let complete_job = "grpc_server_handled_total{grpc_service=\"vigil.catalog.v1.CoordinationService\",grpc_method=\"CompleteJob\",grpc_code=\"OK\"}";
    assert_eq!(
        sample(&after, complete_job) - sample(&before, complete_job),
        1.0,
        "{after}"
    );
}
