use vigil_proto::catalog::v1::{
    BackupKind, CatchUpPolicy, DatabaseEngine, Frequency, OverlapPolicy, Purpose, Weekday,
    schedule, secret_ref,
};

use super::*;

const SEED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/examples/seed-configurations.yaml"
));

fn cron_of(c: &BackupConfiguration) -> Option<&str> {
    match c.schedule.as_ref()?.spec.as_ref()? {
        schedule::Spec::Cron(cron) => Some(cron),
        schedule::Spec::Preset(_) => None,
    }
}

#[test]
fn the_seed_file_parses_into_the_twelve_configurations() {
    let all = parse_configurations(SEED).expect("seed parses");
    let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "daily_full_backup",
            "production_daily_full",
            "production_monthly_archive",
            "production_weekly_export",
            "weekly_export",
            "production_database_hourly",
            "cli_restore_config",
            "production_pre_deployment",
            "restore_operation_config",
            "temp_restore_config",
            "test_config",
            "upload_restore_config",
        ]
    );
    let by = |n: &str| all.iter().find(|c| c.name == n).unwrap();

    let daily = by("daily_full_backup");
    assert_eq!(daily.kind(), BackupKind::Full);
    assert!(daily.enabled());
    assert_eq!(cron_of(daily), Some("0 2 * * *"));
    let s = daily.schedule.as_ref().unwrap();
    assert_eq!(s.timezone, "Europe/Berlin");
    assert_eq!(s.catch_up(), CatchUpPolicy::Once);
    assert_eq!(s.overlap(), OverlapPolicy::Skip);
    let db = daily.source.as_ref().unwrap().database.as_ref().unwrap();
    assert_eq!(db.engine(), DatabaseEngine::Postgres);
    assert_eq!(db.url, "postgres://edms@127.0.0.1:5432/edms");
    assert_eq!(
        db.password.as_ref().unwrap().source,
        Some(secret_ref::Source::Env("EDMS_DB_PASSWORD".into()))
    );
    assert_eq!(
        daily.source.as_ref().unwrap().paths,
        ["/srv/edms/documents", "/srv/edms/media"]
    );
    let r = daily.retention.unwrap();
    assert_eq!(
        (
            r.keep_within_days,
            r.keep_daily,
            r.keep_weekly,
            r.keep_monthly
        ),
        (30, 7, 4, 12)
    );
    assert_eq!(daily.labels.get("app").map(String::as_str), Some("edms"));

    assert_eq!(cron_of(by("production_monthly_archive")), Some("0 4 1 * *"));
    assert_eq!(by("production_weekly_export").kind(), BackupKind::Export);
    assert_eq!(cron_of(by("production_weekly_export")), Some("0 3 * * 0"));

    let Some(schedule::Spec::Preset(weekly)) = by("weekly_export").schedule.clone().unwrap().spec
    else {
        panic!("weekly_export uses a preset");
    };
    assert_eq!(weekly.frequency(), Frequency::Weekly);
    assert_eq!(weekly.time_of_day, "03:00");
    assert_eq!(weekly.day_of_week(), Weekday::Sunday);

    let hourly = by("production_database_hourly");
    assert_eq!(hourly.kind(), BackupKind::Database);
    assert!(!hourly.enabled());
    assert!(hourly.source.as_ref().unwrap().database.is_some());

    for name in [
        "cli_restore_config",
        "restore_operation_config",
        "temp_restore_config",
        "upload_restore_config",
    ] {
        assert_eq!(by(name).purpose(), Purpose::Temporary, "{name}");
        assert!(by(name).schedule.is_none(), "{name} is on-demand");
        assert_eq!(by(name).retention.unwrap().keep_within_days, 30);
    }
    assert_eq!(by("test_config").purpose(), Purpose::Test);
    assert_eq!(
        by("production_pre_deployment").purpose(),
        Purpose::Production
    );
    assert!(by("production_pre_deployment").schedule.is_none());
    assert_eq!(all.iter().filter(|c| c.schedule.is_some()).count(), 6);
}

#[test]
fn the_seed_file_holds_no_password() {
    for c in parse_configurations(SEED).unwrap() {
        if let Some(db) = c.source.and_then(|s| s.database) {
            assert!(check_url_has_no_password("url", &db.url).is_ok());
        }
    }
}

#[test]
fn unknown_field_is_rejected_naming_its_path() {
    let text = "configurations:\n  - name: a\n    kind: FULL\n  - name: b\n    kind: FULL\n    schedule:\n      cronn: \"0 2 * * *\"\n";
    let err = parse_configurations(text).unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.starts_with("configurations[1].schedule.cronn: unknown field `cronn`"),
        "{shown}"
    );
    assert!(shown.contains("line 7"), "{shown}");
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn unknown_top_level_field_is_rejected() {
    let err = parse_configurations("configurations: []\nextra: 1\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `extra`"), "{err}");
}

#[test]
fn strings_map_to_their_enums() {
    let text = r#"
configurations:
  - name: x
    kind: database
    purpose: test
    schedule:
      cron: "*/5 * * * *"
      catch_up: all
      overlap: queue
      catch_up_window: 6h
      jitter: 30s
      grace: 15m
    source:
      database: {engine: mysql, url: "mysql://root@127.0.0.1:3306/app", password_file: /run/secrets/db}
  - name: y
    kind: EXPORT
    purpose: temporary
    enabled: false
    schedule:
      preset: {frequency: monthly, time: "04:30", day_of_month: 31}
      catch_up: skip
      overlap: allow
"#;
    let all = parse_configurations(text).unwrap();
    let x = &all[0];
    assert_eq!(x.kind(), BackupKind::Database);
    assert_eq!(x.purpose(), Purpose::Test);
    assert!(x.enabled(), "enabled defaults to true");
    let s = x.schedule.as_ref().unwrap();
    assert_eq!(s.catch_up(), CatchUpPolicy::All);
    assert_eq!(s.overlap(), OverlapPolicy::Queue);
    assert_eq!(s.catch_up_window.unwrap().seconds, 6 * 3600);
    assert_eq!(s.jitter.unwrap().seconds, 30);
    assert_eq!(s.grace.unwrap().seconds, 900);
    assert_eq!(s.timezone, "");
    let db = x.source.as_ref().unwrap().database.as_ref().unwrap();
    assert_eq!(db.engine(), DatabaseEngine::Mysql);
    assert_eq!(
        db.password.as_ref().unwrap().source,
        Some(secret_ref::Source::File("/run/secrets/db".into()))
    );

    let y = &all[1];
    assert_eq!(y.kind(), BackupKind::Export);
    assert_eq!(y.purpose(), Purpose::Temporary);
    assert!(!y.enabled());
    let s = y.schedule.as_ref().unwrap();
    assert_eq!(s.catch_up(), CatchUpPolicy::Skip);
    assert_eq!(s.overlap(), OverlapPolicy::Allow);
    let Some(schedule::Spec::Preset(p)) = &s.spec else {
        panic!("preset")
    };
    assert_eq!(
        (p.frequency(), p.time_of_day.as_str(), p.day_of_month),
        (Frequency::Monthly, "04:30", 31)
    );
}

#[test]
fn defaults_are_explicit() {
    let all = parse_configurations(
        "configurations:\n  - {name: a, kind: FULL, schedule: {cron: '0 1 * * *'}}\n",
    )
    .unwrap();
    let a = &all[0];
    assert_eq!(a.purpose(), Purpose::Production);
    assert!(a.enabled());
    assert_eq!(a.schedule.as_ref().unwrap().catch_up(), CatchUpPolicy::Once);
    assert_eq!(a.schedule.as_ref().unwrap().overlap(), OverlapPolicy::Skip);
}

#[test]
fn bad_words_and_durations_name_their_path() {
    let cases = [
        (
            "configurations:\n  - {name: a, kind: INCREMENTAL}\n",
            "configurations[0].kind",
        ),
        (
            "configurations:\n  - {name: a, kind: FULL, purpose: staging}\n",
            "configurations[0].purpose",
        ),
        (
            "configurations:\n  - {name: a, kind: FULL, schedule: {cron: x, catch_up: twice}}\n",
            "configurations[0].schedule.catch_up",
        ),
        (
            "configurations:\n  - {name: a, kind: FULL, schedule: {cron: x, overlap: never}}\n",
            "configurations[0].schedule.overlap",
        ),
        (
            "configurations:\n  - {name: a, kind: FULL, schedule: {cron: x, grace: soon}}\n",
            "configurations[0].schedule.grace",
        ),
        (
            "configurations:\n  - {name: a, kind: FULL, retention: {keep_daily: many}}\n",
            "configurations[0].retention.keep_daily",
        ),
    ];
    for (text, path) in cases {
        let err = parse_configurations(text).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("{path}: ")),
            "{path}: {err}"
        );
    }
}

#[test]
fn shape_conflicts_are_rejected_locally() {
    let both = "configurations:\n  - {name: a, kind: FULL, schedule: {cron: x, preset: {frequency: daily}}}\n";
    assert!(
        parse_configurations(both)
            .unwrap_err()
            .to_string()
            .starts_with("configurations[0].schedule: cron and preset")
    );
    let neither = "configurations:\n  - {name: a, kind: FULL, schedule: {timezone: UTC}}\n";
    assert!(
        parse_configurations(neither)
            .unwrap_err()
            .to_string()
            .starts_with("configurations[0].schedule: needs cron or preset")
    );
    let dup = "configurations:\n  - {name: a, kind: FULL}\n  - {name: a, kind: FULL}\n";
    assert!(
        parse_configurations(dup)
            .unwrap_err()
            .to_string()
            .starts_with("configurations[1].name: ")
    );
    let two_secrets = "configurations:\n  - name: a\n    kind: DATABASE\n    source: {database: {engine: postgres, url: 'postgres://u@h/db', password_env: A, password_file: /b}}\n";
    assert!(
        parse_configurations(two_secrets)
            .unwrap_err()
            .to_string()
            .starts_with("configurations[0].source.database: ")
    );
}

#[test]
fn a_password_in_the_url_is_refused_without_being_echoed() {
    let text = "configurations:\n  - name: a\n    kind: DATABASE\n    source: {database: {engine: postgres, url: 'postgres://edms:hunter2@h:5432/edms'}}\n";
    let err = parse_configurations(text).unwrap_err().to_string();
    assert!(
        err.starts_with("configurations[0].source.database.url: must not contain a password"),
        "{err}"
    );
    assert!(!err.contains("hunter2"));
    assert!(check_url_has_no_password("u", "mysql://root@h/db?password=x").is_err());
    assert!(check_url_has_no_password("u", "sqlite:///var/lib/app.db").is_ok());
    assert!(check_url_has_no_password("u", "postgres://user@h:5432/db?sslmode=require").is_ok());
}

#[test]
fn a_single_configuration_file_is_accepted() {
    let bare = "name: a\nkind: FULL\nschedule: {cron: '0 2 * * *', timezone: Europe/Berlin}\n";
    assert_eq!(parse_single(bare).unwrap().name, "a");
    let listed = "configurations:\n  - {name: b, kind: EXPORT}\n";
    assert_eq!(parse_single(listed).unwrap().kind(), BackupKind::Export);
    assert!(parse_single(SEED).is_err(), "twelve entries are not one");
    let unknown = "name: a\nkind: FULL\ncolour: blue\n";
    assert!(
        parse_single(unknown)
            .unwrap_err()
            .to_string()
            .contains("unknown field `colour`")
    );
}
