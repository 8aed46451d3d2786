//! `vigil status` against the real status service reading a real catalog
//! that holds the seed's configurations.

use crate::support;

use support::{Env, vigil_at};
use tokio_stream::wrappers::TcpListenerStream;

/// Serves the status service on its own port, reading `env`'s catalog.
async fn status_endpoint(env: &Env) -> String {
    let channel = tonic::transport::Endpoint::from_shared(env.endpoint())
        .unwrap()
        .connect_lazy();
    let channel = vigil_client::ClientCredentials::default().wrap(channel);
    let service = vigil_status::StatusServer::new(channel, vigil_server_common::clock::system())
        .into_service();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .expect("status server");
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread")]
async fn status_json_markdown_and_table_describe_the_seed() {
    let env = Env::start().await;
    let seed = support::seed_file();
    env.vigil(&["config", "apply", "-f", seed.to_str().unwrap()])
        .await
        .ok();
    let status = status_endpoint(&env).await;

    let report = vigil_at(&status, &["status", "--json"]).await.json();
    let verdict = report["verdict"].as_str().unwrap();
    assert!(
        ["HEALTHY", "PARTIALLY_WORKING", "FAILING"].contains(&verdict),
        "{verdict}"
    );
    let risk = report["risk"].as_str().unwrap();
    assert!(["LOW", "MEDIUM", "HIGH"].contains(&risk), "{risk}");
    // No scheduler, no executor, no backups: this is not healthy.
    assert_ne!(verdict, "HEALTHY");
    let c = &report["configurations"];
    assert_eq!(c["total"], 12);
    assert_eq!(c["inactive"].as_array().unwrap().len(), 1);
    assert_eq!(c["inactive"][0]["name"], "production_database_hourly");
    let leftovers: Vec<&str> = c["leftovers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for name in [
        "cli_restore_config",
        "restore_operation_config",
        "temp_restore_config",
        "test_config",
        "upload_restore_config",
    ] {
        assert!(
            leftovers.contains(&name),
            "{name} not among leftovers {leftovers:?}"
        );
    }
    assert!(
        report["recommendations"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );

    let md = vigil_at(&status, &["status", "--markdown"]).await.ok();
    assert!(md.starts_with("# Backup System Status Report\n"), "{md}");
    for part in [
        "## Current Status:",
        "### 1. Backup Configurations",
        "**Total Configurations:** 12",
        "## Recommended Actions",
        "Current Risk Level:",
    ] {
        assert!(md.contains(part), "{part} missing from\n{md}");
    }

    let text = vigil_at(&status, &["status"]).await.ok();
    assert!(
        text.contains("Backup System Status Report") && text.contains("production_database_hourly"),
        "{text}"
    );
    assert!(
        !text.contains("**"),
        "terminal output has no Markdown marks"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_window_is_bad_input() {
    let env = Env::start().await;
    let status = status_endpoint(&env).await;
    let run = vigil_at(&status, &["status", "--window", "400d"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("window"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_check_exits_with_the_verdict_and_plain_status_exits_zero() {
    let env = Env::start().await;
    let seed = support::seed_file();
    env.vigil(&["config", "apply", "-f", seed.to_str().unwrap()])
        .await
        .ok();
    let status = status_endpoint(&env).await;
    // Enabled schedules and no executor alive: FAILING.
    let verdict = vigil_at(&status, &["status", "--json"]).await.json()["verdict"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(verdict, "FAILING");
    let plain = vigil_at(&status, &["status"]).await;
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let check = vigil_at(&status, &["status", "--check"]).await;
    assert_eq!(check.code, 4, "{}", check.stderr);
    assert!(check.stdout.contains("FAILING"), "{}", check.stdout);
    assert!(check.stderr.is_empty(), "{}", check.stderr);

    // Nothing enabled, nothing due: HEALTHY, exit 0.
    let empty = Env::start().await;
    let status = status_endpoint(&empty).await;
    let check = vigil_at(&status, &["status", "--check"]).await;
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
}
