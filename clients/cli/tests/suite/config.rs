//! `vigil config` against a real catalog: the seed file, JSON output, bad input.

use crate::support;

use serde_json::Value;
use support::Env;

/// (name, kind, schedule as cron or preset summary, enabled) of the seed.
const SEED: &[(&str, &str, Option<&str>, bool)] = &[
    ("cli_restore_config", "FULL", None, true),
    ("daily_full_backup", "FULL", Some("cron 0 2 * * *"), true),
    ("production_daily_full", "FULL", Some("DAILY 02:00"), true),
    (
        "production_database_hourly",
        "DATABASE",
        Some("HOURLY 00:00"),
        false,
    ),
    (
        "production_monthly_archive",
        "FULL",
        Some("cron 0 4 1 * *"),
        true,
    ),
    ("production_pre_deployment", "FULL", None, true),
    (
        "production_weekly_export",
        "EXPORT",
        Some("cron 0 3 * * 0"),
        true,
    ),
    ("restore_operation_config", "FULL", None, true),
    ("temp_restore_config", "FULL", None, true),
    ("test_config", "FULL", None, true),
    ("upload_restore_config", "FULL", None, true),
    ("weekly_export", "FULL", Some("WEEKLY 03:00 SUNDAY"), true),
];

fn schedule_summary(c: &Value) -> Option<String> {
    let s = c.get("schedule").filter(|s| !s.is_null())?;
    if let Some(cron) = s.get("cron") {
        return Some(format!("cron {}", cron.as_str().unwrap()));
    }
    let p = &s["preset"];
    let mut text = format!(
        "{} {}",
        p["frequency"].as_str().unwrap(),
        p["time_of_day"].as_str().unwrap()
    );
    if p["day_of_week"] != "UNSPECIFIED" {
        text.push_str(&format!(" {}", p["day_of_week"].as_str().unwrap()));
    }
    Some(text)
}

#[tokio::test(flavor = "multi_thread")]
async fn applying_the_seed_twice_gives_exactly_the_twelve_configurations() {
    let env = Env::start().await;
    let seed = support::seed_file();
    let seed = seed.to_str().unwrap();

    let first = env
        .vigil(&["--json", "config", "apply", "-f", seed])
        .await
        .json();
    let actions: Vec<&str> = first
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["CREATED"; 12]);

    let second = env.vigil(&["config", "apply", "-f", seed]).await.ok();
    assert!(
        second.contains("12 configurations: 0 created, 0 updated, 12 unchanged"),
        "{second}"
    );

    let list = env.vigil(&["config", "list", "--json"]).await.json();
    let list = list.as_array().expect("a JSON array");
    assert_eq!(list.len(), 12);
    let mut got: Vec<(String, String, Option<String>, bool)> = list
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["kind"].as_str().unwrap().to_owned(),
                schedule_summary(c),
                c["enabled"].as_bool().unwrap(),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, String, Option<String>, bool)> = SEED
        .iter()
        .map(|(n, k, s, e)| ((*n).to_owned(), (*k).to_owned(), s.map(str::to_owned), *e))
        .collect();
    assert_eq!(got, want);

    let daily = list
        .iter()
        .find(|c| c["name"] == "daily_full_backup")
        .unwrap();
    assert_eq!(daily["schedule"]["timezone"], "Europe/Berlin");
    assert_eq!(daily["purpose"], "PRODUCTION");
    assert_eq!(daily["retention"]["keep_within_days"], 30);
    assert_eq!(
        daily["source"]["database"]["password"]["env"],
        "EDMS_DB_PASSWORD"
    );
    let test_config = list.iter().find(|c| c["name"] == "test_config").unwrap();
    assert_eq!(test_config["purpose"], "TEST");

    // The human table lists the same names.
    let table = env.vigil(&["config", "list"]).await.ok();
    for (name, ..) in SEED {
        assert!(table.contains(name), "{name} missing from\n{table}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_stores_nothing() {
    let env = Env::start().await;
    let seed = support::seed_file();
    let out = env
        .vigil(&["config", "apply", "-f", seed.to_str().unwrap(), "--dry-run"])
        .await
        .ok();
    assert!(
        out.contains("12 created") && out.contains("dry run"),
        "{out}"
    );
    let list = env.vigil(&["--json", "config", "list"]).await.json();
    assert_eq!(list, serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_yaml_field_is_refused_with_its_path_and_nothing_is_stored() {
    let env = Env::start().await;
    let file = env.dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "configurations:\n  - name: good\n    kind: FULL\n  - name: typo\n    kind: FULL\n    schedule:\n      cron: \"0 2 * * *\"\n      timezon: Europe/Berlin\n",
    )
    .unwrap();
    let run = env
        .vigil(&["config", "apply", "-f", file.to_str().unwrap()])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("configurations[1].schedule.timezon: unknown field `timezon`"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    assert_eq!(
        env.vigil(&["--json", "config", "list"]).await.json(),
        serde_json::json!([])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_values_are_refused_naming_the_field() {
    let env = Env::start().await;
    let cases: &[(&[&str], &str)] = &[
        (&["--kind", "full", "--cron", "61 2 * * *"], "schedule.cron"),
        (
            &[
                "--kind",
                "full",
                "--cron",
                "0 2 * * *",
                "--timezone",
                "Mars/Olympus_Mons",
            ],
            "schedule.timezone",
        ),
        (
            &["--kind", "full", "--path", "srv/edms/documents"],
            "source.paths",
        ),
        (
            &["--kind", "full", "--keep-daily", "-3"],
            "retention.keep_daily",
        ),
    ];
    for (flags, field) in cases {
        let mut args = vec!["config", "create", "broken"];
        args.extend_from_slice(flags);
        let run = env.vigil(&args).await;
        assert_eq!(run.code, 2, "{flags:?}: {run:?}");
        assert!(
            run.stderr.contains(field),
            "{flags:?}: stderr lacks {field}:\n{}",
            run.stderr
        );
        assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    }
    // Nothing was stored by any of them.
    let get = env.vigil(&["config", "get", "broken"]).await;
    assert_eq!(get.code, 2);
    assert!(get.stderr.contains("broken"), "{}", get.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_get_update_disable_enable_delete() {
    let env = Env::start().await;
    let created = env
        .vigil(&[
            "--json",
            "config",
            "create",
            "nightly",
            "--kind",
            "database",
            "--cron",
            "30 1 * * *",
            "--timezone",
            "Europe/Berlin",
            "--db-engine",
            "postgres",
            "--db-url",
            "postgres://edms@127.0.0.1:5432/edms",
            "--db-password-env",
            "EDMS_DB_PASSWORD",
            "--keep-within-days",
            "30",
            "--label",
            "app=edms",
        ])
        .await
        .json();
    assert_eq!(created["kind"], "DATABASE");
    assert_eq!(created["schedule"]["catch_up"], "ONCE");
    assert_eq!(created["labels"]["app"], "edms");

    let again = env
        .vigil(&["config", "create", "nightly", "--kind", "full"])
        .await;
    assert_eq!(again.code, 2, "ALREADY_EXISTS is bad input: {again:?}");

    let updated = env
        .vigil(&["--json", "config", "update", "nightly", "--keep-daily", "7"])
        .await
        .json();
    assert_eq!(updated["retention"]["keep_daily"], 7);
    assert_eq!(
        updated["retention"]["keep_within_days"], 30,
        "fields not named stay"
    );
    assert_eq!(updated["schedule"]["cron"], "30 1 * * *");

    let disabled = env
        .vigil(&["--json", "config", "disable", "nightly"])
        .await
        .json();
    assert_eq!(disabled["enabled"], false);
    let enabled = env
        .vigil(&["--json", "config", "enable", "nightly"])
        .await
        .json();
    assert_eq!(enabled["enabled"], true);

    let shown = env.vigil(&["config", "get", "nightly"]).await.ok();
    assert!(shown.contains("cron 30 1 * * * (Europe/Berlin)"), "{shown}");
    assert!(shown.contains("from env EDMS_DB_PASSWORD"), "{shown}");

    let stale = env
        .vigil(&["config", "delete", "nightly", "--etag", "not-the-etag"])
        .await;
    // A stale etag is ABORTED (AIP-154): not bad input, read again and retry.
    assert_eq!(stale.code, 1, "{stale:?}");
    assert!(stale.stderr.contains("(ABORTED)"), "{stale:?}");
    assert!(
        stale.stderr.contains("hint: it changed since it was read"),
        "{stale:?}"
    );
    env.vigil(&["config", "get", "nightly"]).await.ok();
    env.vigil(&["config", "delete", "nightly"]).await.ok();
    assert_eq!(env.vigil(&["config", "get", "nightly"]).await.code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn update_from_a_file_replaces_the_configuration() {
    let env = Env::start().await;
    env.vigil(&[
        "config", "create", "adhoc", "--kind", "full", "--path", "/srv/a",
    ])
    .await
    .ok();
    let file = env.dir.path().join("adhoc.yaml");
    std::fs::write(
        &file,
        "name: adhoc\nkind: EXPORT\npurpose: temporary\nsource: {paths: [/srv/b]}\n",
    )
    .unwrap();
    let updated = env
        .vigil(&[
            "--json",
            "config",
            "update",
            "adhoc",
            "-f",
            file.to_str().unwrap(),
        ])
        .await
        .json();
    assert_eq!(updated["kind"], "EXPORT");
    assert_eq!(updated["purpose"], "TEMPORARY");
    assert_eq!(updated["source"]["paths"], serde_json::json!(["/srv/b"]));

    let mismatch = env
        .vigil(&["config", "update", "other", "-f", file.to_str().unwrap()])
        .await;
    assert_eq!(mismatch.code, 2);
    assert!(
        mismatch.stderr.contains("error: name: "),
        "{}",
        mismatch.stderr
    );
}

/// A YAML file of `n` FULL configurations; the one at `bad`, if any, has a
/// cron expression that does not parse.
fn many_configurations(n: usize, bad: Option<usize>) -> String {
    let mut yaml = String::from("configurations:\n");
    for i in 0..n {
        let cron = if Some(i) == bad {
            "61 2 * * *"
        } else {
            "0 2 * * *"
        };
        yaml.push_str(&format!(
            "  - name: fleet_{i:05}\n    kind: FULL\n    schedule:\n      cron: \"{cron}\"\n    source:\n      paths: [/srv/data]\n"
        ));
    }
    yaml
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_of_ten_thousand_configurations_goes_in_batches() {
    let env = Env::start().await;
    let file = env.dir.path().join("fleet.yaml");
    std::fs::write(&file, many_configurations(10_000, None)).unwrap();
    let run = env
        .vigil(&["config", "apply", "-f", file.to_str().unwrap()])
        .await;
    assert!(
        run.stderr
            .contains("batch 20/20: configurations 9501-10000 applied"),
        "{}",
        run.stderr
    );
    let out = run.ok();
    assert!(
        out.contains("10000 configurations: 10000 created"),
        "{}",
        &out[out.len().saturating_sub(300)..]
    );
    // Idempotent: a second apply changes nothing.
    let again = env
        .vigil(&["config", "apply", "-f", file.to_str().unwrap()])
        .await
        .ok();
    assert!(
        again.contains("10000 unchanged"),
        "{}",
        &again[again.len().saturating_sub(300)..]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_batch_changes_nothing_and_earlier_batches_stay_applied() {
    let env = Env::start().await;
    let file = env.dir.path().join("fleet.yaml");
    // The 1,100th configuration is bad: the third batch (1001-1500) is refused.
    std::fs::write(&file, many_configurations(1_600, Some(1_099))).unwrap();
    let run = env
        .vigil(&["config", "apply", "-f", file.to_str().unwrap()])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "the batch of configurations 1001-1500 of 1600 was refused and changed nothing"
        ) && run
            .stderr
            .contains("configurations 1-1000 were applied and stay applied"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("configurations[99].schedule.cron"),
        "{}",
        run.stderr
    );
    let stored = env
        .catalog
        .catalog
        .store()
        .list_configurations(&vigil_proto::catalog::v1::ListConfigurationsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(stored.configurations.len(), 1000);
    assert!(
        stored.next_page_token.is_empty(),
        "only the first two batches are stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_twice_in_a_large_file_is_refused_before_anything_is_sent() {
    let env = Env::start().await;
    let file = env.dir.path().join("fleet.yaml");
    let mut yaml = many_configurations(600, None);
    yaml.push_str("  - name: fleet_00003\n    kind: FULL\n");
    std::fs::write(&file, yaml).unwrap();
    let run = env
        .vigil(&["config", "apply", "-f", file.to_str().unwrap()])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("configurations[600].name"),
        "{}",
        run.stderr
    );
    assert_eq!(
        env.vigil(&["--json", "config", "list"]).await.json(),
        serde_json::json!([])
    );
}
