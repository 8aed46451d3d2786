//! E5: a database password given to the executor never shows up in its
//! logs, in job records (errors included), in artifacts, in its heartbeat,
//! in the staging area or in the repository's files. Nor does the
//! repository key.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Harness, config, database, db, tree};
use vigil_proto::catalog::v1::*;
use vigil_proto::executor::v1::GetExecutorInfoRequest;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Capture {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    capture
}

/// Every byte of every file under `dir`, with the file it came from.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().to_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[allow(unsafe_code)]
fn set_env(name: &str, value: &str) {
    // Each test runs in its own process under nextest, and this runs before
    // any thread of the executor reads the environment.
    unsafe { std::env::set_var(name, value) };
}

#[tokio::test]
async fn needs_mysql_passwords_and_keys_never_leak() {
    let admin = db::mysql_url();
    let logs = capture_logs();
    let src = db::mysql_create(&admin, "vsec");
    db::mysql_fill(&admin, &src);
    let (user, password) = db::mysql_user(&admin, &src);
    let wrong = format!("Wr0ng-{}", uuid::Uuid::new_v4().simple());
    set_env("EXEC_TEST_DB_PASSWORD", &password);
    set_env("EXEC_TEST_WRONG_PASSWORD", &wrong);

    let h = Harness::start().await;
    let host = format!(
        "{}:{}",
        admin.host_str().unwrap_or("127.0.0.1"),
        admin.port().unwrap_or(3306)
    );
    let url = format!("mysql://{user}@{host}/{src}");
    let files = h.path().join("files");
    tree::build(&files);
    h.configure(config(
        "secret_full",
        BackupKind::Full,
        &[&files],
        Some(database(
            DatabaseEngine::Mysql,
            &url,
            Some("EXEC_TEST_DB_PASSWORD"),
        )),
    ))
    .await;
    h.configure(config(
        "secret_export",
        BackupKind::Export,
        &[],
        Some(database(
            DatabaseEngine::Mysql,
            &url,
            Some("EXEC_TEST_DB_PASSWORD"),
        )),
    ))
    .await;
    h.configure(config(
        "secret_wrong",
        BackupKind::Database,
        &[],
        Some(database(
            DatabaseEngine::Mysql,
            &url,
            Some("EXEC_TEST_WRONG_PASSWORD"),
        )),
    ))
    .await;

    let full = h.run_ok("secret_full", JobKind::Backup, None).await;
    let export = h.run_ok("secret_export", JobKind::Backup, None).await;
    let failed = h.create_job("secret_wrong", JobKind::Backup, None).await;
    let failed = h.wait_job(&failed.id, Duration::from_secs(120)).await;
    assert_eq!(failed.state(), JobState::Failed);
    assert!(
        failed.error.contains("Access denied"),
        "the failure says why: {}",
        failed.error
    );

    // A restore with the password from the environment, a download and a verify.
    let dst = db::mysql_create(&admin, "vsecdst");
    let (user2, password2) = db::mysql_user(&admin, &dst);
    set_env("EXEC_TEST_DST_PASSWORD", &password2);
    let mut params = common::restore_params(
        &full.artifact,
        None,
        Some(&format!("mysql://{user2}@{host}/{dst}")),
        false,
    );
    params.database_password = Some(SecretRef {
        source: Some(secret_ref::Source::Env("EXEC_TEST_DST_PASSWORD".into())),
    });
    let r = h
        .create_job(
            "",
            JobKind::Restore,
            Some(job_params::Params::Restore(params)),
        )
        .await;
    let r = h.wait_job(&r.id, Duration::from_secs(120)).await;
    assert_eq!(r.state(), JobState::Completed, "{}", r.error);
    let (_, archive) = h.download(&export.artifact).await;
    h.run_ok("", JobKind::Verify, None).await;

    let key = std::fs::read_to_string(h.exec().data_dir.join("repository.key")).unwrap();
    let secrets = [
        password.as_str(),
        wrong.as_str(),
        password2.as_str(),
        key.trim(),
    ];

    // Everything the catalog holds about jobs, artifacts and components.
    let mut records = String::new();
    for j in h.all_jobs().await {
        records.push_str(&format!("{j:?}\n"));
    }
    let artifacts = h
        .catalog_client()
        .await
        .list_artifacts(ListArtifactsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    records.push_str(&format!("{artifacts:?}\n"));
    let components = h
        .coordination()
        .await
        .list_components(ListComponentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    records.push_str(&format!("{components:?}\n"));
    let info = h
        .executor_client()
        .await
        .get_executor_info(GetExecutorInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    records.push_str(&format!("{info:?}\n"));
    assert!(
        records.contains("Access denied"),
        "the records were gathered"
    );

    let repo_files = files_under(&h.exec().data_dir.join("repository"));
    let staging_files = files_under(&h.exec().data_dir.join("staging"));
    assert!(repo_files.len() > 5);
    let logged = logs.0.lock().unwrap().clone();
    assert!(
        contains(&logged, "executor started"),
        "the logs were captured"
    );

    db::mysql_drop(&admin, &src);
    db::mysql_drop(&admin, &dst);
    db::mysql_drop_user(&admin, &user);
    db::mysql_drop_user(&admin, &user2);

    for s in secrets {
        assert!(
            !records.contains(s),
            "a catalog record or response holds a secret"
        );
        assert!(!contains(&logged, s), "the log holds a secret");
        assert!(!contains(&archive, s), "the export archive holds a secret");
        for (path, bytes) in repo_files.iter().chain(staging_files.iter()) {
            assert!(!contains(bytes, s), "{} holds a secret", path.display());
        }
    }
}
