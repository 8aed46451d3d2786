//! `vigild --database-url postgres://...`: the catalog on PostgreSQL. Needs
//! `VIGIL_TEST_POSTGRES_URL`; without it the test fails, naming the
//! variable.

use crate::support;

use std::process::Command;

use support::{command, grpc, start, vigild};
use tonic_health::pb::health_check_response::ServingStatus;

const DATABASE: &str = "vigil_vigild_test";

/// The server part of a URL (`postgres://user@host:port`) and its query.
fn split_url(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("URL has a scheme");
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, format!("?{query}")),
        None => (rest, String::new()),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    (format!("{scheme}://{authority}"), query)
}

#[tokio::test(flavor = "multi_thread")]
async fn needs_postgres_vigild_runs_its_catalog_without_leaking_the_password() {
    let base = match std::env::var("VIGIL_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => base,
        _ => panic!(
            "VIGIL_TEST_POSTGRES_URL is not set: this test needs PostgreSQL (.ci/test.sh sets it)"
        ),
    };
    let (server, query) = split_url(&base);
    let admin_url = format!("{server}/postgres{query}");
    // A fresh database every run: one left by an earlier run may carry
    // migrations of another version of the catalog.
    let created = Command::new("psql")
        .arg(&admin_url)
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            &format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"),
            "-qc",
            &format!("CREATE DATABASE {DATABASE}"),
        ])
        .output()
        .expect("psql runs");
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(created.status.success(), "{stderr}");

    // Trust auth ignores the password, so a made-up one shows whether it leaks.
    let secret = "pw-that-must-not-leak";
    let with_password = {
        let (scheme, rest) = server.split_once("://").unwrap();
        let (userinfo, host) = rest.split_once('@').unwrap_or(("postgres", rest));
        let user = userinfo.split(':').next().unwrap();
        format!("{scheme}://{user}:{secret}@{host}/{DATABASE}{query}")
    };

    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let mut cmd = command(vigild(), scratch.path());
    cmd.args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&data_dir)
        .env("VIGIL_DATABASE_URL", &with_password);
    let mut server = start(cmd, scratch.path()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        !data_dir.join("catalog.db").exists(),
        "no SQLite catalog when PostgreSQL is set"
    );
    let channel = server.channel().await;
    assert_eq!(
        grpc::health(&channel, "vigil.catalog.v1.CatalogService")
            .await
            .unwrap(),
        ServingStatus::Serving as i32
    );
    server.signal("TERM");
    let status =
        tokio::task::block_in_place(|| server.wait_exit(std::time::Duration::from_secs(15)));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "stderr: {}",
        server.stderr()
    );
    let output = format!("{}\n{}", server.stderr(), server.stdout_rest());
    assert!(
        output.contains("***@"),
        "the redacted URL is logged: {output}"
    );
    assert!(!output.contains(secret), "the password leaked: {output}");
}
