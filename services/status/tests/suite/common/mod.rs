//! Shared fixtures of the seed tests: the seed's twelve configurations.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use vigil_proto::catalog::v1::{
    BackupConfiguration, BackupKind, Purpose, Retention, Schedule, schedule::Spec,
};

/// A UTC instant.
pub(crate) fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

/// A protobuf timestamp.
pub(crate) fn ts(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

/// One configuration as the seed had it, in Europe/Berlin.
pub(crate) fn config(
    name: &str,
    kind: BackupKind,
    purpose: Purpose,
    enabled: bool,
    cron: Option<&str>,
) -> BackupConfiguration {
    BackupConfiguration {
        name: name.into(),
        kind: kind as i32,
        purpose: purpose as i32,
        enabled: Some(enabled),
        schedule: cron.map(|c| Schedule {
            spec: Some(Spec::Cron(c.into())),
            timezone: "Europe/Berlin".into(),
            ..Default::default()
        }),
        source: Some(vigil_proto::catalog::v1::Source {
            paths: vec!["/srv/edms/documents".into()],
            database: (kind == BackupKind::Database).then(|| {
                vigil_proto::catalog::v1::DatabaseSource {
                    engine: vigil_proto::catalog::v1::DatabaseEngine::Postgres as i32,
                    url: "postgres://edms@127.0.0.1:5432/edms".into(),
                    password: Some(vigil_proto::catalog::v1::SecretRef {
                        source: Some(vigil_proto::catalog::v1::secret_ref::Source::Env(
                            "EDMS_DB_PASSWORD".into(),
                        )),
                    }),
                }
            }),
            ..Default::default()
        }),
        create_time: ts(at(2025, 11, 1, 9, 0, 0)),
        retention: Some(Retention {
            keep_within_days: 30,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The seed's twelve configurations.
pub(crate) fn seed_configurations() -> Vec<BackupConfiguration> {
    use BackupKind::{Database, Export, Full};
    use Purpose::{Production, Temporary, Test};
    vec![
        config(
            "daily_full_backup",
            Full,
            Production,
            true,
            Some("0 2 * * *"),
        ),
        config(
            "production_daily_full",
            Full,
            Production,
            true,
            Some("0 2 * * *"),
        ),
        config(
            "production_monthly_archive",
            Full,
            Production,
            true,
            Some("0 4 1 * *"),
        ),
        config(
            "production_weekly_export",
            Export,
            Production,
            true,
            Some("0 3 * * 0"),
        ),
        config("weekly_export", Full, Production, true, Some("0 3 * * 0")),
        config(
            "production_database_hourly",
            Database,
            Production,
            false,
            Some("0 * * * *"),
        ),
        config("cli_restore_config", Full, Temporary, true, None),
        config("production_pre_deployment", Full, Production, true, None),
        config("restore_operation_config", Full, Temporary, true, None),
        config("temp_restore_config", Full, Temporary, true, None),
        config("test_config", Full, Test, true, None),
        config("upload_restore_config", Full, Temporary, true, None),
    ]
}

/// The report `StatusService` gives over gRPC at `clock`'s time, computed
/// from the real catalog `catalog`.
pub(crate) async fn report_through(
    catalog: &vigil_catalog::testing::TestCatalog,
    clock: &vigil_server_common::clock::ManualClock,
) -> vigil_proto::status::v1::StatusReport {
    use vigil_proto::status::v1::status_service_server::StatusService;
    let channel = tonic::transport::Endpoint::from_shared(catalog.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let channel = vigil_auth::ClientCredentials::default().wrap(channel);
    let status = vigil_status::StatusServer::new(channel, std::sync::Arc::new(clock.clone()));
    status
        .get_status_report(tonic::Request::new(
            vigil_proto::status::v1::GetStatusReportRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap()
}
