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
];

/// Secrets: variables a setting points at by name, or compose inputs.
const SECRETS: &[&str] = &[
    "VIGIL_REPOSITORY_PASSPHRASE",
    "VIGIL_WEBHOOK_SECRET",
    "VIGIL_DB_PASSWORD",
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
