//! The seed's situation through a real catalog, on SQLite and on
//! PostgreSQL: configurations applied, a scheduler that armed its schedules
//! and never fired them, four jobs run by hand at the seed's times, and the
//! clock at 2025-12-23. The report comes from `StatusService` over gRPC.

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::{at, seed_configurations, ts};
use vigil_catalog::CatalogOptions;
use vigil_catalog::testing::{self, TestCatalog};
use vigil_proto::catalog::v1::{
    ApplyConfigurationsRequest, Artifact, CompleteJobRequest, Component, ComponentKind,
    CreateJobRequest, EnqueueJobRequest, JobKind, JobTrigger, LeaseJobRequest,
    PutScheduleStateRequest, ReportHeartbeatRequest, ScheduleHealth, ScheduleRole, ScheduleState,
};
use vigil_proto::status::v1::Verdict;
use vigil_server_common::clock::ManualClock;

const ALL_CAPS: &[&str] = &[
    "backup:full",
    "backup:database",
    "backup:export",
    "restore",
    "verify",
    "prune",
    "upload",
];

async fn run_by_hand(
    catalog: &TestCatalog,
    clock: &ManualClock,
    configuration: &str,
    kind: JobKind,
    start: DateTime<Utc>,
) -> String {
    clock.set(start);
    let mut coord = catalog.coordination_client().await;
    let id = if kind == JobKind::Upload {
        coord
            .enqueue_job(EnqueueJobRequest {
                kind: kind as i32,
                trigger: JobTrigger::Upload as i32,
                request_id: format!("upload-{}", start.timestamp()),
                params: Some(vigil_proto::catalog::v1::JobParams {
                    params: Some(vigil_proto::catalog::v1::job_params::Params::Upload(
                        vigil_proto::catalog::v1::UploadParams {
                            file_name: "uploaded_backup.vgx".into(),
                            staging_path: "/tmp/staged.vgx".into(),
                            size_bytes: 1024,
                        },
                    )),
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap()
            .id
    } else {
        catalog
            .catalog_client()
            .await
            .create_job(CreateJobRequest {
                configuration: configuration.into(),
                kind: kind as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap()
            .id
    };
    let resp = coord
        .lease_job(LeaseJobRequest {
            executor_id: "exec-1".into(),
            capabilities: ALL_CAPS.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let lease_token = resp.lease_token;
    let leased = resp.job.expect("the job is leased");
    assert_eq!(leased.id, id);
    clock.set(start + Duration::minutes(4));
    let done = coord
        .complete_job(CompleteJobRequest {
            job_id: id,
            executor_id: "exec-1".into(),
            lease_token,
            artifact: Some(Artifact {
                location: format!("snap-{}", start.timestamp()),
                // An upload records the archive it received; a backup its snapshot.
                format: if kind == JobKind::Upload {
                    vigil_proto::catalog::v1::ArtifactFormat::Archive as i32
                } else {
                    vigil_proto::catalog::v1::ArtifactFormat::Snapshot as i32
                },
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    done.name
}

async fn seed_report_through_catalog(mut options: CatalogOptions) {
    let clock = ManualClock::new(at(2025, 11, 1, 9, 0, 0));
    options.clock = std::sync::Arc::new(clock.clone());
    options.component_timeout = std::time::Duration::from_secs(60);
    let catalog = testing::spawn(options).await;
    catalog
        .catalog_client()
        .await
        .apply_configurations(ApplyConfigurationsRequest {
            configurations: seed_configurations(),
            dry_run: false,
        })
        .await
        .unwrap();

    // A scheduler armed every schedule on 20 November and never fired one.
    let armed = at(2025, 11, 20, 0, 0, 0);
    clock.set(armed);
    let mut coord = catalog.coordination_client().await;
    for c in seed_configurations()
        .iter()
        .filter(|c| c.enabled() && c.schedule.is_some())
    {
        let schedule = vigil_schedule::schedule_from_proto(c.schedule.as_ref().unwrap()).unwrap();
        coord
            .put_schedule_state(PutScheduleStateRequest {
                state: Some(ScheduleState {
                    schedule: c.name.clone(),
                    configuration: c.name.clone(),
                    role: ScheduleRole::Backup as i32,
                    health: ScheduleHealth::Armed as i32,
                    next_due_time: ts(schedule.next_after(armed).unwrap()),
                    armed_time: ts(armed),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
    }

    let upload = run_by_hand(
        &catalog,
        &clock,
        "",
        JobKind::Upload,
        at(2025, 12, 16, 15, 53, 21),
    )
    .await;
    let names = [
        run_by_hand(
            &catalog,
            &clock,
            "daily_full_backup",
            JobKind::Backup,
            at(2025, 12, 16, 16, 20, 23),
        )
        .await,
        run_by_hand(
            &catalog,
            &clock,
            "daily_full_backup",
            JobKind::Backup,
            at(2025, 12, 18, 12, 48, 26),
        )
        .await,
        run_by_hand(
            &catalog,
            &clock,
            "daily_full_backup",
            JobKind::Backup,
            at(2025, 12, 20, 21, 23, 5),
        )
        .await,
    ];
    // Readable names in the configuration's zone, as in the seed.
    assert_eq!(names[2], "daily_full_backup_20251220_222305");
    assert!(!upload.is_empty());

    clock.set(at(2025, 12, 23, 10, 0, 0));
    for (id, kind) in [
        ("sched-1", ComponentKind::Scheduler),
        ("exec-1", ComponentKind::Executor),
    ] {
        coord
            .report_heartbeat(ReportHeartbeatRequest {
                component: Some(Component {
                    id: id.into(),
                    kind: kind as i32,
                    capabilities: ALL_CAPS.iter().map(|c| c.to_string()).collect(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
    }

    let report = common::report_through(&catalog, &clock).await;

    assert_eq!(
        report.verdict(),
        Verdict::PartiallyWorking,
        "{}",
        report.headline
    );
    assert!(
        report
            .headline
            .contains("scheduled backups are not running"),
        "{}",
        report.headline
    );
    for name in [
        "daily_full_backup",
        "production_weekly_export",
        "production_monthly_archive",
    ] {
        let s = report
            .schedules
            .iter()
            .find(|s| s.schedule == name)
            .expect(name);
        assert!(
            s.never_fired && s.health() == ScheduleHealth::Down,
            "{name}: {s:?}"
        );
        assert!(s.reason.contains("never executed"), "{name}: {}", s.reason);
    }
    let jobs = report.jobs.as_ref().unwrap();
    assert_eq!((jobs.total, jobs.completed), (4, 4));
    let daily = report
        .freshness
        .iter()
        .find(|f| f.configuration == "daily_full_backup")
        .unwrap();
    assert_eq!(daily.state, "STALE");
    assert!(report.adherence.is_empty(), "manual runs are not adherence");
    let cleanup = report
        .recommendations
        .iter()
        .find(|r| r.title == "clean up configurations")
        .unwrap();
    for name in [
        "cli_restore_config",
        "restore_operation_config",
        "temp_restore_config",
        "upload_restore_config",
    ] {
        assert!(cleanup.subjects.iter().any(|s| s == name), "{name}");
    }
    let live = report.liveness.unwrap();
    assert!(live.scheduler_alive && live.executors == 1);
    let everything = format!("{:?}", report.risk_reasons).to_lowercase();
    assert!(!everything.contains("data loss"));
    catalog.stop().await;
}

#[tokio::test]
async fn seed_report_through_a_real_catalog_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    seed_report_through_catalog(testing::sqlite_options(dir.path())).await;
}

#[tokio::test]
async fn seed_report_through_a_real_catalog_on_needs_postgres() {
    let options = testing::postgres_options_from_env().await;
    seed_report_through_catalog(options).await;
}
