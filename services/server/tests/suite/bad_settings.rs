//! A bad setting in any section stops every binary before it starts:
//! exit 2, the dotted setting and where its value came from on standard
//! error, no data dir (so no catalog database) and no port bound.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{command, vigil_catalog, vigil_executor, vigil_scheduler, vigild};

/// Runs `cmd` (its listen port held busy by the test) and checks that it
/// refused to start with `expected` on standard error.
fn assert_refused(mut cmd: Command, scratch: &Path, expected: &[&str]) {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let data_dir = scratch.join("data");
    cmd.arg("--data-dir")
        .arg(&data_dir)
        .arg("--listen")
        .arg(busy.local_addr().unwrap().to_string());
    let out = cmd.stdin(Stdio::null()).output().expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Exit 2 and not 1: a bind on the busy port would have failed first.
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    for part in expected {
        assert!(stderr.contains(part), "expected {part:?} in: {stderr}");
    }
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line, nothing else: {stderr}"
    );
    assert!(!stdout.contains("listening"), "stdout: {stdout}");
    assert!(
        !data_dir.exists(),
        "the data dir (and catalog) must not be created"
    );
}

fn config_file(scratch: &Path, text: &str) -> std::path::PathBuf {
    let path = scratch.join("vigil.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn executor_section_error_exits_2_naming_the_file() {
    for bin in [vigild(), vigil_executor()] {
        let scratch = tempfile::tempdir().unwrap();
        let file = config_file(scratch.path(), "[executor]\nconcurrency = 0\n");
        let mut cmd = command(bin, scratch.path());
        cmd.arg("--config").arg(&file);
        let expected = format!(
            "invalid setting executor.concurrency (from config file {}): must be between 1 and 256",
            file.display()
        );
        assert_refused(cmd, scratch.path(), &[&expected]);
    }
}

#[test]
fn scheduler_section_error_exits_2_naming_the_env_var() {
    for bin in [vigild(), vigil_scheduler()] {
        let scratch = tempfile::tempdir().unwrap();
        let mut cmd = command(bin, scratch.path());
        cmd.env("VIGIL_SCHEDULER__FIRE_CONCURRENCY", "0");
        assert_refused(
            cmd,
            scratch.path(),
            &["invalid setting scheduler.fire_concurrency \
             (from environment variable VIGIL_SCHEDULER__FIRE_CONCURRENCY): must be at least 1"],
        );
    }
}

#[test]
fn typed_values_are_parsed_at_load() {
    let cases = [
        (
            "[scheduler]\nprune_time = \"25:00\"\n",
            "invalid setting scheduler.prune_time (from config file",
            "hours are 00-23",
        ),
        (
            "[scheduler]\nverify_weekday = \"someday\"\n",
            "invalid setting scheduler.verify_weekday (from config file",
            "not a day of the week",
        ),
        (
            "[executor]\nlease_wait = \"soon\"\n",
            "invalid setting executor.lease_wait (from config file",
            "not a duration",
        ),
        (
            "[executor]\nmax_upload_bytes = \"12 parsecs\"\n",
            "invalid setting executor.max_upload_bytes (from config file",
            "not a size",
        ),
        (
            "[catalog_server]\nlease_reap_interval = \"0s\"\n",
            "invalid setting catalog_server.lease_reap_interval (from config file",
            "must be longer than zero",
        ),
    ];
    for (text, setting, reason) in cases {
        let scratch = tempfile::tempdir().unwrap();
        let file = config_file(scratch.path(), text);
        let mut cmd = command(vigild(), scratch.path());
        cmd.arg("--config").arg(&file);
        assert_refused(cmd, scratch.path(), &[setting, reason]);
    }
}

#[test]
fn auth_section_error_exits_2_on_the_catalog() {
    let scratch = tempfile::tempdir().unwrap();
    let file = config_file(
        scratch.path(),
        "[auth.cert_roles]\n\"ops@example.com\" = \"admin\"\n",
    );
    let mut cmd = command(vigil_catalog(), scratch.path());
    cmd.arg("--config").arg(&file);
    assert_refused(
        cmd,
        scratch.path(),
        &["invalid setting auth.cert_roles (from config file"],
    );
}
