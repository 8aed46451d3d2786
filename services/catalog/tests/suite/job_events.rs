//! Each job's event log (J1): appended by the lease holder only, bounded per
//! job with the rest counted, scrubbed of secrets, read in pages by anyone,
//! followed with a wait that wakes on the next entry, and deleted with the job.

use std::time::Duration;

use tonic::Code;
use vigil_catalog::CatalogOptions;
use vigil_proto::catalog::v1::*;

use crate::common::*;

const EXECUTOR: &str = "exec-1";

/// A created and leased manual backup of `daily`, with its lease token.
async fn leased(h: &mut Harness) -> (BackupJob, String) {
    h.catalog
        .create_configuration(CreateConfigurationRequest {
            configuration: Some(full("daily")),
        })
        .await
        .unwrap();
    h.catalog
        .create_job(CreateJobRequest {
            configuration: "daily".into(),
            kind: JobKind::Backup as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let leased = h
        .coord
        .lease_job(LeaseJobRequest {
            executor_id: EXECUTOR.into(),
            capabilities: all_capabilities(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    (leased.job.unwrap(), leased.lease_token)
}

fn skipped(i: usize) -> JobEvent {
    JobEvent {
        kind: JobEventKind::FileSkipped as i32,
        phase: "backing up".into(),
        path: format!("/srv/data/f{i}"),
        message: "Permission denied (os error 13)".into(),
        ..Default::default()
    }
}

fn phase(kind: JobEventKind, name: &str) -> JobEvent {
    JobEvent {
        kind: kind as i32,
        phase: name.into(),
        duration: (kind == JobEventKind::PhaseFinished).then_some(prost_types::Duration {
            seconds: 3,
            nanos: 0,
        }),
        ..Default::default()
    }
}

fn append(job: &BackupJob, token: &str, events: Vec<JobEvent>) -> AppendJobEventsRequest {
    AppendJobEventsRequest {
        job_id: job.id.clone(),
        executor_id: EXECUTOR.into(),
        lease_token: token.into(),
        events,
        omitted_count: 0,
    }
}

/// Every entry of the job's log, read `page_size` at a time, and the last page.
async fn read_all(
    h: &mut Harness,
    job: &str,
    page_size: i32,
) -> (Vec<JobEvent>, ListJobEventsResponse) {
    let mut events = Vec::new();
    let mut token = String::new();
    loop {
        let page = h
            .catalog
            .list_job_events(ListJobEventsRequest {
                job: job.into(),
                page_size,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.events.len() <= page_size as usize);
        events.extend(page.events.iter().cloned());
        if page.next_page_token.is_empty() {
            return (events, page);
        }
        token = page.next_page_token.clone();
    }
}

both_backends!(the_holder_appends_and_anyone_reads_the_log_in_order);
async fn the_holder_appends_and_anyone_reads_the_log_in_order(options: CatalogOptions) {
    let mut h = start(options).await;
    let (job, token) = leased(&mut h).await;
    let stored = h
        .coord
        .append_job_events(append(
            &job,
            &token,
            vec![
                phase(JobEventKind::PhaseStarted, "backing up"),
                skipped(1),
                JobEvent {
                    kind: JobEventKind::Warning as i32,
                    phase: "backing up".into(),
                    message:
                        "pg_dump: could not connect to postgres://vigil:hunter2@db/edms\nretrying"
                            .into(),
                    ..Default::default()
                },
                phase(JobEventKind::PhaseFinished, "backing up"),
            ],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.stored, 4);
    assert_eq!(stored.omitted_count, 0);

    // By name, two at a time.
    let (events, last) = read_all(&mut h, &job.name, 2).await;
    assert_eq!(
        events.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(last.job_state, JobState::Running as i32);
    assert_eq!(events[1].path, "/srv/data/f1");
    assert_eq!(events[1].message, "Permission denied (os error 13)");
    assert_eq!(events[1].attempt, 1);
    assert!(
        events[1].event_time.is_some(),
        "the catalog fills in the time"
    );
    let warning = &events[2].message;
    assert!(!warning.contains("hunter2"), "{warning}");
    assert!(
        !warning.contains('\n'),
        "control characters are replaced: {warning}"
    );
    assert_eq!(events[3].duration.as_ref().map(|d| d.seconds), Some(3));

    // Following: only what comes after a sequence.
    let after = h
        .catalog
        .list_job_events(ListJobEventsRequest {
            job: job.id.clone(),
            after_sequence: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.events.len(), 1);
    assert_eq!(after.events[0].sequence, 4);
}

both_backends!(the_log_is_bounded_and_keeps_room_for_phases);
async fn the_log_is_bounded_and_keeps_room_for_phases(options: CatalogOptions) {
    let mut h = start(options).await;
    let (job, token) = leased(&mut h).await;
    let max = vigil_catalog::store::MAX_JOB_EVENTS as usize;
    let max_warnings = vigil_catalog::store::MAX_JOB_WARNINGS as usize;
    let batch = vigil_catalog::store::MAX_APPEND_BATCH;
    // 2,500 unreadable files in batches, as an executor sends them.
    let mut sent = 0;
    for _ in 0..5 {
        let events = (sent..sent + batch).map(skipped).collect();
        sent += batch;
        h.coord
            .append_job_events(append(&job, &token, events))
            .await
            .unwrap();
    }
    // The phases still fit; then the log is full.
    let mut phases = Vec::new();
    for i in 0..(max - max_warnings + 5) {
        phases.push(phase(JobEventKind::PhaseStarted, &format!("phase {i}")));
    }
    let mut last_batch = append(&job, &token, phases);
    last_batch.omitted_count = 7;
    let answer = h
        .coord
        .append_job_events(last_batch)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.stored as usize, max - max_warnings);
    let omitted = (sent - max_warnings) + 5 + 7;
    assert_eq!(answer.omitted_count as usize, omitted);

    let (events, last) = read_all(&mut h, &job.id, 1000).await;
    assert_eq!(events.len(), max, "the log holds exactly its bound");
    assert_eq!(last.omitted_count as usize, omitted);
    let files = events
        .iter()
        .filter(|e| e.kind == JobEventKind::FileSkipped as i32)
        .count();
    assert_eq!(files, max_warnings);
    assert_eq!(events[0].path, "/srv/data/f0", "the first ones are kept");
    assert_eq!(
        events[max - 1].phase,
        format!("phase {}", max - max_warnings - 1)
    );

    // More than a batch in one call is refused.
    let err = h
        .coord
        .append_job_events(append(&job, &token, (0..batch + 1).map(skipped).collect()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("events"), "{err:?}");
}

both_backends!(only_the_lease_holder_appends);
async fn only_the_lease_holder_appends(options: CatalogOptions) {
    let mut h = start(options).await;
    let (job, token) = leased(&mut h).await;
    let err = h
        .coord
        .append_job_events(append(&job, "not-the-token", vec![skipped(1)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().starts_with("lease_token"), "{err:?}");
    let err = h
        .coord
        .append_job_events(append(&job, "", vec![skipped(1)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let mut other = append(&job, &token, vec![skipped(1)]);
    other.executor_id = "exec-2".into();
    let err = h.coord.append_job_events(other).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    let err = h
        .coord
        .append_job_events(append(
            &job,
            &token,
            vec![JobEvent {
                kind: 0,
                ..Default::default()
            }],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("events[0].kind"), "{err:?}");
    let (events, _) = read_all(&mut h, &job.id, 100).await;
    assert!(
        events.is_empty(),
        "no refused call wrote anything: {events:?}"
    );

    // Once the job has ended, its lease is gone and so is the right to append.
    h.coord
        .fail_job(FailJobRequest {
            job_id: job.id.clone(),
            executor_id: EXECUTOR.into(),
            lease_token: token.clone(),
            error: "disk full".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let err = h
        .coord
        .append_job_events(append(&job, &token, vec![skipped(1)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
}

both_backends!(a_waiting_reader_wakes_on_the_next_entry_and_on_the_end);
async fn a_waiting_reader_wakes_on_the_next_entry_and_on_the_end(options: CatalogOptions) {
    let mut h = start(options).await;
    let (job, token) = leased(&mut h).await;
    let wait = Some(prost_types::Duration {
        seconds: 55,
        nanos: 0,
    });
    let mut reader = h.catalog.clone();
    let request = ListJobEventsRequest {
        job: job.id.clone(),
        wait,
        ..Default::default()
    };
    let waiting = tokio::spawn({
        let request = request.clone();
        async move { reader.list_job_events(request).await }
    });
    h.coord
        .append_job_events(append(&job, &token, vec![skipped(1)]))
        .await
        .unwrap();
    // The bound is the failure, not a pause: the answer comes with the entry.
    let page = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the waiting reader woke up on the entry")
        .unwrap()
        .unwrap()
        .into_inner();
    assert_eq!(page.events.len(), 1);

    let mut reader = h.catalog.clone();
    let waiting = tokio::spawn(async move {
        reader
            .list_job_events(ListJobEventsRequest {
                after_sequence: 1,
                ..request
            })
            .await
    });
    h.coord
        .complete_job(CompleteJobRequest {
            job_id: job.id.clone(),
            executor_id: EXECUTOR.into(),
            lease_token: token,
            artifact: Some(Artifact {
                configuration: "daily".into(),
                job: job.id.clone(),
                format: ArtifactFormat::Snapshot as i32,
                state: ArtifactState::Available as i32,
                location: "snapshot-1".into(),
                backup_kind: BackupKind::Full as i32,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let page = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the waiting reader woke up on the job's end")
        .unwrap()
        .unwrap()
        .into_inner();
    assert!(page.events.is_empty());
    assert_eq!(page.job_state, JobState::Completed as i32);
}

both_backends!(bad_reads_name_their_field);
async fn bad_reads_name_their_field(options: CatalogOptions) {
    let mut h = start(options).await;
    let (job, _) = leased(&mut h).await;
    let cases = [
        (
            ListJobEventsRequest {
                job: job.id.clone(),
                page_size: -1,
                ..Default::default()
            },
            "page_size",
        ),
        (
            ListJobEventsRequest {
                job: job.id.clone(),
                wait: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                ..Default::default()
            },
            "wait",
        ),
        (
            ListJobEventsRequest {
                job: job.id.clone(),
                after_sequence: -4,
                ..Default::default()
            },
            "after_sequence",
        ),
        (
            ListJobEventsRequest {
                job: String::new(),
                ..Default::default()
            },
            "job",
        ),
    ];
    for (request, field) in cases {
        let err = h.catalog.list_job_events(request).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert!(err.message().contains(field), "{field}: {err:?}");
    }
    let err = h
        .catalog
        .list_job_events(ListJobEventsRequest {
            job: "no-such-job".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

both_backends!(the_log_goes_with_its_job_when_history_is_pruned);
async fn the_log_goes_with_its_job_when_history_is_pruned(options: CatalogOptions) {
    let (mut options, clock) = manual(options);
    options.history_retention = Duration::from_secs(10 * 86_400);
    let mut h = start(options).await;
    let (job, token) = leased(&mut h).await;
    h.coord
        .append_job_events(append(&job, &token, (0..20).map(skipped).collect()))
        .await
        .unwrap();
    h.coord
        .fail_job(FailJobRequest {
            job_id: job.id.clone(),
            executor_id: EXECUTOR.into(),
            lease_token: token,
            error: "disk full".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let store = h.server.catalog.store().clone();
    let rows = || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_events")
            .fetch_one(store.db().pool())
            .await
            .unwrap();
        n
    };
    assert_eq!(rows().await, 20);
    clock.advance(chrono::Duration::days(11));
    assert_eq!(store.prune_history().await.unwrap().jobs, 1);
    assert_eq!(rows().await, 0, "the pruned job's log is deleted with it");
}
