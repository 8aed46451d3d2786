//! Registers one configuration declaratively, runs a backup and waits for it.
//!
//! ```text
//! cargo run -p vigil-client --example apply_and_backup -- http://127.0.0.1:50051
//! ```

use vigil_client::VigilClient;
use vigil_client::proto::catalog::v1::{
    BackupConfiguration, BackupKind, CatchUpPolicy, DatabaseEngine, DatabaseSource, JobState,
    OverlapPolicy, Purpose, Retention, Schedule, SecretRef, Source, schedule, secret_ref,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| vigil_client::DEFAULT_ENDPOINT.to_owned());
    let client = VigilClient::connect(endpoint).await?;

    let configuration = BackupConfiguration {
        name: "daily_full_backup".into(),
        kind: BackupKind::Full as i32,
        purpose: Purpose::Production as i32,
        enabled: true,
        schedule: Some(Schedule {
            spec: Some(schedule::Spec::Cron("0 2 * * *".into())),
            timezone: "Europe/Berlin".into(),
            catch_up: CatchUpPolicy::Once as i32,
            overlap: OverlapPolicy::Skip as i32,
            ..Default::default()
        }),
        source: Some(Source {
            database: Some(DatabaseSource {
                engine: DatabaseEngine::Postgres as i32,
                url: "postgres://edms@127.0.0.1:5432/edms".into(),
                password: Some(SecretRef {
                    source: Some(secret_ref::Source::Env("EDMS_DB_PASSWORD".into())),
                }),
            }),
            paths: vec!["/srv/edms/documents".into(), "/srv/edms/media".into()],
            ..Default::default()
        }),
        retention: Some(Retention {
            keep_within_days: 30,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 12,
            ..Default::default()
        }),
        labels: [("app".to_owned(), "edms".to_owned())].into(),
        ..Default::default()
    };

    // Idempotent: running the example twice reports "unchanged" the second time.
    for result in client
        .apply_configurations(vec![configuration], false)
        .await?
    {
        println!("{}: {:?}", result.name, result.action());
    }

    let job = client
        .run_backup_and_wait("daily_full_backup", |job| {
            let phase = job
                .progress
                .as_ref()
                .map(|p| p.phase.as_str())
                .unwrap_or("");
            println!("{} {:?} {phase}", job.name, job.state());
        })
        .await?;
    match job.state() {
        JobState::Completed => println!("backup {} completed, artifact {}", job.name, job.artifact),
        other => anyhow::bail!("backup {} ended {other:?}: {}", job.name, job.error),
    }
    Ok(())
}
