//! The SDK against a real catalog (SQLite) on 127.0.0.1:0, with this test
//! acting as the executor through the coordination API.

use std::time::Duration;

use futures::TryStreamExt;
use tonic::Code;
use vigil_catalog::testing;
use vigil_client::VigilClient;
use vigil_client::proto::catalog::v1::{
    ApplyAction, BackupConfiguration, BackupKind, CompleteJobRequest, FailJobRequest, JobState,
    LeaseJobRequest, ListJobsRequest, Purpose, Retention, Schedule, Source, schedule,
};

fn config(name: &str, cron: &str) -> BackupConfiguration {
    BackupConfiguration {
        name: name.into(),
        kind: BackupKind::Full as i32,
        purpose: Purpose::Production as i32,
        enabled: Some(true),
        schedule: Some(Schedule {
            spec: Some(schedule::Spec::Cron(cron.into())),
            timezone: "Europe/Berlin".into(),
            ..Default::default()
        }),
        source: Some(Source {
            paths: vec!["/srv/edms/documents".into()],
            ..Default::default()
        }),
        retention: Some(Retention {
            keep_within_days: 30,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_is_idempotent_and_bad_input_carries_field_violations() {
    let dir = tempfile::tempdir().unwrap();
    let cat = testing::spawn(testing::sqlite_options(dir.path())).await;
    let client = VigilClient::connect(cat.endpoint()).await.unwrap();

    let desired = vec![
        config("daily_full_backup", "0 2 * * *"),
        config("production_monthly_archive", "0 4 1 * *"),
    ];
    let first = client
        .apply_configurations(desired.clone(), false)
        .await
        .unwrap();
    assert!(first.iter().all(|r| r.action() == ApplyAction::Created));
    let second = client.apply_configurations(desired, false).await.unwrap();
    assert!(
        second.iter().all(|r| r.action() == ApplyAction::Unchanged),
        "{second:?}"
    );

    let all: Vec<_> = client
        .list_configurations(Default::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);

    let mut bad = config("broken", "0 25 * * *");
    bad.retention = Some(Retention {
        keep_daily: -1,
        ..Default::default()
    });
    let err = client.create_configuration(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = err
        .field_violations()
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert!(
        fields.iter().any(|f| f.ends_with("schedule.cron")),
        "{fields:?}"
    );
    assert!(
        fields.iter().any(|f| f.ends_with("retention.keep_daily")),
        "{fields:?}"
    );
    assert!(err.to_string().contains("retention.keep_daily: "), "{err}");

    let missing = client.get_configuration("broken").await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn run_backup_and_wait_follows_the_real_watch_stream() {
    let dir = tempfile::tempdir().unwrap();
    let cat = testing::spawn(testing::sqlite_options(dir.path())).await;
    let client = VigilClient::connect(cat.endpoint()).await.unwrap();
    client
        .create_configuration(config("nightly", "0 2 * * *"))
        .await
        .unwrap();

    let mut coord = cat.coordination_client().await;
    let executor = tokio::spawn(async move {
        let resp = coord
            .lease_job(LeaseJobRequest {
                executor_id: "sdk-test".into(),
                capabilities: vec!["backup:full".into()],
                lease_duration: Some(prost_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                wait: Some(prost_types::Duration {
                    seconds: 10,
                    nanos: 0,
                }),
            })
            .await
            .unwrap()
            .into_inner();
        let leased = resp.job.expect("a job to lease");
        coord
            .complete_job(CompleteJobRequest {
                job_id: leased.id.clone(),
                executor_id: "sdk-test".into(),
                lease_token: resp.lease_token,
                artifact: Some(vigil_proto::catalog::v1::Artifact {
                    format: vigil_proto::catalog::v1::ArtifactFormat::Snapshot as i32,
                    location: "snapshot-1".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        leased.id
    });

    let mut states = Vec::new();
    let job = tokio::time::timeout(
        Duration::from_secs(30),
        client.run_backup_and_wait("nightly", None, |j| states.push(j.state())),
    )
    .await
    .expect("finishes")
    .unwrap();
    assert_eq!(job.state(), JobState::Completed);
    assert_eq!(job.id, executor.await.unwrap());
    assert_eq!(states.last(), Some(&JobState::Completed));

    // Pagination over the real catalog: three jobs, pages of one.
    client.run_backup("nightly").await.unwrap();
    client.run_backup("nightly").await.unwrap();
    let jobs: Vec<_> = client
        .list_jobs(ListJobsRequest {
            page_size: 1,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(jobs.len(), 3);
    let mut ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "no job twice across pages");
}

fn lease_request(executor: &str) -> LeaseJobRequest {
    LeaseJobRequest {
        executor_id: executor.into(),
        capabilities: vec!["backup:full".into()],
        lease_duration: Some(prost_types::Duration {
            seconds: 60,
            nanos: 0,
        }),
        wait: Some(prost_types::Duration {
            seconds: 10,
            nanos: 0,
        }),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_that_times_out_gives_up_and_the_job_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let cat = testing::spawn(testing::sqlite_options(dir.path())).await;
    let client = VigilClient::connect(cat.endpoint()).await.unwrap();
    client
        .create_configuration(config("nightly", "0 2 * * *"))
        .await
        .unwrap();
    // No executor: the job stays queued.
    let err = client
        .run_backup_and_wait("nightly", Some(Duration::from_millis(300)), |_| {})
        .await
        .unwrap_err();
    let vigil_client::Error::WaitTimedOut { job, waited } = &err else {
        panic!("not a wait timeout: {err:?}");
    };
    assert_eq!(*waited, Duration::from_millis(300));
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert!(err.to_string().contains("goes on"), "{err}");
    let after = client.get_job(job).await.unwrap();
    assert_eq!(after.state(), JobState::Queued, "the job was left alone");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_follows_a_handed_back_job_through_its_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let cat = testing::spawn(testing::sqlite_options(dir.path())).await;
    let client = VigilClient::connect(cat.endpoint()).await.unwrap();
    client
        .create_configuration(config("nightly", "0 2 * * *"))
        .await
        .unwrap();
    let job = client.run_backup("nightly").await.unwrap();

    let mut coord = cat.coordination_client().await;
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let executors = tokio::spawn(async move {
        // The first executor shuts down and hands the job back.
        let first = coord
            .lease_job(lease_request("leaving"))
            .await
            .unwrap()
            .into_inner();
        let id = first.job.expect("a job to lease").id;
        coord
            .fail_job(FailJobRequest {
                job_id: id.clone(),
                executor_id: "leaving".into(),
                lease_token: first.lease_token,
                error: "executor shutting down".into(),
                retryable: true,
                interrupted: true,
                ..Default::default()
            })
            .await
            .unwrap();
        // Another one runs it to the end, once the waiter saw the hand-back.
        seen_rx.recv().await.expect("the waiter saw the hand-back");
        let second = coord
            .lease_job(lease_request("staying"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(second.job.expect("the same job again").id, id);
        coord
            .complete_job(CompleteJobRequest {
                job_id: id,
                executor_id: "staying".into(),
                lease_token: second.lease_token,
                artifact: Some(vigil_proto::catalog::v1::Artifact {
                    format: vigil_proto::catalog::v1::ArtifactFormat::Snapshot as i32,
                    location: "snapshot-1".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
    });

    let mut handed_back = 0;
    let done = client
        .wait_for_job(&job.id, Some(Duration::from_secs(30)), |j| {
            if vigil_client::handed_back(j) {
                handed_back += 1;
                assert_eq!(j.error, "executor shutting down");
                let _ = seen_tx.send(());
            }
        })
        .await
        .unwrap();
    executors.await.unwrap();
    assert_eq!(done.state(), JobState::Completed);
    assert_eq!(done.attempt, 1, "the interrupted attempt does not count");
    assert!(handed_back >= 1, "the hand-back was reported");
}
