//! The single-service binaries: `vigil-catalog` serves the catalog alone;
//! `vigil-scheduler` and `vigil-executor` take `--catalog` and run against it.

use crate::support;

use support::{command, grpc, run_to_exit, start, vigil_catalog, vigil_executor, vigil_scheduler};
use tonic_health::pb::health_check_response::ServingStatus;

#[tokio::test(flavor = "multi_thread")]
async fn vigil_catalog_serves_the_catalog_alone() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("catalog-data");
    let mut cmd = command(vigil_catalog(), scratch.path());
    cmd.env("VIGIL_LISTEN", "127.0.0.1:0")
        .env("VIGIL_DATA_DIR", &data_dir);
    let mut server = start(cmd, scratch.path()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(data_dir.join("catalog.db").is_file());

    let channel = server.channel().await;
    let serving = ServingStatus::Serving as i32;
    assert_eq!(
        grpc::health(&channel, "vigil.catalog.v1.CatalogService")
            .await
            .unwrap(),
        serving
    );
    assert_eq!(
        grpc::health(&channel, "vigil.catalog.v1.CoordinationService")
            .await
            .unwrap(),
        serving
    );
    // On its own, the catalog's port also lists the scheduler and executor
    // services, which it forwards to live components.
    let services = grpc::list_v1(&channel).await;
    for forwarded in [
        "vigil.scheduler.v1.SchedulerService",
        "vigil.executor.v1.ExecutorService",
    ] {
        assert!(
            services.iter().any(|s| s == forwarded),
            "{forwarded} is forwarded here: {services:?}"
        );
    }
    assert!(
        services.contains(&"vigil.catalog.v1.CatalogService".to_owned()),
        "{services:?}"
    );

    server.signal("TERM");
    let status =
        tokio::task::block_in_place(|| server.wait_exit(std::time::Duration::from_secs(10)));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

fn check_bad_catalog(bin: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = command(bin, scratch.path());
    cmd.env("VIGIL_CATALOG", "catalog:50051");
    let exited = run_to_exit(cmd);
    assert_eq!(exited.status.code(), Some(2), "stderr: {}", exited.stderr);
    assert!(
        exited
            .stderr
            .contains("invalid setting catalog (from environment variable VIGIL_CATALOG)"),
        "{}",
        exited.stderr
    );
}

fn check_help_lists_flags(bin: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = command(bin, scratch.path());
    cmd.arg("--help");
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--data-dir",
        "--database-url",
        "--repository",
        "--config",
        "--catalog",
        "--token-file",
        "--ca-cert",
        "--client-cert",
        "--client-key",
        "--tls-cert",
        "--tls-key",
        "--tls-client-ca",
    ] {
        assert!(
            help.contains(flag),
            "{flag} missing from help of {bin}: {help}"
        );
    }
}

/// Starts `vigil-catalog`, then `bin` against it with `--catalog`; checks
/// that `service` is served and healthy, and that SIGTERM exits 0.
async fn check_runs_against_a_catalog(bin: &str, service: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let mut catalog_cmd = command(vigil_catalog(), scratch.path());
    catalog_cmd
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(scratch.path().join("catalog"));
    let catalog = start(catalog_cmd, scratch.path()).unwrap_or_else(|e| panic!("{e:?}"));

    let mut cmd = command(bin, scratch.path());
    cmd.args(["--listen", "127.0.0.1:0"])
        .arg("--catalog")
        .arg(catalog.endpoint())
        .arg("--token-file")
        .arg(scratch.path().join("catalog/component.token"))
        .arg("--data-dir")
        .arg(scratch.path().join("service"));
    let mut server = start(cmd, scratch.path()).unwrap_or_else(|e| panic!("{bin}: {e:?}"));
    let channel = server.channel().await;
    assert_eq!(
        grpc::health(&channel, service).await.unwrap(),
        ServingStatus::Serving as i32
    );
    let services = grpc::list_v1(&channel).await;
    assert!(services.iter().any(|s| s == service), "{services:?}");
    assert!(
        !services
            .iter()
            .any(|s| s == "vigil.catalog.v1.CatalogService"),
        "the catalog is not hosted by {bin}: {services:?}"
    );
    server.signal("TERM");
    let status =
        tokio::task::block_in_place(|| server.wait_exit(std::time::Duration::from_secs(40)));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "stderr: {}",
        server.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduler_binary_takes_its_flags_and_runs_against_a_catalog() {
    check_help_lists_flags(vigil_scheduler());
    check_bad_catalog(vigil_scheduler());
    check_runs_against_a_catalog(vigil_scheduler(), "vigil.scheduler.v1.SchedulerService").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn executor_binary_takes_its_flags_and_runs_against_a_catalog() {
    check_help_lists_flags(vigil_executor());
    check_bad_catalog(vigil_executor());
    check_runs_against_a_catalog(vigil_executor(), "vigil.executor.v1.ExecutorService").await;
}
