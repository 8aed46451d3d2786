//! The files in `deploy/` agree with the binaries: the example
//! configurations load, and every `VIGIL_` variable they set is a setting
//! the binaries read or a secret a setting names.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use support::{command, start, vigild};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn start_with_config(config: &Path) {
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = command(vigild(), scratch.path());
    cmd.arg("--config")
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(scratch.path().join("data"))
        // The examples sign webhooks with a secret from this variable, as a
        // deployment would provide it.
        .env("VIGIL_WEBHOOK_SECRET", "example-webhook-secret");
    if let Err(exited) = start(cmd, scratch.path()) {
        panic!(
            "{} does not load: {:?} {}",
            config.display(),
            exited.status,
            exited.stderr
        );
    }
}

#[test]
fn example_vigil_toml_loads() {
    start_with_config(&deploy_dir().join("vigil.toml"));
}

#[test]
fn kubernetes_configmap_toml_loads() {
    let text = std::fs::read_to_string(deploy_dir().join("kubernetes/configmap.yaml")).unwrap();
    let doc: serde_json::Value = serde_norway::from_str(&text).unwrap();
    let toml = doc["data"]["vigil.toml"]
        .as_str()
        .expect("configmap holds vigil.toml");
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("vigil.toml");
    std::fs::write(&path, toml).unwrap();
    start_with_config(&path);
}

/// `VIGIL_` names read as settings (flags' variables).
const SETTINGS: &[&str] = &[
    "VIGIL_CONFIG",
    "VIGIL_LISTEN",
    "VIGIL_DATA_DIR",
    "VIGIL_DATABASE_URL",
    "VIGIL_REPOSITORY",
    "VIGIL_REPOSITORY_KEY_FILE",
    "VIGIL_REPOSITORY_PASSPHRASE_ENV",
    "VIGIL_CATALOG",
    "VIGIL_ADMIN_LISTEN",
    "VIGIL_LOG_FORMAT",
    "VIGIL_SHUTDOWN_GRACE",
    "VIGIL_TOKEN_FILE",
];

/// Secrets: variables a setting points at by name, or compose inputs.
const SECRETS: &[&str] = &[
    "VIGIL_REPOSITORY_PASSPHRASE",
    "VIGIL_WEBHOOK_SECRET",
    "VIGIL_DB_PASSWORD",
    "VIGIL_TOKEN",
];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "examples") {
                files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

fn vigil_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("VIGIL_") {
        let start = i + pos;
        let preceded =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut end = start + "VIGIL_".len();
        while end < bytes.len()
            && (bytes[end].is_ascii_uppercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'_')
        {
            end += 1;
        }
        let name = text[start..end].trim_end_matches('_');
        if !preceded && name.len() > "VIGIL".len() {
            names.insert(name.to_owned());
        }
        i = end;
    }
    names
}

#[test]
fn every_vigil_variable_in_deploy_is_known() {
    let mut paths = Vec::new();
    files(&deploy_dir(), &mut paths);
    assert!(paths.len() >= 10, "deploy files found: {paths:?}");
    let mut seen = BTreeSet::new();
    for path in &paths {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for name in vigil_names(&text) {
            // Nested section overrides (VIGIL_SCHEDULER__X) are settings too.
            let known = SETTINGS.contains(&name.as_str())
                || SECRETS.contains(&name.as_str())
                || name.contains("__");
            assert!(
                known,
                "{name} in {} is not a setting the binaries read",
                path.display()
            );
            seen.insert(name);
        }
    }
    for needed in [
        "VIGIL_DATABASE_URL",
        "VIGIL_CATALOG",
        "VIGIL_REPOSITORY",
        "VIGIL_LISTEN",
    ] {
        assert!(seen.contains(needed), "{needed} never used in deploy/");
    }
}

#[test]
fn variable_scanner_finds_names() {
    let names =
        vigil_names("a VIGIL_LISTEN=1 $VIGIL_DATA_DIR X_VIGIL_NOPE VIGIL_ VIGIL_SCHEDULER__TICK");
    let expected: BTreeSet<String> = ["VIGIL_LISTEN", "VIGIL_DATA_DIR", "VIGIL_SCHEDULER__TICK"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, expected);
}

/// `Key=Value` lines of one section of a systemd unit (continuations joined).
fn unit_values(unit: &str, section: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut joined = String::new();
    for line in unit.lines() {
        let line = line.trim();
        if let Some(rest) = joined.strip_suffix('\\') {
            joined = format!("{rest} {line}");
        } else {
            joined = line.to_owned();
        }
        if joined.ends_with('\\') {
            continue;
        }
        let line = std::mem::take(&mut joined);
        if line.starts_with('[') {
            current = line.trim_matches(['[', ']']).to_owned();
        } else if current == section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            out.push(v.trim().to_owned());
        }
    }
    out
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(deploy_dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(&read(rel))
        .map(|doc| serde_json::Value::deserialize(doc).unwrap_or_else(|e| panic!("{rel}: {e}")))
        .collect()
}

#[test]
fn docker_build_context_leaves_out_build_output() {
    let ignore = std::fs::read_to_string(deploy_dir().join("../.dockerignore"))
        .expect("a .dockerignore at the repository root, the Dockerfile's build context");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for needed in ["target/", ".git/", "vigil-data/", "deploy/.env"] {
        assert!(patterns.contains(&needed), "{needed} not in .dockerignore");
    }
    let dockerfile = read("docker/Dockerfile");
    assert!(
        dockerfile.contains("COPY . ."),
        "the Dockerfile copies the context"
    );
}

#[test]
fn executor_instances_listen_on_valid_ports_from_instance_one_to_many() {
    let unit = read("systemd/vigil-executor@.service");
    let env = unit_values(&unit, "Service", "Environment");
    let listen = env
        .iter()
        .find_map(|e| e.strip_prefix("VIGIL_LISTEN="))
        .expect("the executor unit sets VIGIL_LISTEN");
    for instance in ["50061", "50069", "50070", "50100", "65535"] {
        let addr = listen.replace("%i", instance);
        let parsed: std::net::SocketAddr = addr
            .parse()
            .unwrap_or_else(|e| panic!("instance {instance}: {addr}: {e}"));
        assert_eq!(parsed.port().to_string(), instance);
    }
    // The instance names in the unit's own instructions are such ports.
    assert!(unit.contains("vigil-executor@50061 vigil-executor@50062"));
}

/// Directories a unit under `ProtectSystem=strict` may write.
fn writable(unit: &str) -> Vec<String> {
    let mut out = Vec::new();
    for v in unit_values(unit, "Service", "StateDirectory") {
        out.extend(v.split_whitespace().map(|d| format!("/var/lib/{d}")));
    }
    for v in unit_values(unit, "Service", "ReadWritePaths") {
        out.extend(
            v.split_whitespace()
                .map(|d| d.trim_start_matches('-').to_owned()),
        );
    }
    out
}

#[test]
fn units_that_restore_can_write_their_documented_restore_root() {
    for (file, root) in [
        ("systemd/vigild.service", "/var/lib/vigil/restore"),
        ("systemd/vigil-executor@.service", "/var/lib/vigil/restore"),
    ] {
        let unit = read(file);
        assert_eq!(
            unit_values(&unit, "Service", "ProtectSystem"),
            ["strict"],
            "{file}"
        );
        let dirs = writable(&unit);
        assert!(
            dirs.iter().any(|d| root.starts_with(d.as_str())),
            "{file}: {root} is not writable under ProtectSystem=strict (writable: {dirs:?})"
        );
        assert!(unit.contains(root), "{file} names its restore root");
        assert!(
            unit.contains("ReadWritePaths=/srv/"),
            "{file} shows how to restore elsewhere"
        );
    }
}

#[test]
fn compose_executors_mount_sources_read_only_and_a_restore_dir() {
    let compose = &yaml("docker-compose.yml")[0];
    let volumes: Vec<&str> = compose["services"]["executor"]["volumes"]
        .as_array()
        .expect("the executor service has volumes")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        volumes.iter().any(|v| v.ends_with(":/srv:ro")),
        "sources: {volumes:?}"
    );
    assert!(
        volumes.iter().any(|v| v.ends_with(":/restore")),
        "restore: {volumes:?}"
    );
    let env = read("compose.env.example");
    for var in ["BACKUP_SOURCE_DIR", "RESTORE_DIR"] {
        assert!(
            env.contains(&format!("{var}=")),
            "{var} in compose.env.example"
        );
    }
}

#[test]
fn kubernetes_executors_mount_sources_read_only_from_claims_the_base_creates() {
    let kustomization = &yaml("kubernetes/kustomization.yaml")[0];
    let mut claims = BTreeSet::new();
    for resource in kustomization["resources"].as_array().unwrap() {
        let file = format!("kubernetes/{}", resource.as_str().unwrap());
        for doc in yaml(&file) {
            if doc["kind"] == "PersistentVolumeClaim" {
                claims.insert(doc["metadata"]["name"].as_str().unwrap().to_owned());
            }
        }
    }
    let deployment = yaml("kubernetes/executor.yaml")
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("executor Deployment");
    let spec = &deployment["spec"]["template"]["spec"];
    let mounts = spec["containers"][0]["volumeMounts"].as_array().unwrap();
    let source = mounts
        .iter()
        .find(|m| m["mountPath"] == "/srv/data")
        .expect("sources mounted at /srv/data");
    assert_eq!(source["readOnly"], true);
    assert!(mounts.iter().any(|m| m["mountPath"] == "/srv/restore"));
    for volume in spec["volumes"].as_array().unwrap() {
        if let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str() {
            assert!(
                claims.contains(claim),
                "claim {claim} is not created by kustomization.yaml"
            );
        }
    }
    for mount in mounts {
        assert!(
            spec["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["name"] == mount["name"]),
            "mount {} has no volume",
            mount["name"]
        );
    }
}
