//! Registers the quickstart's FULL configuration, runs a backup, waits for
//! it and prints the outcome. It backs up `deploy/examples/quickstart/` (a
//! small file tree and a SQLite database shipped with the checkout), so it
//! succeeds on the embedded default with nothing else installed.
//!
//! ```text
//! cargo run -p vigil-server --bin vigild &
//! VIGIL_TOKEN_FILE=vigil-data/admin.token \
//!   cargo run -p vigil-client --example apply_and_backup -- http://127.0.0.1:50051
//! ```

use std::path::PathBuf;
use std::time::Duration;

use vigil_client::VigilClient;
use vigil_client::proto::catalog::v1::{
    BackupConfiguration, BackupKind, DatabaseEngine, DatabaseSource, JobState, Purpose, Retention,
    Source,
};

/// The quickstart data next to `deploy/examples/quickstart.yaml`.
fn quickstart_dir() -> anyhow::Result<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples/quickstart");
    let dir = dir.canonicalize()?;
    dir.to_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("{} is not UTF-8", dir.display()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| vigil_client::DEFAULT_ENDPOINT.to_owned());
    // The token comes from VIGIL_TOKEN_FILE or VIGIL_TOKEN, as for every
    // Vigil client (vigild writes vigil-data/admin.token on first start).
    let client = VigilClient::builder()
        .endpoint(endpoint)
        .credentials_from_env()?
        .connect()
        .await?;
    let data = quickstart_dir()?;

    // The same configuration as quickstart_full in deploy/examples/quickstart.yaml,
    // with the paths made absolute (the catalog stores absolute paths only).
    let configuration = BackupConfiguration {
        name: "quickstart_full".into(),
        kind: BackupKind::Full as i32,
        purpose: Purpose::Production as i32,
        enabled: Some(true),
        description: "Quickstart file tree and SQLite database in one snapshot".into(),
        source: Some(Source {
            database: Some(DatabaseSource {
                engine: DatabaseEngine::Sqlite as i32,
                url: format!("sqlite://{data}/app.db"),
                password: None,
            }),
            paths: vec![format!("{data}/files")],
            exclude: vec!["**/*.tmp".into()],
            ..Default::default()
        }),
        retention: Some(Retention {
            keep_last: 5,
            ..Default::default()
        }),
        labels: [("app".to_owned(), "quickstart".to_owned())].into(),
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
        // Give up waiting after ten minutes; the backup itself goes on.
        .run_backup_and_wait("quickstart_full", Some(Duration::from_secs(600)), |job| {
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
