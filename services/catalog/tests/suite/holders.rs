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

// Heartbeats and completions that arrive together share statements (the
// catalog combines them); each caller still gets its own answer. Wrong
// tokens are refused and change nothing, two completions that name one
// artifact id give one success and one ALREADY_EXISTS, and every other
// call in the same batches goes through.
both_backends!(concurrent_calls_with_some_wrong_tokens_each_get_their_own_answer);
async fn concurrent_calls_with_some_wrong_tokens_each_get_their_own_answer(
    options: CatalogOptions,
) {
    const JOBS: usize = 24;
    let mut h = start(options).await;
    queue_backup(&mut h).await;
    for i in 1..JOBS {
        h.coord
            .enqueue_job(scheduled("daily", t0() + chrono::Duration::hours(i as i64)))
            .await
            .unwrap();
    }
    let leases = futures::future::join_all((0..JOBS).map(|_| {
        let mut coord = h.coord.clone();
        async move { coord.lease_job(lease_req(None)).await.unwrap().into_inner() }
    }))
    .await;
    let held: Vec<(String, String)> = leases
        .into_iter()
        .map(|l| (l.job.expect("one job for each leaser").id, l.lease_token))
        .collect();
    let distinct: std::collections::HashSet<_> = held.iter().map(|(id, _)| id).collect();
    assert_eq!(distinct.len(), JOBS, "each leaser got a job of its own");
    let wrong = |i: usize| i.is_multiple_of(3);
    let token = |i: usize| {
        if wrong(i) {
            "not-the-token".to_owned()
        } else {
            held[i].1.clone()
        }
    };

    let beats = futures::future::join_all((0..JOBS).map(|i| {
        let mut coord = h.coord.clone();
        let req = HeartbeatJobRequest {
            job_id: held[i].0.clone(),
            executor_id: EXECUTOR.into(),
            lease_token: token(i),
            progress: Some(JobProgress {
                phase: format!("phase {i}"),
                ..Default::default()
            }),
            ..Default::default()
        };
        async move { coord.heartbeat_job(req).await }
    }))
    .await;
    for (i, beat) in beats.into_iter().enumerate() {
        match beat {
            Ok(r) if !wrong(i) => {
                let job = r.into_inner().job.unwrap();
                assert_eq!(job.id, held[i].0);
                assert_eq!(job.progress.unwrap().phase, format!("phase {i}"));
            }
            Err(err) if wrong(i) => assert_refused(&err, "lease_token"),
            other => panic!("heartbeat {i}: {other:?}"),
        }
    }

    // Jobs 1 and 4 name the same artifact id.
    let shared = |i: usize| i == 1 || i == 4;
    let completions = futures::future::join_all((0..JOBS).map(|i| {
        let mut coord = h.coord.clone();
        let id = if shared(i) {
            "artifact-shared".to_owned()
        } else {
            format!("artifact-{i}")
        };
        let req = CompleteJobRequest {
            job_id: held[i].0.clone(),
            executor_id: EXECUTOR.into(),
            lease_token: token(i),
            artifact: Some(Artifact {
                id,
                ..snapshot_artifact()
            }),
            ..Default::default()
        };
        async move { coord.complete_job(req).await }
    }))
    .await;
    let mut shared_outcomes = Vec::new();
    for (i, done) in completions.into_iter().enumerate() {
        match done {
            _ if shared(i) => shared_outcomes.push(done.map_err(|e| e.code()).map(|_| i)),
            Ok(r) if !wrong(i) => {
                let r = r.into_inner();
                assert_eq!(r.job.unwrap().state(), JobState::Completed);
                assert_eq!(r.artifact.unwrap().id, format!("artifact-{i}"));
            }
            Err(err) if wrong(i) => assert_refused(&err, "lease_token"),
            other => panic!("completion {i}: {other:?}"),
        }
    }
    let won: Vec<usize> = shared_outcomes.iter().filter_map(|o| o.ok()).collect();
    assert_eq!(won.len(), 1, "{shared_outcomes:?}");
    assert!(
        shared_outcomes.contains(&Err(Code::AlreadyExists)),
        "{shared_outcomes:?}"
    );
    let lost = if won[0] == 1 { 4 } else { 1 };

    for (i, (id, _)) in held.iter().enumerate() {
        let now = job(&mut h, id).await;
        if wrong(i) || i == lost {
            assert_eq!(now.state(), JobState::Running, "job {i}");
            assert!(now.artifact.is_empty(), "job {i}");
        } else {
            assert_eq!(now.state(), JobState::Completed, "job {i}");
        }
        if wrong(i) {
            assert_eq!(now.progress, None, "a refused heartbeat recorded nothing");
        }
    }
    let stored = artifacts(&mut h).await;
    assert_eq!(stored.len(), JOBS - JOBS / 3 - 1);
    let owner = stored.iter().find(|a| a.id == "artifact-shared").unwrap();
    assert_eq!(owner.job, held[won[0]].0);
}

/// Completes with `req` and expects ABORTED: the caller lost its lease.
async fn refused_as_lost(h: &mut Harness, req: CompleteJobRequest) {
    let err = h.coord.complete_job(req).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert!(
        err.message().contains("not leased by this executor"),
        "{err:?}"
    );
}

// The catalog keeps a copy of each job it leases, so the completion need
// not read the job again. A completion under a lease that has ended is
// refused (ABORTED: the lease was lost) whatever that copy says: after the
// job went back to the queue, and after another executor leased it again.
// Nothing changes.
both_backends!(a_completion_under_an_ended_lease_is_refused_before_and_after_the_next_lease);
async fn a_completion_under_an_ended_lease_is_refused_before_and_after_the_next_lease(
    options: CatalogOptions,
) {
    let mut h = start(options).await;
    let queued = queue_backup(&mut h).await;
    let first = h
        .coord
        .lease_job(lease_req(None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.job.unwrap().id, queued.id);
    h.coord
        .fail_job(FailJobRequest {
            job_id: queued.id.clone(),
            executor_id: EXECUTOR.into(),
            lease_token: first.lease_token.clone(),
            error: "the disk was full".into(),
            retryable: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let complete = |executor: &str, token: &str| CompleteJobRequest {
        job_id: queued.id.clone(),
        executor_id: executor.into(),
        lease_token: token.into(),
        artifact: Some(snapshot_artifact()),
        ..Default::default()
    };

    let back_in_queue = job(&mut h, &queued.id).await;
    assert_eq!(back_in_queue.state(), JobState::Queued);
    refused_as_lost(&mut h, complete(EXECUTOR, &first.lease_token)).await;
    assert_eq!(job(&mut h, &queued.id).await, back_in_queue);

    let second = h
        .coord
        .lease_job(LeaseJobRequest {
            executor_id: "exec-2".into(),
            ..lease_req(None)
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.job.unwrap().id, queued.id);
    let leased_again = job(&mut h, &queued.id).await;
    refused_as_lost(&mut h, complete(EXECUTOR, &first.lease_token)).await;
    assert_eq!(job(&mut h, &queued.id).await, leased_again);
    assert!(artifacts(&mut h).await.is_empty());

    let done = h
        .coord
        .complete_job(complete("exec-2", &second.lease_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.job.unwrap().state(), JobState::Completed);
    let stored = artifacts(&mut h).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].job, queued.id);
}
