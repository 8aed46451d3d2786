//! Tokens, roles and the audit trail through the real CLI, and a backup and
//! a restore on a `vigild` that demands mTLS.

use std::path::Path;

use vigil_tests::pki::{Ca, write_leaf};
use vigil_tests::{Server, bin, vigil_json, vigil_ok};

fn start(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let data = dir.join("data");
    let mut args = vec!["--data-dir", data.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start("vigild", &args, env, dir)
}

/// Runs the CLI with exactly the credentials given (no harness token).
fn vigil_as(endpoint: &str, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(bin("vigil"));
    cmd.env_remove("VIGIL_TOKEN_FILE")
        .env_remove("VIGIL_TOKEN")
        .arg("--endpoint")
        .arg(endpoint)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("vigil runs")
}

#[test]
fn cli_tokens_create_list_revoke_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[], &[]);
    let endpoint = server.endpoint();

    let out = vigil_ok(
        &endpoint,
        &["tokens", "create", "ci-reader", "--role", "viewer"],
    );
    let token = out.trim_end().to_owned();
    assert_eq!(out, format!("{token}\n"), "the token alone on stdout");
    assert!(token.starts_with("vigil_") && token.len() == 70, "{token}");
    let json = vigil_json(
        &endpoint,
        &["tokens", "create", "ci-operator", "--role", "operator"],
    );
    assert!(
        json["token"].as_str().unwrap().starts_with("vigil_"),
        "{json}"
    );

    let list = vigil_ok(&endpoint, &["tokens", "list"]);
    for name in ["admin", "component", "ci-reader", "ci-operator"] {
        assert!(list.contains(name), "{name} missing:\n{list}");
    }
    assert!(!list.contains(&token), "a listing never shows a token");

    let reader = [("VIGIL_TOKEN", token.as_str())];
    let read = vigil_as(&endpoint, &reader, &["config", "list"]);
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let write = vigil_as(
        &endpoint,
        &reader,
        &["tokens", "create", "x", "--role", "admin"],
    );
    assert!(!write.status.success());
    let stderr = String::from_utf8_lossy(&write.stderr);
    assert!(
        stderr.contains("PermissionDenied") || stderr.contains("needs the admin role"),
        "{stderr}"
    );
    let nobody = vigil_as(&endpoint, &[], &["config", "list"]);
    assert!(!nobody.status.success());
    assert!(
        String::from_utf8_lossy(&nobody.stderr).contains("credential is required"),
        "{}",
        String::from_utf8_lossy(&nobody.stderr)
    );

    vigil_ok(&endpoint, &["tokens", "revoke", "ci-reader"]);
    let revoked = vigil_as(&endpoint, &reader, &["config", "list"]);
    assert!(!revoked.status.success(), "a revoked token still works");

    let audit = vigil_json(&endpoint, &["audit"]);
    let methods: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["method"].as_str().unwrap())
        .collect();
    assert!(
        methods.iter().any(|m| m.ends_with("RevokeToken")),
        "{audit}"
    );
    assert!(
        methods.iter().any(|m| m.ends_with("CreateToken")),
        "{audit}"
    );
    assert!(
        !audit.to_string().contains(&token),
        "no token in the audit trail"
    );
    let table = vigil_ok(&endpoint, &["audit", "--limit", "3"]);
    assert!(table.contains("RevokeToken"), "{table}");
}

#[test]
fn backup_and_restore_on_vigild_with_mtls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    let ca = Ca::new("vigil e2e ca");
    let ca_file = ca.write(&pki, "ca");
    let (server_cert, server_key) =
        write_leaf(&pki, "server", &ca.leaf(&["localhost", "127.0.0.1"], false));
    let (client_cert, client_key) = write_leaf(&pki, "client", &ca.leaf(&["e2e-client"], false));
    let source = dir.path().join("source");
    std::fs::create_dir_all(source.join("docs")).unwrap();
    std::fs::write(source.join("docs/a.txt"), "first file\n").unwrap();
    std::fs::write(source.join("b.bin"), vec![7u8; 100_000]).unwrap();

    let server = start(
        dir.path(),
        &[
            "--tls-cert",
            server_cert.to_str().unwrap(),
            "--tls-key",
            server_key.to_str().unwrap(),
            "--tls-client-ca",
            ca_file.to_str().unwrap(),
        ],
        &[],
    );
    let endpoint = format!(
        "https://{}",
        server.endpoint().trim_start_matches("http://")
    );
    let token_file = dir.path().join("data/admin.token");
    let env = [
        ("VIGIL_TOKEN_FILE", token_file.to_str().unwrap()),
        ("VIGIL_CA_CERT", ca_file.to_str().unwrap()),
        ("VIGIL_CLIENT_CERT", client_cert.to_str().unwrap()),
        ("VIGIL_CLIENT_KEY", client_key.to_str().unwrap()),
    ];
    let ok = |args: &[&str]| {
        let out = vigil_as(&endpoint, &env, args);
        assert!(
            out.status.success(),
            "vigil {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };

    let plain = vigil_as(&server.endpoint(), &env[..1], &["config", "list"]);
    assert!(!plain.status.success(), "plaintext is refused");

    let yaml = dir.path().join("c.yaml");
    std::fs::write(
        &yaml,
        format!(
            "configurations:\n  - name: tls_files\n    kind: FULL\n    source:\n      paths: [{}]\n",
            source.display()
        ),
    )
    .unwrap();
    ok(&["config", "apply", "-f", yaml.to_str().unwrap()]);
    let job: serde_json::Value =
        serde_json::from_str(&ok(&["--json", "backup", "run", "tls_files", "--wait"])).unwrap();
    assert_eq!(job["state"], "COMPLETED", "{job}");
    let artifact = job["artifact"]
        .as_str()
        .expect("the job names its artifact")
        .to_owned();

    let target = dir.path().join("restored");
    let restore: serde_json::Value = serde_json::from_str(&ok(&[
        "--json",
        "restore",
        &artifact,
        "--to",
        target.to_str().unwrap(),
        "--wait",
    ]))
    .unwrap();
    assert_eq!(restore["state"], "COMPLETED", "{restore}");
    let restored_root = walk_find(&target, "a.txt").expect("a.txt restored");
    assert_eq!(
        std::fs::read_to_string(restored_root).unwrap(),
        "first file\n"
    );
    let bin = walk_find(&target, "b.bin").expect("b.bin restored");
    assert_eq!(std::fs::read(bin).unwrap(), vec![7u8; 100_000]);
}

fn walk_find(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = walk_find(&path, name)
        {
            return Some(found);
        }
    }
    None
}
