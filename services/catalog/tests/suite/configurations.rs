//! Configurations: CRUD, etags, update masks, apply, and bad input (C1).

use prost_types::FieldMask;
use tonic::Code;
use vigil_catalog::CatalogOptions;
use vigil_proto::catalog::v1::*;

use crate::common::*;

both_backends!(an_update_without_a_mask_changes_only_the_fields_sent);
/// AIP-134: the grpcurl call `{"configuration": {"name": "x", "enabled": false}}`
/// flips `enabled` and keeps the schedule and everything else; `*` replaces all.
async fn an_update_without_a_mask_changes_only_the_fields_sent(options: CatalogOptions) {
    let mut h = start(options).await;
    let created = h
        .catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("x")),
        })
        .await
        .unwrap()
        .into_inner()
        .configuration
        .unwrap();
    let update = |configuration: BackupConfiguration, paths: &[&str]| UpdateConfigurationRequest {
        configuration: Some(configuration),
        update_mask: (!paths.is_empty()).then(|| FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    };
    let flip = BackupConfiguration {
        name: "x".into(),
        enabled: Some(false),
        ..Default::default()
    };
    let flipped = h
        .catalog
        .update_configuration(update(flip, &[]))
        .await
        .unwrap()
        .into_inner()
        .configuration
        .unwrap();
    assert_eq!(flipped.enabled, Some(false));
    let expected = BackupConfiguration {
        enabled: Some(false),
        etag: flipped.etag.clone(),
        update_time: flipped.update_time,
        ..created.clone()
    };
    assert_eq!(flipped, expected, "only enabled changed");
    assert!(flipped.schedule.is_some(), "the schedule is kept");

    // A nested field sent alone changes only itself.
    let keep = BackupConfiguration {
        name: "x".into(),
        retention: Some(Retention {
            keep_weekly: 4,
            ..Default::default()
        }),
        ..Default::default()
    };
    let kept = h
        .catalog
        .update_configuration(update(keep, &[]))
        .await
        .unwrap()
        .into_inner()
        .configuration
        .unwrap();
    let retention = kept.retention.unwrap();
    assert_eq!((retention.keep_daily, retention.keep_weekly), (7, 4));
    assert_eq!(kept.schedule, created.schedule);
    assert_eq!(kept.enabled, Some(false));

    // A field named in the mask and left unset is cleared.
    let cleared = h
        .catalog
        .update_configuration(update(
            BackupConfiguration {
                name: "x".into(),
                ..Default::default()
            },
            &["schedule"],
        ))
        .await
        .unwrap()
        .into_inner()
        .configuration
        .unwrap();
    assert_eq!(cleared.schedule, None);
    assert_eq!(cleared.labels, created.labels);

    // `*` replaces every mutable field.
    let mut replacement = full("x");
    replacement.labels.clear();
    replacement.retention = None;
    let replaced = h
        .catalog
        .update_configuration(update(replacement, &["*"]))
        .await
        .unwrap()
        .into_inner()
        .configuration
        .unwrap();
    assert!(replaced.labels.is_empty() && replaced.retention.is_none());
    assert_eq!(replaced.schedule, created.schedule);
    assert_eq!(replaced.enabled, Some(true));

    // An unknown path is refused, naming it, and changes nothing.
    let err = h
        .catalog
        .update_configuration(update(full("x"), &["schedule.crom"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "update_mask");
    assert!(err.message().contains("schedule.crom"), "{}", err.message());
}

both_backends!(crud_with_etags_and_masks);
async fn crud_with_etags_and_masks(options: CatalogOptions) {
    let mut h = start(options).await;
    let created = h
        .catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily_full_backup")),
        })
        .await
        .unwrap()
        .into_inner()
        .configuration
        .unwrap();
    assert!(!created.etag.is_empty());
    assert!(created.create_time.is_some());
    // Defaults are filled in so they show.
    assert_eq!(created.purpose, Purpose::Production as i32);
    assert_eq!(
        created.schedule.as_ref().unwrap().catch_up,
        CatchUpPolicy::Once as i32
    );

    let got = h
        .catalog
        .get_configuration(GetConfigurationRequest {
            name: "daily_full_backup".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .configuration
        .unwrap();
    assert_eq!(got, created);

    // Enabling an enabled configuration changes nothing, not even the etag.
    let same = h
        .catalog
        .enable_configuration(EnableConfigurationRequest {
            name: "daily_full_backup".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .configuration
        .unwrap();
    assert_eq!(same.etag, created.etag);
    assert_eq!(same.update_time, created.update_time);

    // A masked update changes only the named field and the etag.
    let mut change = full("daily_full_backup");
    change.etag = created.etag.clone();
    change.retention = Some(Retention {
        keep_daily: 14,
        keep_weekly: 99,
        ..Default::default()
    });
    change.description = "not in the mask".into();
    let updated = h
        .catalog
        .update_configuration(UpdateConfigurationRequest {
            configuration: Some(change.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["retention.keep_daily".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .configuration
        .unwrap();
    assert_ne!(updated.etag, created.etag);
    assert_eq!(updated.retention.unwrap().keep_daily, 14);
    assert_eq!(updated.retention.unwrap().keep_weekly, 0);
    assert_eq!(updated.description, "");
    assert_eq!(updated.create_time, created.create_time);

    // The old etag is now stale.
    let err = h
        .catalog
        .update_configuration(UpdateConfigurationRequest {
            configuration: Some(change),
            update_mask: Some(FieldMask {
                paths: vec!["description".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");

    let disabled = h
        .catalog
        .disable_configuration(DisableConfigurationRequest {
            name: "daily_full_backup".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .configuration
        .unwrap();
    assert!(!disabled.enabled());
    assert_ne!(disabled.etag, updated.etag);

    // Delete with a stale etag is refused, with the current one it works.
    let err = h
        .catalog
        .delete_configuration(DeleteConfigurationRequest {
            name: "daily_full_backup".into(),
            etag: updated.etag,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    h.catalog
        .delete_configuration(DeleteConfigurationRequest {
            name: "daily_full_backup".into(),
            etag: disabled.etag,
        })
        .await
        .unwrap();
    let err = h
        .catalog
        .get_configuration(GetConfigurationRequest {
            name: "daily_full_backup".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

both_backends!(list_is_paginated_and_filtered);
async fn list_is_paginated_and_filtered(options: CatalogOptions) {
    let mut h = start(options).await;
    for name in ["e-one", "a_two", "c3", "b-4", "d5"] {
        let mut c = full(name);
        if name.starts_with('c') {
            c.purpose = Purpose::Temporary as i32;
            c.labels.insert("tier".into(), "scratch".into());
        }
        h.catalog
            .create_configuration(CreateConfigurationRequest {
                configuration: Some(c),
            })
            .await
            .unwrap();
    }
    let names: Vec<String> = all_configurations(&mut h)
        .await
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["a_two", "b-4", "c3", "d5", "e-one"]);

    let temp = h
        .catalog
        .list_configurations(ListConfigurationsRequest {
            purpose: Purpose::Temporary as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(temp.configurations.len(), 1);
    let labelled = h
        .catalog
        .list_configurations(ListConfigurationsRequest {
            labels: [("tier".to_owned(), "scratch".to_owned())].into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(labelled.configurations[0].name, "c3");
    assert_eq!(labelled.configurations.len(), 1);

    for (size, token, field) in [(-1, "", "page_size"), (10, "not-a-token", "page_token")] {
        let err = h
            .catalog
            .list_configurations(ListConfigurationsRequest {
                page_size: size,
                page_token: token.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(bad_field(&err), field);
    }
}

both_backends!(apply_is_atomic_and_idempotent);
async fn apply_is_atomic_and_idempotent(options: CatalogOptions) {
    let mut h = start(options).await;
    let desired = vec![
        full("daily_full_backup"),
        database("hourly_db"),
        full("weekly_export"),
    ];
    let first = h
        .catalog
        .apply_configurations(ApplyConfigurationsRequest {
            configurations: desired.clone(),
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(
        first
            .iter()
            .all(|r| r.action == ApplyAction::Created as i32)
    );
    let before = all_configurations(&mut h).await;
    assert_eq!(before.len(), 3);

    let second = h
        .catalog
        .apply_configurations(ApplyConfigurationsRequest {
            configurations: desired.clone(),
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(
        second
            .iter()
            .all(|r| r.action == ApplyAction::Unchanged as i32),
        "{second:?}"
    );
    assert_eq!(
        all_configurations(&mut h).await,
        before,
        "etags and update times are kept"
    );

    // One changed item is UPDATED; a bad item fails the whole apply and changes nothing.
    let mut changed = desired.clone();
    changed[0].description = "nightly".into();
    let mut bad = changed.clone();
    bad[2].schedule.as_mut().unwrap().spec = Some(schedule::Spec::Cron("0 2 * *".into()));
    let err = h
        .catalog
        .apply_configurations(ApplyConfigurationsRequest {
            configurations: bad,
            dry_run: false,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "configurations[2].schedule.cron");
    assert_eq!(all_configurations(&mut h).await, before);

    let dry = h
        .catalog
        .apply_configurations(ApplyConfigurationsRequest {
            configurations: changed.clone(),
            dry_run: true,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(dry[0].action, ApplyAction::Updated as i32);
    assert_eq!(
        all_configurations(&mut h).await,
        before,
        "a dry run stores nothing"
    );

    let third = h
        .catalog
        .apply_configurations(ApplyConfigurationsRequest {
            configurations: changed,
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    let actions: Vec<i32> = third.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        vec![
            ApplyAction::Updated as i32,
            ApplyAction::Unchanged as i32,
            ApplyAction::Unchanged as i32
        ]
    );
    let after = all_configurations(&mut h).await;
    assert_ne!(after[0].etag, before[0].etag);
    assert_eq!(after[1..], before[1..]);
}

/// One bad input: how to break a valid configuration, and the field blamed.
type Breaker = fn(&mut BackupConfiguration);

fn bad_inputs() -> Vec<(&'static str, Breaker, &'static str)> {
    fn cron(c: &mut BackupConfiguration, text: &str) {
        c.schedule.as_mut().unwrap().spec = Some(schedule::Spec::Cron(text.into()));
    }
    vec![
        (
            "bad cron",
            |c| cron(c, "0 2 * *"),
            "configuration.schedule.cron",
        ),
        (
            "never fires",
            |c| cron(c, "0 0 30 2 *"),
            "configuration.schedule.cron",
        ),
        (
            "unknown zone",
            |c| c.schedule.as_mut().unwrap().timezone = "Mars/Olympus".into(),
            "configuration.schedule.timezone",
        ),
        (
            "fixed offset",
            |c| c.schedule.as_mut().unwrap().timezone = "+02:00".into(),
            "configuration.schedule.timezone",
        ),
        ("empty name", |c| c.name.clear(), "configuration.name"),
        (
            "1 MB name",
            |c| c.name = "a".repeat(1 << 20),
            "configuration.name",
        ),
        (
            "relative path",
            |c| c.source.as_mut().unwrap().paths = vec!["srv/edms".into()],
            "configuration.source.paths[0]",
        ),
        (
            "negative retention",
            |c| c.retention.as_mut().unwrap().keep_daily = -1,
            "configuration.retention.keep_daily",
        ),
        ("unset kind", |c| c.kind = 0, "configuration.kind"),
        (
            "bad glob",
            |c| c.source.as_mut().unwrap().exclude = vec!["**/*.{tmp".into()],
            "configuration.source.exclude[0]",
        ),
        (
            "password in url",
            |c| {
                c.kind = BackupKind::Database as i32;
                c.source.as_mut().unwrap().database = Some(DatabaseSource {
                    engine: DatabaseEngine::Postgres as i32,
                    url: "postgres://edms:hunter2@db/edms".into(),
                    password: None,
                });
            },
            "configuration.source.database.url",
        ),
    ]
}

both_backends!(bad_input_is_refused_and_changes_nothing);
async fn bad_input_is_refused_and_changes_nothing(options: CatalogOptions) {
    let mut h = start(options).await;
    let existing = h
        .catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily_full_backup")),
        })
        .await
        .unwrap()
        .into_inner()
        .configuration
        .unwrap();
    let before = all_configurations(&mut h).await;

    for (what, breaker, field) in bad_inputs() {
        // As a create of a new configuration...
        let mut c = full("fresh");
        breaker(&mut c);
        let err = h
            .catalog
            .create_configuration(CreateConfigurationRequest {
                configuration: Some(c),
            })
            .await
            .unwrap_err();
        assert_eq!(
            bad_field(&err),
            field,
            "create with {what}: {}",
            err.message()
        );
        assert!(
            !err.message().contains("hunter2"),
            "{what}: the password is echoed"
        );
        assert!(
            err.message().len() < 1000,
            "{what}: the message echoes the input"
        );
        // ...and as a full update of the existing one.
        if what.contains("name") {
            continue;
        }
        let mut c = full("daily_full_backup");
        breaker(&mut c);
        let err = h
            .catalog
            .update_configuration(UpdateConfigurationRequest {
                configuration: Some(c),
                update_mask: Some(FieldMask {
                    paths: vec!["*".into()],
                }),
            })
            .await
            .unwrap_err();
        assert_eq!(
            bad_field(&err),
            field,
            "update with {what}: {}",
            err.message()
        );
        assert_eq!(
            all_configurations(&mut h).await,
            before,
            "{what} changed stored data"
        );
    }

    let dup = h
        .catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily_full_backup")),
        })
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);

    let err = h
        .catalog
        .update_configuration(UpdateConfigurationRequest {
            configuration: Some(full("daily_full_backup")),
            update_mask: Some(FieldMask {
                paths: vec!["retention.keep_hourly".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "update_mask");

    let mut stale = full("daily_full_backup");
    stale.etag = "0000".into();
    let err = h
        .catalog
        .update_configuration(UpdateConfigurationRequest {
            configuration: Some(stale),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);

    let err = h
        .catalog
        .get_configuration(GetConfigurationRequest {
            name: "missing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let after = all_configurations(&mut h).await;
    assert_eq!(after, before);
    assert_eq!(after[0], existing);
}

both_backends!(passwords_never_enter_the_catalog);
async fn passwords_never_enter_the_catalog(options: CatalogOptions) {
    let mut h = start(options).await;
    // The password is given by reference only: the catalog stores the name of
    // the variable, never a value.
    let created = h
        .catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(database("hourly_db")),
        })
        .await
        .unwrap()
        .into_inner()
        .configuration
        .unwrap();
    let db = created.source.unwrap().database.unwrap();
    assert_eq!(db.url, "postgres://edms@127.0.0.1:5432/edms");
    assert_eq!(
        db.password.unwrap().source,
        Some(secret_ref::Source::Env("EDMS_DB_PASSWORD".into()))
    );
    // A password inside the URL is refused wherever a URL is accepted.
    let mut c = database("other");
    c.source.as_mut().unwrap().database.as_mut().unwrap().url =
        "postgres://edms:hunter2@db/edms".into();
    let err = h
        .catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(c),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "configuration.source.database.url: must not contain a password, use password env/file"
    );
    let listed = format!("{:?}", all_configurations(&mut h).await);
    assert!(!listed.contains("hunter2"));
}

/// The SQLite catalog opens in a data directory whose path needs quoting.
#[tokio::test]
async fn sqlite_catalog_opens_in_an_awkward_directory() {
    let dir = tempfile::tempdir().unwrap();
    let awkward = dir.path().join("my data #1 %20");
    let mut h = start(vigil_catalog::testing::sqlite_options(&awkward)).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    assert!(
        awkward.join("catalog.db").exists(),
        "the catalog file is where it was asked to be"
    );
}

both_backends!(control_characters_are_refused_in_printed_text);
async fn control_characters_are_refused_in_printed_text(options: CatalogOptions) {
    let mut h = start(options).await;
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    let before = all_configurations(&mut h).await;
    // NUL, ESC (a colour and a cursor move), newline, DEL and the C1 CSI.
    let hostile = [
        "a\0b",
        "red \x1b[31m",
        "\x1b[2J\x1b[H",
        "line\nbreak",
        "del\x7f",
        "csi\u{9b}31m",
    ];
    for text in hostile {
        let mut described = full("fresh");
        described.description = text.into();
        let mut labelled = full("fresh");
        labelled.labels.insert("app".into(), text.into());
        let mut named = full("fresh");
        named.name = format!("x{text}");
        for (c, field) in [
            (described, "configuration.description"),
            (labelled, "configuration.labels.app"),
            (named, "configuration.name"),
        ] {
            let err = h
                .catalog
                .create_configuration(CreateConfigurationRequest {
                    configuration: Some(c.clone()),
                })
                .await
                .unwrap_err();
            assert_eq!(bad_field(&err), field, "{text:?}: {err:?}");
            let err = h
                .catalog
                .apply_configurations(ApplyConfigurationsRequest {
                    configurations: vec![c],
                    dry_run: false,
                })
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{text:?}");
            assert_eq!(all_configurations(&mut h).await, before, "nothing changed");
        }
    }
}

both_backends!(a_ten_megabyte_string_is_refused_naming_its_field);
/// The transport decodes up to 16 MiB, so validation answers for a 10 MB
/// field with INVALID_ARGUMENT naming it, not the transport with OUT_OF_RANGE.
async fn a_ten_megabyte_string_is_refused_naming_its_field(options: CatalogOptions) {
    let mut h = start(options).await;
    let mut c = full("huge");
    c.description = "a".repeat(10 << 20);
    let err = h
        .catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(c),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "configuration.description");
    assert!(err.message().len() < 1000, "the value is not echoed");
    assert!(all_configurations(&mut h).await.is_empty());
}
