//! A fresh `vigild` on the embedded default, driven by the real CLI as a new
//! user would: declarative setup, bad input, and the status report.

use std::collections::BTreeMap;
use std::time::Duration;

use vigil_tests::{Server, eventually, vigil, vigil_json, vigil_ok, workspace_file};

fn start(dir: &tempfile::TempDir) -> Server {
    let data = dir.path().join("data");
    Server::start(
        "vigild",
        &["--data-dir", data.to_str().unwrap()],
        &[],
        dir.path(),
    )
}

fn config_names(endpoint: &str) -> BTreeMap<String, serde_json::Value> {
    let list = vigil_json(endpoint, &["config", "list"]);
    list.as_array()
        .expect("config list --json is an array")
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c.clone()))
        .collect()
}

#[test]
fn applying_the_seed_file_twice_leaves_exactly_the_twelve_seed_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let seed = workspace_file("deploy/examples/seed-configurations.yaml");
    let seed = seed.to_str().unwrap();

    vigil_ok(&server.endpoint(), &["config", "apply", "-f", seed]);
    let first = config_names(&server.endpoint());
    vigil_ok(&server.endpoint(), &["config", "apply", "-f", seed]);
    let second = config_names(&server.endpoint());

    assert_eq!(first.len(), 12, "{:?}", first.keys());
    assert_eq!(first, second, "a second apply changed something");
    let daily = &second["daily_full_backup"];
    assert_eq!(daily["kind"], "FULL");
    assert_eq!(daily["enabled"], true);
    assert_eq!(daily["schedule"]["cron"], "0 2 * * *");
    assert_eq!(second["production_database_hourly"]["enabled"], false);
    assert_eq!(second["production_weekly_export"]["kind"], "EXPORT");
    assert!(second["test_config"]["schedule"].is_null());
}

#[test]
fn bad_input_names_the_field_exits_non_zero_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let endpoint = server.endpoint();
    let seed = workspace_file("deploy/examples/seed-configurations.yaml");
    vigil_ok(
        &endpoint,
        &["config", "apply", "-f", seed.to_str().unwrap()],
    );
    let before = config_names(&endpoint);

    let cases: &[(&str, &str, &str)] = &[
        (
            "bad cron",
            "schedule:\n      cron: \"61 2 * * *\"\n      timezone: UTC",
            "schedule.cron",
        ),
        (
            "unknown zone",
            "schedule:\n      cron: \"0 2 * * *\"\n      timezone: Mars/Olympus",
            "schedule.timezone",
        ),
        (
            "never fires",
            "schedule:\n      cron: \"0 0 30 2 *\"",
            "schedule.cron",
        ),
        ("empty path", "source:\n      paths: [\"\"]", "source.paths"),
        (
            "negative retention",
            "retention:\n      keep_daily: -1",
            "retention.keep_daily",
        ),
    ];
    for (what, block, field) in cases {
        let file = dir.path().join(format!("{}.yaml", what.replace(' ', "_")));
        let source = if block.starts_with("source:") {
            ""
        } else {
            "source:\n      paths: [/srv/data]\n    "
        };
        std::fs::write(
            &file,
            format!("configurations:\n  - name: daily_full_backup\n    kind: FULL\n    {source}{block}\n"),
        )
        .unwrap();
        let out = vigil(
            &endpoint,
            &["config", "apply", "-f", file.to_str().unwrap()],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: apply succeeded");
        assert!(
            stderr.contains(field),
            "{what}: stderr does not name {field}:\n{stderr}"
        );
    }
    assert_eq!(
        before,
        config_names(&endpoint),
        "a rejected apply changed stored data"
    );
}

#[test]
fn status_report_is_valid_json_with_stable_enum_strings() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let seed = workspace_file("deploy/examples/seed-configurations.yaml");
    vigil_ok(
        &server.endpoint(),
        &["config", "apply", "-f", seed.to_str().unwrap()],
    );
    // The verdict depends on whether the scheduler has armed the new
    // schedules yet; the two reports compared below are taken after it has,
    // so both see the same state.
    let report = eventually(
        Duration::from_secs(30),
        "the scheduler to arm the seed's five schedules",
        || {
            let report = vigil_json(&server.endpoint(), &["status"]);
            let schedules = report["schedules"].as_array()?;
            let armed = schedules.iter().filter(|s| s["armed"] == true).count();
            (armed == 5).then_some(report)
        },
    );
    let verdict = report["verdict"].as_str().expect("verdict string");
    let risk = report["risk"].as_str().expect("risk string");
    assert!(
        ["HEALTHY", "PARTIALLY_WORKING", "FAILING"].contains(&verdict),
        "{verdict}"
    );
    assert!(["LOW", "MEDIUM", "HIGH"].contains(&risk), "{risk}");
    assert_eq!(report["configurations"]["total"], 12);
    let human = vigil_ok(&server.endpoint(), &["status"]);
    assert!(
        human.contains(verdict.replace('_', " ").as_str()) || human.contains(verdict),
        "{human}"
    );
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir);
    vigil_ok(&server.endpoint(), &["config", "list"]);
    assert_eq!(server.terminate(), Some(0), "log:\n{}", server.log());
}

#[test]
fn a_rejected_apply_names_every_bad_field_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir);
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "configurations:\n  - name: one\n    kind: FULL\n    schedule:\n      cron: \"61 2 * * *\"\n      timezone: Mars/Olympus\n    source:\n      paths: [\"\"]\n    retention:\n      keep_daily: -1\n  - name: two\n    kind: DATABASE\n",
    )
    .unwrap();
    let out = vigil(
        &server.endpoint(),
        &["config", "apply", "-f", file.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for field in [
        "schedule.cron",
        "schedule.timezone",
        "source.paths",
        "retention.keep_daily",
        "configurations[1]",
    ] {
        assert!(stderr.contains(field), "{field} not named:\n{stderr}");
    }
}
