//! TLS and mTLS on a real `vigild`, with a CA made inside the test:
//! plaintext, missing, foreign and expired client certificates are refused;
//! a mapped certificate names a caller; the server certificate rotates
//! without a restart; bad TLS settings stop the start with a clear error.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{command, run_to_exit, start, vigild};
use vigil_auth::{ClientCredentials, ClientTls};
use vigil_proto::catalog::v1 as pb;
use vigil_proto::catalog::v1::access_service_client::AccessServiceClient;
use vigil_tests::pki::{Ca, write_leaf};

/// Asks the server who the caller is, over a fresh connection.
async fn who_am_i(endpoint: &str, tls: ClientTls) -> Result<pb::WhoAmIResponse, String> {
    let credentials = ClientCredentials { token: None, tls };
    let channel = credentials
        .endpoint(endpoint)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    AccessServiceClient::new(credentials.wrap(channel))
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .map(|r| r.into_inner())
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
}

#[tokio::test(flavor = "multi_thread")]
async fn mtls_refuses_what_it_must_names_mapped_certificates_and_rotates() {
    let scratch = tempfile::tempdir().unwrap();
    let pki = scratch.path();
    let ca = Ca::new("vigil test ca");
    let ca_file = ca.write(pki, "ca");
    let (server_cert, server_key) =
        write_leaf(pki, "server", &ca.leaf(&["localhost", "127.0.0.1"], false));
    let (client_cert, client_key) = write_leaf(pki, "client", &ca.leaf(&["ops-laptop"], false));
    let (expired_cert, expired_key) = write_leaf(pki, "expired", &ca.leaf(&["ops-laptop"], true));
    let other = Ca::new("someone else");
    let (foreign_cert, foreign_key) =
        write_leaf(pki, "foreign", &other.leaf(&["ops-laptop"], false));
    let config = pki.join("vigil.toml");
    std::fs::write(
        &config,
        "[auth.cert_roles]\n\"ops-laptop\" = \"operator\"\n",
    )
    .unwrap();

    let mut cmd = command(vigild(), scratch.path());
    cmd.args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(scratch.path().join("data"))
        .arg("--config")
        .arg(&config)
        .env("VIGIL_TLS_CERT", &server_cert)
        .env("VIGIL_TLS_KEY", &server_key)
        .env("VIGIL_TLS_CLIENT_CA", &ca_file);
    let mut server = start(cmd, scratch.path()).unwrap_or_else(|e| panic!("{e:?}"));
    let https = format!("https://127.0.0.1:{}", server.addr.port());
    let http = format!("http://127.0.0.1:{}", server.addr.port());
    let client = |ca: &Path, cert: &Path, key: &Path| ClientTls {
        ca_cert: Some(ca.to_owned()),
        client_cert: Some(cert.to_owned()),
        client_key: Some(key.to_owned()),
    };

    let plaintext = who_am_i(&http, ClientTls::default()).await;
    assert!(plaintext.is_err(), "plaintext answered: {plaintext:?}");
    let bare = ClientTls {
        ca_cert: Some(ca_file.clone()),
        ..ClientTls::default()
    };
    assert!(
        who_am_i(&https, bare).await.is_err(),
        "no client certificate"
    );
    let foreign = who_am_i(&https, client(&ca_file, &foreign_cert, &foreign_key)).await;
    assert!(foreign.is_err(), "another CA's certificate: {foreign:?}");
    let expired = who_am_i(&https, client(&ca_file, &expired_cert, &expired_key)).await;
    assert!(expired.is_err(), "an expired certificate: {expired:?}");

    let me = who_am_i(&https, client(&ca_file, &client_cert, &client_key))
        .await
        .expect("a valid client certificate is accepted");
    assert_eq!(me.name, "cert:ops-laptop");
    assert_eq!(me.role, pb::Role::Operator as i32);

    // Rotation: a server certificate from a new CA replaces the old files;
    // new connections get it, with no restart.
    let rotated_ca = Ca::new("rotated ca");
    let rotated_ca_file = rotated_ca.write(pki, "rotated-ca");
    write_leaf(
        pki,
        "server",
        &rotated_ca.leaf(&["localhost", "127.0.0.1"], false),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = who_am_i(&https, client(&rotated_ca_file, &client_cert, &client_key)).await;
        if answer.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rotation not picked up: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let old = who_am_i(&https, client(&ca_file, &client_cert, &client_key)).await;
    assert!(old.is_err(), "the old server certificate is still served");
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "vigild restarted"
    );
    assert!(server.stderr().contains("tls certificates reloaded"));

    // SIGHUP reloads too: back to the first CA.
    write_leaf(pki, "server", &ca.leaf(&["localhost", "127.0.0.1"], false));
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(20);
    while who_am_i(&https, client(&ca_file, &client_cert, &client_key))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "SIGHUP reload not picked up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn a_missing_key_file_stops_the_start_with_the_setting_named() {
    let scratch = tempfile::tempdir().unwrap();
    let ca = Ca::new("ca");
    let (cert, _) = write_leaf(
        scratch.path(),
        "server",
        &ca.leaf(&["localhost", "127.0.0.1"], false),
    );
    let mut cmd = command(vigild(), scratch.path());
    cmd.args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(scratch.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(scratch.path().join("missing-key.pem"));
    let exited = run_to_exit(cmd);
    assert_eq!(exited.status.code(), Some(2), "stderr: {}", exited.stderr);
    assert!(exited.stderr.contains("tls_key"), "{}", exited.stderr);

    let mut cmd = command(vigild(), scratch.path());
    cmd.args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert);
    let exited = run_to_exit(cmd);
    assert_eq!(exited.status.code(), Some(2), "stderr: {}", exited.stderr);
    assert!(
        exited.stderr.contains("tls_key: is required with tls_cert"),
        "{}",
        exited.stderr
    );
}
