//! Jobs as history: manual jobs, names, listing, cancel, watch, secrets.

use futures::StreamExt;
use tonic::Code;
use vigil_catalog::CatalogOptions;
use vigil_proto::catalog::v1::*;

use crate::common::*;

async fn create(h: &mut Harness, c: BackupConfiguration) {
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(c),
        })
        .await
        .unwrap();
}

/// Leases a job as `executor`: the job and its lease token.
async fn lease(h: &mut Harness, executor: &str) -> Option<(BackupJob, String)> {
    let resp = h
        .coord
        .lease_job(LeaseJobRequest {
            executor_id: executor.into(),
            capabilities: all_capabilities(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    resp.job.map(|j| (j, resp.lease_token))
}

both_backends!(manual_jobs_are_named_and_idempotent);
async fn manual_jobs_are_named_and_idempotent(options: CatalogOptions) {
    let (options, clock) = manual(options);
    let mut h = start(options).await;
    create(&mut h, full("daily_full_backup")).await;
    let req = CreateJobRequest {
        configuration: "daily_full_backup".into(),
        kind: JobKind::Backup as i32,
        request_id: "cli-1".into(),
        ..Default::default()
    };
    let job = h
        .catalog
        .create_job(req.clone())
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    // 02:00 UTC is 03:00 in Berlin, the configuration's zone.
    assert_eq!(job.name, "daily_full_backup_20251220_030000");
    assert_eq!(job.state, JobState::Queued as i32);
    assert_eq!(job.trigger, JobTrigger::Manual as i32);
    assert_eq!(job.backup_kind, BackupKind::Full as i32);
    assert_eq!(job.required_capabilities, vec!["backup:full"]);
    assert_eq!(job.max_attempts, 3);
    assert_eq!(uuid::Uuid::parse_str(&job.id).unwrap().get_version_num(), 7);

    // The same request id returns the same job.
    let again = h
        .catalog
        .create_job(req.clone())
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(again.id, job.id);
    // Another job in the same second gets a unique name.
    let other = h
        .catalog
        .create_job(CreateJobRequest {
            request_id: "cli-2".into(),
            ..req
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(other.name, "daily_full_backup_20251220_030000_2");

    // Found by id and by name.
    let by_name = h
        .catalog
        .get_job(GetJobRequest {
            id: job.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(by_name.id, job.id);
    let err = h
        .catalog
        .get_job(GetJobRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Newest first, with filters and pages.
    clock.advance(chrono::Duration::seconds(10));
    create(&mut h, database("hourly_db")).await;
    let db_job = h
        .catalog
        .create_job(CreateJobRequest {
            configuration: "hourly_db".into(),
            kind: JobKind::Backup as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(
        db_job.required_capabilities,
        vec!["backup:database", "engine:postgres"]
    );
    let ids: Vec<String> = all_jobs(&mut h).await.into_iter().map(|j| j.id).collect();
    assert_eq!(ids[0], db_job.id);
    assert_eq!(ids.len(), 3);
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = h
            .catalog
            .list_jobs(ListJobsRequest {
                page_size: 1,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.jobs.into_iter().map(|j| j.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ids, "pages of one give the same order");
    let filtered = h
        .catalog
        .list_jobs(ListJobsRequest {
            configuration: "hourly_db".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert_eq!(filtered.len(), 1);

    // Bad requests.
    let err = h
        .catalog
        .create_job(CreateJobRequest {
            configuration: "missing".into(),
            kind: JobKind::Backup as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = h
        .catalog
        .create_job(CreateJobRequest {
            kind: JobKind::Backup as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "configuration");
    let err = h
        .catalog
        .create_job(CreateJobRequest {
            kind: JobKind::Restore as i32,
            params: Some(JobParams {
                params: Some(job_params::Params::Restore(RestoreParams {
                    artifact: "a".into(),
                    database_url: "postgres://u:hunter2@db/x".into(),
                    ..Default::default()
                })),
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "params.restore.database_url");
    assert!(!err.message().contains("hunter2"));
    assert_eq!(
        all_jobs(&mut h).await.len(),
        3,
        "bad requests queue nothing"
    );
}

both_backends!(cancel_stops_queued_and_flags_running_jobs);
async fn cancel_stops_queued_and_flags_running_jobs(options: CatalogOptions) {
    let mut h = start(options).await;
    create(&mut h, full("daily_full_backup")).await;
    let new_job = |id: &str| CreateJobRequest {
        configuration: "daily_full_backup".into(),
        kind: JobKind::Backup as i32,
        request_id: id.into(),
        ..Default::default()
    };
    let first = h
        .catalog
        .create_job(new_job("a"))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let (running, token) = lease(&mut h, "exec-1").await.unwrap();
    assert_eq!(running.id, first.id);
    let queued = h
        .catalog
        .create_job(new_job("b"))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();

    let cancelled = h
        .catalog
        .cancel_job(CancelJobRequest {
            id: queued.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled as i32);
    assert!(cancelled.end_time.is_some());
    assert!(
        lease(&mut h, "exec-2").await.is_none(),
        "a cancelled job is never leased"
    );

    let flagged = h
        .catalog
        .cancel_job(CancelJobRequest {
            id: running.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(flagged.state, JobState::Running as i32);
    assert!(flagged.cancel_requested);
    let beat = h
        .coord
        .heartbeat_job(HeartbeatJobRequest {
            job_id: running.id.clone(),
            executor_id: "exec-1".into(),
            lease_token: token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert!(
        beat.cancel_requested,
        "the executor learns of the cancel on its heartbeat"
    );
    let stopped = h
        .coord
        .fail_job(FailJobRequest {
            job_id: running.id.clone(),
            executor_id: "exec-1".into(),
            lease_token: token.clone(),
            cancelled: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(stopped.state, JobState::Cancelled as i32);
    let err = h
        .catalog
        .cancel_job(CancelJobRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

both_backends!(watch_job_streams_until_final);
async fn watch_job_streams_until_final(options: CatalogOptions) {
    let mut h = start(options).await;
    create(&mut h, full("daily_full_backup")).await;
    let job = h
        .catalog
        .create_job(CreateJobRequest {
            configuration: "daily_full_backup".into(),
            kind: JobKind::Backup as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let mut stream = h
        .catalog
        .watch_job(WatchJobRequest { id: job.id.clone() })
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap().job.unwrap();
    assert_eq!(first.state, JobState::Queued as i32);

    let (_, token) = lease(&mut h, "exec-1").await.unwrap();
    let running = stream.next().await.unwrap().unwrap().job.unwrap();
    assert_eq!(running.state, JobState::Running as i32);

    let done = h
        .coord
        .complete_job(CompleteJobRequest {
            job_id: job.id.clone(),
            executor_id: "exec-1".into(),
            lease_token: token.clone(),
            artifact: Some(Artifact {
                format: ArtifactFormat::Snapshot as i32,
                location: "snapshots/abc".into(),
                checksum: "blake3:abc".into(),
                size_bytes: u64::MAX,
                ..Default::default()
            }),
            stats: Some(JobStats {
                files: 3,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let artifact = done.artifact.unwrap();
    assert_eq!(artifact.size_bytes, u64::MAX);
    assert_eq!(artifact.configuration, "daily_full_backup");
    assert_eq!(artifact.state, ArtifactState::Available as i32);
    let last = stream.next().await.unwrap().unwrap().job.unwrap();
    assert_eq!(last.state, JobState::Completed as i32);
    assert_eq!(last.artifact, artifact.id);
    assert_eq!(last.stats.unwrap().files, 3);
    assert!(
        stream.next().await.is_none(),
        "the stream ends at a final state"
    );

    let got = h
        .catalog
        .get_artifact(GetArtifactRequest {
            id: artifact.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.artifact.unwrap(), artifact);
    let listed = h
        .catalog
        .list_artifacts(ListArtifactsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.artifacts.len(), 1);
    // Only the holder of a running PRUNE job marks artifacts pruned.
    let prune = h
        .catalog
        .create_job(CreateJobRequest {
            configuration: "daily_full_backup".into(),
            kind: JobKind::Prune as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let (leased, prune_token) = lease(&mut h, "exec-1").await.unwrap();
    assert_eq!(leased.id, prune.id);
    let n = h
        .coord
        .update_artifacts(UpdateArtifactsRequest {
            ids: vec![artifact.id.clone()],
            state: ArtifactState::Pruned as i32,
            verify_time: None,
            job_id: prune.id.clone(),
            executor_id: "exec-1".into(),
            lease_token: prune_token,
        })
        .await
        .unwrap()
        .into_inner()
        .updated;
    assert_eq!(n, 1);
    let listed = h
        .catalog
        .list_artifacts(ListArtifactsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.artifacts.is_empty(),
        "pruned artifacts are hidden by default"
    );
    // A configuration's deletion keeps its history.
    h.catalog
        .delete_configuration(DeleteConfigurationRequest {
            name: "daily_full_backup".into(),
            etag: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(all_jobs(&mut h).await.len(), 1);
    let listed = h
        .catalog
        .list_artifacts(ListArtifactsRequest {
            include_pruned: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.artifacts.len(), 1);
}

both_backends!(secrets_in_executor_reports_are_scrubbed);
async fn secrets_in_executor_reports_are_scrubbed(options: CatalogOptions) {
    let data_dir = options.data_dir.clone();
    let sqlite = options.database_url.is_none();
    let mut h = start(options).await;
    create(&mut h, database("hourly_db")).await;
    let job = h
        .catalog
        .create_job(CreateJobRequest {
            configuration: "hourly_db".into(),
            kind: JobKind::Backup as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let (_, token) = lease(&mut h, "exec-1").await.unwrap();
    let failed = h
        .coord
        .fail_job(FailJobRequest {
            job_id: job.id.clone(),
            executor_id: "exec-1".into(),
            lease_token: token.clone(),
            error:
                "pg_dump: connection to postgres://edms:hunter2@db/edms failed (PGPASSWORD=hunter2)"
                    .into(),
            warnings: vec!["retrying with password=hunter2".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(failed.state, JobState::Failed as i32);
    assert!(
        failed.error.contains("postgres://edms:***@db/edms"),
        "{}",
        failed.error
    );
    let (alert, _) = {
        let r = h
            .coord
            .raise_alert(RaiseAlertRequest {
                alert: Some(Alert {
                    kind: AlertKind::JobFailed as i32,
                    dedup_key: "job_failed:hourly_db".into(),
                    message: format!("job failed: {}", "postgres://edms:hunter2@db/edms"),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner();
        (r.alert.unwrap(), r.opened)
    };
    let everything = format!(
        "{failed:?} {:?} {alert:?} {:?} {:?}",
        all_jobs(&mut h).await,
        h.catalog
            .list_alerts(ListAlertsRequest::default())
            .await
            .unwrap()
            .into_inner(),
        all_configurations(&mut h).await,
    );
    assert!(
        !everything.contains("hunter2"),
        "a secret reached a response: {everything}"
    );
    if sqlite {
        h.server.stop().await;
        for entry in std::fs::read_dir(&data_dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(
                !bytes.windows(7).any(|w| w == b"hunter2"),
                "a secret reached the database file"
            );
        }
    }
}
