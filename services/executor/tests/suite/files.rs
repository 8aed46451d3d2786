//! File trees through the real catalog and executor: FULL backup and
//! restore keep content and metadata byte for byte; a restore never
//! overwrites without the flag; EXPORT archives download, upload again and
//! restore without the original snapshot; the service describes itself.

use crate::common;

use std::time::Duration;

use common::{Harness, config, tree};
use vigil_proto::catalog::v1::*;
use vigil_proto::executor::v1::GetExecutorInfoRequest;

#[tokio::test]
async fn full_backup_and_restore_are_byte_identical_and_never_overwrite_silently() {
    let h = Harness::start().await;
    let src = h.path().join("src");
    tree::build(&src);
    h.configure(config("files_full", BackupKind::Full, &[&src], None))
        .await;
    let job = h.run_ok("files_full", JobKind::Backup, None).await;
    assert_eq!(job.backup_kind(), BackupKind::Full);
    let stats = job.stats.unwrap();
    assert_eq!(stats.files, 7, "{stats:?}");
    let artifact = h.artifact(&job.artifact).await;
    assert_eq!(artifact.format(), ArtifactFormat::Snapshot);
    assert_eq!(artifact.file_count, 7);
    assert!(artifact.checksum.starts_with("blake3:"));
    // The duplicate 3 MiB file is stored once.
    assert!(stats.bytes_new < 3 * (3 << 20), "{stats:?}");

    let target = h.path().join("restore");
    let restore = h.restore(&job.artifact, Some(&target), None, false).await;
    let done = h.wait_job(&restore.id, Duration::from_secs(60)).await;
    assert_eq!(done.state(), JobState::Completed, "{}", done.error);
    tree::assert_same(&src, &tree::restored_root(&target, &src));

    // Without the flag, an existing target is refused and left as it was.
    let victim = tree::restored_root(&target, &src).join("documents/readme.txt");
    std::fs::write(&victim, b"local change").unwrap();
    let refused = h.restore(&job.artifact, Some(&target), None, false).await;
    let refused = h.wait_job(&refused.id, Duration::from_secs(60)).await;
    assert_eq!(refused.state(), JobState::Failed);
    assert!(
        refused.error.contains("already exists; set overwrite"),
        "{}",
        refused.error
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"local change");

    // With it, the target is replaced.
    let again = h.restore(&job.artifact, Some(&target), None, true).await;
    let again = h.wait_job(&again.id, Duration::from_secs(60)).await;
    assert_eq!(again.state(), JobState::Completed, "{}", again.error);
    tree::assert_same(&src, &tree::restored_root(&target, &src));

    // An unchanged second backup stores (almost) nothing new.
    let second = h.run_ok("files_full", JobKind::Backup, None).await;
    let s2 = second.stats.unwrap();
    assert!(s2.bytes_new < 100_000, "{s2:?}");
}

#[tokio::test]
async fn export_archives_download_upload_and_restore_without_the_snapshot() {
    let h = Harness::start().await;
    let src = h.path().join("src");
    tree::build(&src);
    std::os::unix::fs::symlink("/etc/hostname", src.join("media/absolute-link")).unwrap();
    let media_mtime = filetime::FileTime::from_unix_time(1_500_000_400, 5);
    filetime::set_file_mtime(src.join("media"), media_mtime).unwrap();
    h.configure(config("weekly_export", BackupKind::Export, &[&src], None))
        .await;
    let job = h.run_ok("weekly_export", JobKind::Backup, None).await;
    assert!(
        job.warnings
            .iter()
            .any(|w| w.contains("absolute-link") && w.contains("left out of the archive")),
        "{:?}",
        job.warnings
    );
    let artifact = h.artifact(&job.artifact).await;
    assert_eq!(artifact.format(), ArtifactFormat::Archive);
    assert_eq!(artifact.backup_kind(), BackupKind::Export);

    // The download is the archive whose checksum the backup recorded.
    let (meta, bytes) = h.download(&job.artifact).await;
    assert_eq!(meta.size_bytes, bytes.len() as u64);
    assert_eq!(meta.checksum, artifact.checksum);
    assert_eq!(
        format!("blake3:{}", blake3::hash(&bytes).to_hex()),
        artifact.checksum
    );
    assert!(
        meta.file_name.starts_with("weekly_export_") && meta.file_name.ends_with(".vgx"),
        "{}",
        meta.file_name
    );

    // Moved elsewhere: a second, separate Vigil takes the upload and restores it.
    let other = Harness::start().await;
    let up = other
        .upload(&meta.file_name, "", bytes.clone(), None)
        .await
        .expect("upload accepted");
    let up_job = up.job.unwrap();
    assert_eq!(up_job.kind(), JobKind::Upload);
    assert_eq!(up_job.trigger(), JobTrigger::Upload);
    assert_eq!(up_job.state(), JobState::Completed);
    let up_artifact = up.artifact.unwrap();
    assert_eq!(up_artifact.format(), ArtifactFormat::Archive);
    assert_eq!(up_artifact.checksum, artifact.checksum);
    assert_eq!(up_artifact.file_count, 7);

    let target = other.path().join("restored");
    let r = other
        .restore(&up_artifact.id, Some(&target), None, false)
        .await;
    let r = other.wait_job(&r.id, Duration::from_secs(60)).await;
    assert_eq!(r.state(), JobState::Completed, "{}", r.error);
    std::fs::remove_file(src.join("media/absolute-link")).unwrap();
    filetime::set_file_mtime(src.join("media"), media_mtime).unwrap();
    tree::assert_same(&src, &tree::restored_root(&target, &src));

    // Downloading the uploaded artifact gives back the very same bytes.
    let (meta2, bytes2) = other.download(&up_artifact.id).await;
    assert_eq!(bytes2, bytes);
    assert_eq!(meta2.file_name, meta.file_name);
}

#[tokio::test]
async fn the_executor_describes_itself_and_reports_to_the_catalog() {
    let h = Harness::start().await;
    let info = h
        .executor_client()
        .await
        .get_executor_info(GetExecutorInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.executor_id, h.exec().id);
    for cap in [
        "backup:full",
        "backup:database",
        "backup:export",
        "restore",
        "verify",
        "prune",
        "upload",
        "engine:sqlite",
    ] {
        assert!(
            info.capabilities.iter().any(|c| c == cap),
            "{cap} missing from {:?}",
            info.capabilities
        );
    }
    assert!(info.engines.contains_key("sqlite"));
    assert!(info.repository.ends_with("repository"));
    let key = h.exec().data_dir.join("repository.key");
    assert!(key.is_file());
    // The heartbeat lands in the catalog with the same capabilities.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let comps = h
            .coordination()
            .await
            .list_components(ListComponentsRequest {
                kind: ComponentKind::Executor as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .components;
        if let Some(c) = comps.iter().find(|c| c.id == info.executor_id) {
            assert!(c.alive);
            assert_eq!(c.capabilities, info.capabilities);
            assert!(c.details.contains_key("sqlite"));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no executor heartbeat in the catalog"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two thousand files no backup can read (FIFOs, so it holds whoever runs
/// the test): the backup completes, the log keeps its bound of skipped
/// files with their reasons and its phases, and counts the rest.
#[tokio::test]
async fn thousands_of_unreadable_files_keep_the_job_log_bounded() {
    let h = Harness::start().await;
    let src = h.path().join("fifos");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("plain.txt"), "kept\n").unwrap();
    let names: Vec<String> = (0..2000).map(|i| format!("p{i:04}")).collect();
    for chunk in names.chunks(500) {
        let made = std::process::Command::new("mkfifo")
            .args(chunk)
            .current_dir(&src)
            .status()
            .unwrap();
        assert!(made.success());
    }
    h.configure(config("fifos", BackupKind::Full, &[&src], None))
        .await;
    let job = h.run_ok("fifos", JobKind::Backup, None).await;
    assert_eq!(job.stats.unwrap().files, 1);

    let mut catalog = h.catalog_client().await;
    let page = catalog
        .list_job_events(ListJobEventsRequest {
            job: job.id.clone(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let skipped: Vec<&JobEvent> = page
        .events
        .iter()
        .filter(|e| e.kind() == JobEventKind::FileSkipped)
        .collect();
    assert_eq!(skipped.len(), 900, "at most 900 skipped files are kept");
    assert_eq!(page.omitted_count, 1100, "the rest are counted");
    let first = skipped[0];
    assert_eq!(first.path, src.join("p0000").display().to_string());
    assert_eq!(first.message, "special file (fifo)");
    assert_eq!(first.phase, "backing up");
    let finished: Vec<&str> = page
        .events
        .iter()
        .filter(|e| e.kind() == JobEventKind::PhaseFinished)
        .map(|e| e.phase.as_str())
        .collect();
    assert_eq!(
        finished,
        [
            "scanning",
            "backing up",
            "reading back",
            "recording artifact"
        ],
        "the phases are kept whatever the number of skipped files"
    );
    assert!(page.next_page_token.is_empty());
}
