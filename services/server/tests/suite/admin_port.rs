//! The admin port of a real `vigild`: `/healthz`, `/readyz`, and `/metrics`
//! with the process's own families (RPCs by method and code, build info)
//! beside the catalog-wide ones, changing after real calls.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use vigil_proto::catalog::v1::ListConfigurationsRequest;
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;

use crate::support::{command, start, vigild};

/// `GET path` over plain HTTP/1.0: (status code, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, body.to_owned())
}

/// The value of the sample line starting with `series`, 0 when absent.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn admin_addr(server: &crate::support::Server) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    while Instant::now() < deadline {
        if let Ok(line) = server.stdout_lines.recv_timeout(Duration::from_millis(100)) {
            if let Some(addr) = line.strip_prefix("admin listening on ") {
                return addr.trim().parse().unwrap();
            }
            seen.push_str(&line);
        }
    }
    panic!("no admin listening line; stdout: {seen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_health_and_readiness_on_the_admin_port() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let mut cmd = command(vigild(), scratch.path());
    cmd.args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&data_dir);
    let server = start(cmd, scratch.path()).unwrap_or_else(|e| panic!("{e:?}"));
    let admin = admin_addr(&server);

    assert_eq!(get(admin, "/healthz").0, 200);
    assert_eq!(get(admin, "/readyz").0, 200);

    let ok = "grpc_server_handled_total{grpc_service=\"vigil.catalog.v1.CatalogService\",grpc_method=\"ListConfigurations\",grpc_code=\"OK\"}";
    let bad = "grpc_server_handled_total{grpc_service=\"vigil.catalog.v1.CatalogService\",grpc_method=\"ListConfigurations\",grpc_code=\"INVALID_ARGUMENT\"}";
    let latency = "grpc_server_handling_seconds_count{grpc_service=\"vigil.catalog.v1.CatalogService\",grpc_method=\"ListConfigurations\"}";
    let (code, before) = get(admin, "/metrics");
    assert_eq!(code, 200, "{before}");
    assert!(before.contains("vigil_build_info{version=\""), "{before}");
    assert!(
        before.contains("# TYPE vigil_lease_expiries_in_window gauge"),
        "{before}"
    );
    assert!(before.contains("in the last 24 hours"), "{before}");

    let mut client = CatalogServiceClient::new(server.admin_channel(&data_dir).await);
    for _ in 0..3 {
        client
            .list_configurations(ListConfigurationsRequest::default())
            .await
            .unwrap();
    }
    let refused = client
        .list_configurations(ListConfigurationsRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);

    let (_, after) = get(admin, "/metrics");
    // The scrape itself lists configurations too, so OK grows by at least 3.
    assert!(sample(&after, ok) - sample(&before, ok) >= 3.0, "{after}");
    assert_eq!(sample(&after, bad) - sample(&before, bad), 1.0, "{after}");
    assert!(
        sample(&after, latency) - sample(&before, latency) >= 4.0,
        "{after}"
    );
    if let Ok(promtool) = which_promtool() {
        let file = scratch.path().join("scrape.txt");
        std::fs::write(&file, &after).unwrap();
        let out = std::process::Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(&file).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `promtool` on the PATH; CI installs it (`.ci/promtool.sh`) and sets
/// `VIGIL_REQUIRE_PROMTOOL=1` so that its absence fails instead of skipping.
fn which_promtool() -> Result<std::path::PathBuf, ()> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("promtool"))
            .find(|p| p.is_file())
    });
    match found {
        Some(path) => Ok(path),
        None if std::env::var_os("VIGIL_REQUIRE_PROMTOOL").is_some() => {
            panic!("VIGIL_REQUIRE_PROMTOOL is set but promtool is not on the PATH")
        }
        None => {
            eprintln!("SKIPPED promtool check metrics: promtool is not on the PATH");
            Err(())
        }
    }
}
