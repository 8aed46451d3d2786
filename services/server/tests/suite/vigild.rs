//! The real `vigild` binary: first start, health, reflection, the catalog
//! over gRPC, settings layering, bad settings, and signal handling.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{command, grpc, start, vigild};
use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use vigil_proto::catalog::v1::ListConfigurationsRequest;
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;

const CATALOG: &str = "vigil.catalog.v1.CatalogService";
const COORDINATION: &str = "vigil.catalog.v1.CoordinationService";
const SERVING: i32 = ServingStatus::Serving as i32;

fn start_vigild(scratch: &Path, data_dir: &Path, extra: &[&str]) -> support::Server {
    let mut cmd = command(vigild(), scratch);
    cmd.arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra);
    match start(cmd, scratch) {
        Ok(server) => server,
        Err(exited) => panic!("vigild exited {:?}: {}", exited.status, exited.stderr),
    }
}

#[tokio::test]
async fn first_start_creates_the_data_dir_and_reports_serving() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("nested/vigil-data");
    assert!(!data_dir.exists());
    let server = start_vigild(scratch.path(), &data_dir, &[]);
    assert!(data_dir.is_dir(), "data dir created on first start");
    assert!(
        data_dir.join("catalog.db").is_file(),
        "sqlite catalog inside the data dir"
    );

    let channel = server.channel().await;
    for service in ["", CATALOG, COORDINATION] {
        assert_eq!(
            grpc::health(&channel, service).await.unwrap(),
            SERVING,
            "{service:?}"
        );
    }
    let stderr = server.stderr();
    assert!(
        stderr.contains(&server.addr.to_string()),
        "bound address logged: {stderr}"
    );
    assert!(
        stderr.contains(&data_dir.display().to_string()),
        "data dir logged: {stderr}"
    );
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_catalog_services_and_health() {
    let scratch = tempfile::tempdir().unwrap();
    let server = start_vigild(scratch.path(), &scratch.path().join("data"), &[]);
    let channel = server.channel().await;
    let v1 = grpc::list_v1(&channel).await;
    for required in [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        CATALOG,
        COORDINATION,
    ] {
        assert!(
            v1.iter().any(|s| s == required),
            "{required} missing from {v1:?}"
        );
    }
    assert_eq!(
        grpc::list_v1alpha(&channel).await,
        v1,
        "v1alpha lists what v1 lists"
    );
    // Everything advertised is actually served.
    for service in v1.iter().filter(|s| s.starts_with("vigil.")) {
        assert_eq!(
            grpc::health(&channel, service).await.unwrap(),
            SERVING,
            "{service}"
        );
    }
}

#[tokio::test]
async fn catalog_answers_and_rejects_bad_input_over_grpc() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let server = start_vigild(scratch.path(), &data_dir, &[]);
    let mut client = CatalogServiceClient::new(server.admin_channel(&data_dir).await);
    let page = client
        .list_configurations(ListConfigurationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(page.configurations.is_empty());
    let bad = client
        .list_configurations(ListConfigurationsRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("page_size"), "{}", bad.message());
}

#[tokio::test]
async fn flag_beats_env_beats_file() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let (from_file, from_env, from_flag) = (
        root.join("from-file"),
        root.join("from-env"),
        root.join("from-flag"),
    );
    let config = root.join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nshutdown_grace = \"5s\"\n",
            from_file.display()
        ),
    )
    .unwrap();

    let run = |env: bool, flag: bool| {
        let mut cmd = command(vigild(), root);
        cmd.env("VIGIL_CONFIG", &config);
        if env {
            cmd.env("VIGIL_DATA_DIR", &from_env);
        }
        if flag {
            cmd.arg("--data-dir").arg(&from_flag);
        }
        let server = start(cmd, root).unwrap_or_else(|e| panic!("{e:?}"));
        drop(server);
    };
    let catalog_in = |dir: &Path| dir.join("catalog.db").exists();

    run(true, true);
    assert!(catalog_in(&from_flag), "flag wins");
    assert!(!catalog_in(&from_env) && !catalog_in(&from_file));

    run(true, false);
    assert!(catalog_in(&from_env), "env wins over the file");
    assert!(!catalog_in(&from_file));

    run(false, false);
    assert!(
        catalog_in(&from_file),
        "the file applies when nothing overrides it"
    );
}

fn expect_usage_error(
    configure: impl FnOnce(&mut std::process::Command),
    expected: &[&str],
) -> String {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let mut cmd = command(vigild(), scratch.path());
    cmd.arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(&data_dir);
    configure(&mut cmd);
    let exited = support::run_to_exit(cmd);
    assert_eq!(exited.status.code(), Some(2), "stderr: {}", exited.stderr);
    for needle in expected {
        assert!(
            exited.stderr.contains(needle),
            "{needle:?} missing from: {}",
            exited.stderr
        );
    }
    assert!(!data_dir.exists(), "a rejected start changes nothing");
    exited.stderr
}

#[test]
fn bad_flag_names_the_setting_and_the_flag() {
    expect_usage_error(
        |cmd| {
            cmd.arg("--shutdown-grace").arg("forever");
        },
        &[
            "invalid setting shutdown_grace",
            "command-line flag --shutdown-grace",
            "forever",
        ],
    );
}

#[test]
fn bad_env_names_the_setting_and_the_variable() {
    let stderr = expect_usage_error(
        |cmd| {
            cmd.env("VIGIL_DATABASE_URL", "mysql://root:hunter2@db/vigil");
        },
        &[
            "invalid setting database_url",
            "environment variable VIGIL_DATABASE_URL",
            "scheme",
        ],
    );
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
}

#[test]
fn bad_file_names_the_setting_and_the_file() {
    let scratch = tempfile::tempdir().unwrap();
    let config = scratch.path().join("bad.toml");
    std::fs::write(&config, "[catalog_server]\nlease_reap_interval = \"0s\"\n").unwrap();
    expect_usage_error(
        |cmd| {
            cmd.arg("--config").arg(&config);
        },
        &[
            "invalid setting catalog_server.lease_reap_interval",
            "must be longer than zero",
        ],
    );
    std::fs::write(&config, "listen_address = \"127.0.0.1:1\"\n").unwrap();
    expect_usage_error(
        |cmd| {
            cmd.arg("--config").arg(&config);
        },
        &["unknown setting listen_address", "bad.toml"],
    );
    expect_usage_error(
        |cmd| {
            cmd.arg("--config").arg(scratch.path().join("absent.toml"));
        },
        &["config file", "absent.toml", "cannot be read"],
    );
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let scratch = tempfile::tempdir().unwrap();
    let mut server = start_vigild(
        scratch.path(),
        &scratch.path().join("data"),
        &["--shutdown-grace", "10s"],
    );
    let sent = Instant::now();
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("exits within the grace period");
    assert_eq!(status.code(), Some(0), "stderr: {}", server.stderr());
    assert!(sent.elapsed() < Duration::from_secs(10));
    let stderr = server.stderr();
    assert!(stderr.contains("shutdown requested"), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
}

/// Opens a health watch: a call that never ends on its own, so a graceful
/// drain has to wait for it.
async fn open_watch(
    server: &support::Server,
) -> tonic::Streaming<tonic_health::pb::HealthCheckResponse> {
    let mut watch = HealthClient::new(server.channel().await)
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(watch.next().await.unwrap().unwrap().status, SERVING);
    watch
}

#[tokio::test(flavor = "multi_thread")]
async fn drain_with_an_open_call_is_bounded_by_the_grace_period() {
    let scratch = tempfile::tempdir().unwrap();
    let mut server = start_vigild(
        scratch.path(),
        &scratch.path().join("data"),
        &["--shutdown-grace", "2s"],
    );
    let mut watch = open_watch(&server).await;
    let sent = Instant::now();
    server.signal("TERM");
    let next = watch.next().await.unwrap().unwrap();
    assert_eq!(
        next.status,
        ServingStatus::NotServing as i32,
        "drain reports NOT_SERVING"
    );
    let status = tokio::task::block_in_place(|| server.wait_exit(Duration::from_secs(15)))
        .expect("exits after the grace period");
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(0), "stderr: {}", server.stderr());
    assert!(
        took >= Duration::from_secs(2),
        "did not wait for the open call: {took:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "drain not bounded: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn second_signal_exits_at_once() {
    let scratch = tempfile::tempdir().unwrap();
    let mut server = start_vigild(
        scratch.path(),
        &scratch.path().join("data"),
        &["--shutdown-grace", "60s"],
    );
    let _watch = open_watch(&server).await;
    server.signal("TERM");
    // The open watch holds the drain; the process is still running.
    let early = tokio::task::block_in_place(|| server.wait_exit(Duration::from_millis(500)));
    assert!(
        early.is_none(),
        "exited before the second signal: {early:?}"
    );
    let sent = Instant::now();
    server.signal("INT");
    let status = tokio::task::block_in_place(|| server.wait_exit(Duration::from_secs(10)))
        .expect("second signal ends the process");
    assert!(sent.elapsed() < Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(130),
        "128 + SIGINT; stderr: {}",
        server.stderr()
    );
}
