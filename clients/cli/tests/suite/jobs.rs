//! Jobs through the CLI against a real catalog, with this test acting as the
//! executor over the catalog's coordination API.

use crate::support;

use std::time::Duration;

use support::Env;
use vigil_proto::catalog::v1::{
    Artifact, ArtifactFormat, BackupJob, BackupKind, CompleteJobRequest, FailJobRequest,
    HeartbeatJobRequest, JobProgress, JobStats, LeaseJobRequest,
};

const EXECUTOR: &str = "test-executor";

/// Leases the next job, waiting up to ten seconds for one: the job and its lease token.
async fn lease(env: &Env) -> (BackupJob, String) {
    let mut coord = env.catalog.coordination_client().await;
    let resp = coord
        .lease_job(LeaseJobRequest {
            executor_id: EXECUTOR.into(),
            capabilities: [
                "backup:full",
                "backup:database",
                "backup:export",
                "restore",
                "verify",
                "prune",
                "engine:postgres",
            ]
            .map(String::from)
            .to_vec(),
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
        .expect("lease")
        .into_inner();
    (resp.job.expect("a job was queued"), resp.lease_token)
}

async fn create_config(env: &Env) {
    env.vigil(&[
        "config",
        "create",
        "nightly",
        "--kind",
        "full",
        "--path",
        "/srv/edms/documents",
    ])
    .await
    .ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_run_wait_follows_the_job_to_completion() {
    let env = Env::start().await;
    create_config(&env).await;
    let endpoint = env.endpoint();
    let cli = tokio::spawn(async move {
        support::vigil_at(&endpoint, &["--json", "backup", "run", "nightly", "--wait"]).await
    });

    let (job, token) = lease(&env).await;
    assert_eq!(job.configuration, "nightly");
    let mut coord = env.catalog.coordination_client().await;
    coord
        .heartbeat_job(HeartbeatJobRequest {
            job_id: job.id.clone(),
            executor_id: EXECUTOR.into(),
            progress: Some(JobProgress {
                phase: "reading files".into(),
                bytes_done: 10,
                bytes_total: 20,
                ..Default::default()
            }),
            lease_duration: None,
            lease_token: token.clone(),
        })
        .await
        .expect("heartbeat");
    coord
        .complete_job(CompleteJobRequest {
            job_id: job.id.clone(),
            executor_id: EXECUTOR.into(),
            stats: Some(JobStats {
                files: 3,
                bytes_read: 20,
                ..Default::default()
            }),
            artifact: Some(Artifact {
                configuration: "nightly".into(),
                backup_kind: BackupKind::Full as i32,
                format: ArtifactFormat::Snapshot as i32,
                location: "snap-1".into(),
                size_bytes: 20,
                file_count: 3,
                checksum: format!("blake3:{}", "ab".repeat(32)),
                ..Default::default()
            }),
            warnings: vec![],
            lease_token: token,
        })
        .await
        .expect("complete");

    let run = tokio::time::timeout(Duration::from_secs(30), cli)
        .await
        .expect("vigil returns")
        .unwrap();
    let done = run.json();
    assert_eq!(done["state"], "COMPLETED");
    assert_eq!(done["id"], job.id.as_str());
    assert!(!done["artifact"].as_str().unwrap().is_empty());

    let artifacts = env
        .vigil(&["--json", "artifacts", "list", "--configuration", "nightly"])
        .await
        .json();
    assert_eq!(artifacts.as_array().unwrap().len(), 1);
    assert_eq!(artifacts[0]["format"], "SNAPSHOT");
    assert_eq!(artifacts[0]["id"], done["artifact"]);

    // jobs list / show, as JSON and as tables.
    let jobs = env
        .vigil(&["--json", "jobs", "list", "--configuration", "nightly"])
        .await
        .json();
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    assert_eq!(jobs[0]["trigger"], "MANUAL");
    let name = jobs[0]["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("nightly_"), "{name}");
    let shown = env.vigil(&["jobs", "show", &name]).await.ok();
    assert!(
        shown.contains("COMPLETED") && shown.contains(&job.id),
        "{shown}"
    );
    let table = env.vigil(&["jobs", "list"]).await.ok();
    assert!(
        table.contains(&name) && table.contains("COMPLETED"),
        "{table}"
    );
    let filtered = env
        .vigil(&["--json", "jobs", "list", "--state", "failed"])
        .await
        .json();
    assert_eq!(filtered, serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_run_wait_exits_1_with_the_error_when_the_job_fails() {
    let env = Env::start().await;
    create_config(&env).await;
    let endpoint = env.endpoint();
    let cli = tokio::spawn(async move {
        support::vigil_at(&endpoint, &["backup", "run", "nightly", "--wait"]).await
    });

    let (job, token) = lease(&env).await;
    let mut coord = env.catalog.coordination_client().await;
    coord
        .fail_job(FailJobRequest {
            job_id: job.id.clone(),
            executor_id: EXECUTOR.into(),
            lease_token: token,
            error: "no space left on device".into(),
            retryable: false,
            ..Default::default()
        })
        .await
        .expect("fail");

    let run = tokio::time::timeout(Duration::from_secs(30), cli)
        .await
        .expect("vigil returns")
        .unwrap();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("ended FAILED: no space left on device"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("FAILED"),
        "the final job is still printed: {}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_job_can_be_cancelled() {
    let env = Env::start().await;
    create_config(&env).await;
    let queued = env
        .vigil(&["--json", "backup", "run", "nightly"])
        .await
        .json();
    assert_eq!(queued["state"], "QUEUED");
    let id = queued["id"].as_str().unwrap();
    let cancelled = env.vigil(&["--json", "jobs", "cancel", id]).await.json();
    assert_eq!(cancelled["state"], "CANCELLED");
    let shown = env.vigil(&["--json", "jobs", "show", id]).await.json();
    assert_eq!(shown["state"], "CANCELLED");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_jobs_and_configurations_are_bad_input() {
    let env = Env::start().await;
    let show = env.vigil(&["jobs", "show", "no-such-job"]).await;
    assert_eq!(show.code, 2, "{show:?}");
    assert!(show.stderr.starts_with("error: "), "{}", show.stderr);
    let run = env.vigil(&["backup", "run", "no_such_config"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no_such_config"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_prune_and_restore_queue_jobs_with_their_parameters() {
    let env = Env::start().await;
    create_config(&env).await;
    let prune = env
        .vigil(&["--json", "prune", "nightly", "--dry-run"])
        .await
        .json();
    assert_eq!(prune["kind"], "PRUNE");
    assert_eq!(prune["params"]["prune"]["dry_run"], true);

    let verify = env
        .vigil(&[
            "--json",
            "verify",
            "--configuration",
            "nightly",
            "--sample",
            "0.25",
        ])
        .await
        .json();
    assert_eq!(verify["kind"], "VERIFY");
    assert_eq!(verify["params"]["verify"]["sample_fraction"], 0.25);

    let bad_sample = env.vigil(&["verify", "--sample", "1.5"]).await;
    assert_eq!(bad_sample.code, 2);
    assert!(
        bad_sample.stderr.contains("--sample"),
        "{}",
        bad_sample.stderr
    );

    let secret_url = env
        .vigil(&[
            "restore",
            "a1",
            "--database-url",
            "postgres://u:hunter2@h/db",
        ])
        .await;
    assert_eq!(secret_url.code, 2);
    assert!(
        secret_url
            .stderr
            .contains("--database-url: must not contain a password")
    );
    assert!(!secret_url.stderr.contains("hunter2"));

    let nowhere = env.vigil(&["restore", "a1"]).await;
    assert_eq!(nowhere.code, 2);
    assert!(nowhere.stderr.contains("--to"), "{}", nowhere.stderr);
}
