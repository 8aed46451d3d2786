//! A lease belongs to its holder (A2): the lease token, the bounded lease,
//! completions that cannot forge an artifact, and updates and alerts that a
//! non-holder cannot make. Every refusal changes nothing.

use tonic::Code;
use vigil_catalog::CatalogOptions;
use vigil_proto::catalog::v1::*;

use crate::common::*;

const EXECUTOR: &str = "exec-1";

async fn queue_backup(h: &mut Harness) -> BackupJob {
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    h.coord
        .enqueue_job(scheduled("daily", t0()))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap()
}

async fn job(h: &mut Harness, id: &str) -> BackupJob {
    h.catalog
        .get_job(GetJobRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap()
}

async fn artifacts(h: &mut Harness) -> Vec<Artifact> {
    h.catalog
        .list_artifacts(ListArtifactsRequest {
            include_pruned: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .artifacts
}

fn snapshot_artifact() -> Artifact {
    Artifact {
        format: ArtifactFormat::Snapshot as i32,
        location: "snapshot-1".into(),
        ..Default::default()
    }
}

fn lease_req(duration: Option<prost_types::Duration>) -> LeaseJobRequest {
    LeaseJobRequest {
        executor_id: EXECUTOR.into(),
        capabilities: all_capabilities(),
        lease_duration: duration,
        ..Default::default()
    }
}

fn assert_refused(err: &tonic::Status, field: &str) {
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().starts_with(field), "{err:?}");
}

both_backends!(a_day_long_lease_is_refused_and_steals_nothing);
async fn a_day_long_lease_is_refused_and_steals_nothing(options: CatalogOptions) {
    let mut h = start(options).await;
    let queued = queue_backup(&mut h).await;
    let day = prost_types::Duration {
        seconds: 24 * 3600,
        nanos: 0,
    };
    let err = h.coord.lease_job(lease_req(Some(day))).await.unwrap_err();
    assert_eq!(bad_field(&err), "lease_duration");
    assert!(err.message().contains("at most 600s"), "{err:?}");
    let still = job(&mut h, &queued.id).await;
    assert_eq!(still.state, JobState::Queued as i32, "still queued");
    assert!(
        still.lease_owner.is_empty() && still.attempt == 0,
        "{still:?}"
    );
    // Ten minutes is the most; a heartbeat cannot stretch it either.
    let ten = prost_types::Duration {
        seconds: 600,
        nanos: 0,
    };
    let resp = h
        .coord
        .lease_job(lease_req(Some(ten)))
        .await
        .unwrap()
        .into_inner();
    assert!(resp.lease_token.len() >= 32, "a random lease token");
    let err = h
        .coord
        .heartbeat_job(HeartbeatJobRequest {
            job_id: queued.id.clone(),
            executor_id: EXECUTOR.into(),
            lease_token: resp.lease_token,
            lease_duration: Some(day),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "lease_duration");
}

both_backends!(only_the_lease_token_acts_on_a_leased_job);
async fn only_the_lease_token_acts_on_a_leased_job(options: CatalogOptions) {
    let mut h = start(options).await;
    let queued = queue_backup(&mut h).await;
    let resp = h
        .coord
        .lease_job(lease_req(None))
        .await
        .unwrap()
        .into_inner();
    let token = resp.lease_token;
    let running = job(&mut h, &queued.id).await;
    assert_eq!(running.state, JobState::Running as i32);
    // Knowing the executor's id is not enough: no token, or a wrong one.
    for forged in [String::new(), "f".repeat(64)] {
        let err = h
            .coord
            .heartbeat_job(HeartbeatJobRequest {
                job_id: queued.id.clone(),
                executor_id: EXECUTOR.into(),
                lease_token: forged.clone(),
                progress: Some(JobProgress {
                    phase: "forged".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_refused(&err, "lease_token");
        let err = h
            .coord
            .complete_job(CompleteJobRequest {
                job_id: queued.id.clone(),
                executor_id: EXECUTOR.into(),
                lease_token: forged.clone(),
                artifact: Some(snapshot_artifact()),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_refused(&err, "lease_token");
        let err = h
            .coord
            .fail_job(FailJobRequest {
                job_id: queued.id.clone(),
                executor_id: EXECUTOR.into(),
                lease_token: forged.clone(),
                error: "forged failure".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_refused(&err, "lease_token");
        assert_eq!(job(&mut h, &queued.id).await, running, "nothing changed");
        assert!(artifacts(&mut h).await.is_empty());
    }
    // Another executor with the right token is not the holder either.
    let err = h
        .coord
        .fail_job(FailJobRequest {
            job_id: queued.id.clone(),
            executor_id: "exec-2".into(),
            lease_token: token.clone(),
            error: "forged failure".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert_eq!(job(&mut h, &queued.id).await, running, "nothing changed");
    // The holder's token works.
    let beat = h
        .coord
        .heartbeat_job(HeartbeatJobRequest {
            job_id: queued.id.clone(),
            executor_id: EXECUTOR.into(),
            lease_token: token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(beat.state, JobState::Running as i32);
    let done = h
        .coord
        .complete_job(CompleteJobRequest {
            job_id: queued.id.clone(),
            executor_id: EXECUTOR.into(),
            lease_token: token,
            artifact: Some(snapshot_artifact()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.job.unwrap().state, JobState::Completed as i32);
    assert_eq!(done.artifact.unwrap().configuration, "daily");
}

both_backends!(a_completed_backup_records_the_artifact_its_job_implies);
async fn a_completed_backup_records_the_artifact_its_job_implies(options: CatalogOptions) {
    let mut h = start(options).await;
    let queued = queue_backup(&mut h).await;
    let token = h
        .coord
        .lease_job(lease_req(None))
        .await
        .unwrap()
        .into_inner()
        .lease_token;
    let running = job(&mut h, &queued.id).await;
    let forged = [
        (None, "artifact:"),
        (
            Some(Artifact {
                configuration: "another".into(),
                ..snapshot_artifact()
            }),
            "artifact.configuration:",
        ),
        (
            Some(Artifact {
                job: "another-job".into(),
                ..snapshot_artifact()
            }),
            "artifact.job:",
        ),
        (
            Some(Artifact {
                backup_kind: BackupKind::Database as i32,
                ..snapshot_artifact()
            }),
            "artifact.backup_kind:",
        ),
        (
            Some(Artifact {
                format: ArtifactFormat::Archive as i32,
                ..snapshot_artifact()
            }),
            "artifact.format:",
        ),
        (
            Some(Artifact {
                state: ArtifactState::Damaged as i32,
                ..snapshot_artifact()
            }),
            "artifact.state:",
        ),
    ];
    for (artifact, field) in forged {
        let err = h
            .coord
            .complete_job(CompleteJobRequest {
                job_id: queued.id.clone(),
                executor_id: EXECUTOR.into(),
                lease_token: token.clone(),
                artifact,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_refused(&err, field);
        assert_eq!(job(&mut h, &queued.id).await, running, "nothing changed");
        assert!(artifacts(&mut h).await.is_empty());
    }
}

both_backends!(artifact_updates_and_job_alerts_cannot_be_forged);
async fn artifact_updates_and_job_alerts_cannot_be_forged(options: CatalogOptions) {
    let mut h = start(options).await;
    let queued = queue_backup(&mut h).await;
    let token = h
        .coord
        .lease_job(lease_req(None))
        .await
        .unwrap()
        .into_inner()
        .lease_token;
    let artifact = h
        .coord
        .complete_job(CompleteJobRequest {
            job_id: queued.id.clone(),
            executor_id: EXECUTOR.into(),
            lease_token: token.clone(),
            artifact: Some(snapshot_artifact()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .artifact
        .unwrap();
    let before = artifacts(&mut h).await;
    let hide = |job_id: &str, token: &str| UpdateArtifactsRequest {
        ids: vec![artifact.id.clone()],
        state: ArtifactState::Pruned as i32,
        verify_time: None,
        job_id: job_id.into(),
        executor_id: EXECUTOR.into(),
        lease_token: token.into(),
    };
    // No lease at all, and the token of a finished backup.
    let err = h
        .coord
        .update_artifacts(hide(&queued.id, ""))
        .await
        .unwrap_err();
    assert_refused(&err, "lease_token");
    let err = h
        .coord
        .update_artifacts(hide(&queued.id, &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    // A running VERIFY job may mark damage, never prune.
    let verify = h
        .catalog
        .create_job(CreateJobRequest {
            configuration: "daily".into(),
            kind: JobKind::Verify as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let verify_token = h
        .coord
        .lease_job(lease_req(None))
        .await
        .unwrap()
        .into_inner()
        .lease_token;
    let err = h
        .coord
        .update_artifacts(hide(&verify.id, &verify_token))
        .await
        .unwrap_err();
    assert_refused(&err, "state");
    assert_eq!(artifacts(&mut h).await, before, "nothing changed");

    // Alerts about jobs and processes come from the catalog's own records.
    for kind in [
        AlertKind::JobFailed,
        AlertKind::VerifyFailed,
        AlertKind::ExecutorLost,
        AlertKind::SchedulerDown,
    ] {
        let err = h
            .coord
            .raise_alert(RaiseAlertRequest {
                alert: Some(Alert {
                    kind: kind as i32,
                    dedup_key: "forged".into(),
                    configuration: "daily".into(),
                    message: "backups are failing, run this fix".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap_err();
        assert_refused(&err, "alert.kind");
    }
    let alerts = h
        .catalog
        .list_alerts(ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert!(alerts.is_empty(), "{alerts:?}");
}

both_backends!(a_completion_naming_a_taken_artifact_id_changes_nothing);
async fn a_completion_naming_a_taken_artifact_id_changes_nothing(options: CatalogOptions) {
    let mut h = start(options).await;
    let first = queue_backup(&mut h).await;
    let second = h
        .coord
        .enqueue_job(scheduled("daily", t0() + chrono::Duration::hours(1)))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let leased = h
            .coord
            .lease_job(lease_req(None))
            .await
            .unwrap()
            .into_inner();
        tokens.push((leased.job.unwrap().id, leased.lease_token));
    }
    let token_of = |id: &str| tokens.iter().find(|(j, _)| j == id).unwrap().1.clone();
    let artifact = Artifact {
        id: "artifact-1".into(),
        ..snapshot_artifact()
    };
    let complete = |id: &str| CompleteJobRequest {
        job_id: id.into(),
        executor_id: EXECUTOR.into(),
        lease_token: token_of(id),
        artifact: Some(artifact.clone()),
        ..Default::default()
    };
    h.coord.complete_job(complete(&first.id)).await.unwrap();
    let stored = artifacts(&mut h).await;
    let running = job(&mut h, &second.id).await;
    assert_eq!(running.state(), JobState::Running);

    let err = h
        .coord
        .complete_job(complete(&second.id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert!(err.message().contains("artifact-1"), "{err:?}");
    assert_eq!(
        job(&mut h, &second.id).await,
        running,
        "the job is still running"
    );
    assert_eq!(
        artifacts(&mut h).await,
        stored,
        "the first job's artifact is untouched"
    );
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].job, first.id);
}
