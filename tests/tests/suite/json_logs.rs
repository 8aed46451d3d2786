//! With `--log-format json`, every line every server binary writes on
//! standard error is one JSON object with unique keys and plain values:
//! the split deployment (catalog, scheduler, executor) and `vigild` run a
//! backup that completes and one that fails, stop on SIGTERM, and every
//! line of every log is parsed. A bad setting is a JSON line too.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use vigil_tests::{Server, bin, vigil, vigil_json, vigil_ok};

use crate::split::{FAST, source_tree};

const JSON: [&str; 2] = ["--log-format", "json"];

/// Parses every line of `log`; returns the messages seen.
fn check_every_line(process: &str, log: &str) -> BTreeSet<String> {
    assert!(!log.trim().is_empty(), "{process} logged nothing");
    let mut messages = BTreeSet::new();
    for line in log.lines() {
        let value = parse_unique(process, line);
        let object = value.as_object().expect("a JSON object");
        for key in ["timestamp", "level", "target", "message"] {
            assert!(object.contains_key(key), "{process}: no {key}: {line}");
        }
        assert!(
            !line.contains("Some(") && !line.contains(":\"None\""),
            "{process}: debug text in a value: {line}"
        );
        messages.insert(object["message"].as_str().unwrap_or_default().to_owned());
    }
    messages
}

/// Parses `line` as JSON, failing on a repeated key in any object.
fn parse_unique(process: &str, line: &str) -> serde_json::Value {
    struct Unique(serde_json::Value);
    impl<'de> serde::Deserialize<'de> for Unique {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(UniqueVisitor).map(Unique)
        }
    }
    struct UniqueVisitor;
    impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
        type Value = serde_json::Value;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(serde_json::Value::Null)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(Unique(v)) = seq.next_element()? {
                out.push(v);
            }
            Ok(out.into())
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = serde_json::Map::new();
            while let Some((k, Unique(v))) = map.next_entry::<String, Unique>()? {
                if out.insert(k.clone(), v).is_some() {
                    return Err(serde::de::Error::custom(format!("key {k:?} repeated")));
                }
            }
            Ok(out.into())
        }
    }
    let mut de = serde_json::Deserializer::from_str(line);
    match <Unique as serde::Deserialize>::deserialize(&mut de).and_then(|u| de.end().map(|()| u)) {
        Ok(Unique(v)) => v,
        Err(e) => panic!("{process}: not one JSON object with unique keys ({e}): {line}"),
    }
}

fn configurations(dir: &Path, source: &Path) -> std::path::PathBuf {
    let yaml = dir.join("c.yaml");
    std::fs::write(
        &yaml,
        format!(
            "configurations:\n  - name: logs_full\n    kind: FULL\n    enabled: true\n    schedule:\n      cron: \"0 3 * * *\"\n    source:\n      paths: [{src}]\n  - name: logs_broken\n    kind: FULL\n    source:\n      paths: [{missing}]\n",
            src = source.display(),
            missing = dir.join("no-such-dir").display(),
        ),
    )
    .unwrap();
    yaml
}

/// A backup that completes and one that fails, through `endpoint`.
fn run_backups(endpoint: &str, yaml: &Path) {
    vigil_ok(endpoint, &["config", "apply", "-f", yaml.to_str().unwrap()]);
    let job = vigil_json(endpoint, &["backup", "run", "logs_full", "--wait"]);
    assert_eq!(job["state"], "COMPLETED", "{job}");
    let failed = vigil(
        endpoint,
        &["--json", "backup", "run", "logs_broken", "--wait"],
    );
    assert!(!failed.status.success(), "the broken backup fails");
}

#[test]
fn every_line_of_every_binary_is_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config = dir.join("vigil.toml");
    std::fs::write(&config, FAST).unwrap();
    let config = config.to_str().unwrap();
    let source = dir.join("source");
    source_tree(&source);
    let yaml = configurations(dir, &source);

    let data = |name: &str| dir.join(name).display().to_string();
    let catalog_dir = data("catalog");
    let mut catalog = Server::start(
        "vigil-catalog",
        &[&JSON[..], &["--config", config, "--data-dir", &catalog_dir]].concat(),
        &[],
        dir,
    );
    let ep = catalog.endpoint();
    let (scheduler_dir, executor_dir) = (data("scheduler"), data("executor"));
    let mut scheduler = Server::start(
        "vigil-scheduler",
        &[
            &JSON[..],
            &[
                "--config",
                config,
                "--data-dir",
                &scheduler_dir,
                "--catalog",
                &ep,
            ],
        ]
        .concat(),
        &[],
        dir,
    );
    let mut executor = Server::start(
        "vigil-executor",
        &[
            &JSON[..],
            &[
                "--config",
                config,
                "--data-dir",
                &executor_dir,
                "--catalog",
                &ep,
            ],
        ]
        .concat(),
        &[],
        dir,
    );
    run_backups(&ep, &yaml);

    let vigild_dir = data("vigild");
    let mut vigild = Server::start(
        "vigild",
        &[&JSON[..], &["--config", config, "--data-dir", &vigild_dir]].concat(),
        &[],
        dir,
    );
    run_backups(&vigild.endpoint(), &yaml);

    for server in [&mut executor, &mut scheduler, &mut catalog, &mut vigild] {
        assert_eq!(server.terminate(), Some(0));
    }
    for (name, server) in [
        ("vigil-catalog", &catalog),
        ("vigil-scheduler", &scheduler),
        ("vigil-executor", &executor),
        ("vigild", &vigild),
    ] {
        let messages = check_every_line(name, &server.log());
        assert!(messages.contains("starting"), "{name}: {messages:?}");
        assert!(messages.contains("stopped"), "{name}: {messages:?}");
    }
}

#[test]
fn a_bad_setting_is_reported_as_a_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin("vigild"))
        .args(JSON)
        .args(["--listen", "127.0.0.1:0", "--shutdown-grace", "forever"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    check_every_line("vigild", &stderr);
    let line: serde_json::Value = serde_json::from_str(stderr.trim()).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["setting"], "shutdown_grace");
}
