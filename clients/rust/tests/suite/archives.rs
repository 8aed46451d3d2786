//! Archive upload and download streaming against a real tonic server.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use vigil_client::proto::executor::v1::executor_service_server::ExecutorServiceServer;
use vigil_client::{Error, UPLOAD_CHUNK_BYTES};

use support::executor::ScriptedExecutor;

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn executor_server(e: Arc<ScriptedExecutor>) -> support::Running {
    support::serve(
        tonic::transport::Server::builder().add_service(ExecutorServiceServer::from_arc(e)),
    )
    .await
}

#[tokio::test]
async fn upload_sends_metadata_then_one_mib_chunks() {
    let exec = Arc::new(ScriptedExecutor::default());
    let server = executor_server(exec.clone()).await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.vigil");
    let data = sample(2 * UPLOAD_CHUNK_BYTES + 12345);
    std::fs::write(&path, &data).unwrap();

    let progress = Arc::new(std::sync::Mutex::new(Vec::new()));
    let p = progress.clone();
    let resp = client
        .upload_archive_file(&path, Some("daily_full_backup"), move |sent| {
            p.lock().unwrap().push(sent)
        })
        .await
        .unwrap();
    assert_eq!(resp.artifact.unwrap().id, "uploaded");

    let (meta, sizes, bytes) = exec
        .upload
        .lock()
        .unwrap()
        .clone()
        .expect("upload received");
    assert_eq!(meta.file_name, "export.vigil");
    assert_eq!(meta.configuration, "daily_full_backup");
    assert_eq!(meta.size_bytes, data.len() as u64);
    assert_eq!(sizes, vec![UPLOAD_CHUNK_BYTES, UPLOAD_CHUNK_BYTES, 12345]);
    assert_eq!(bytes, data);
    assert_eq!(
        progress.lock().unwrap().last().copied(),
        Some(data.len() as u64)
    );
}

#[tokio::test]
async fn download_writes_the_file_and_verifies_the_checksum() {
    let archive = sample(300_000);
    let checksum = format!("blake3:{}", blake3::hash(&archive).to_hex());
    let exec = Arc::new(ScriptedExecutor {
        archive: archive.clone(),
        checksum,
        ..Default::default()
    });
    let server = executor_server(exec).await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.vigil");
    let outcome = client
        .download_archive_to("a1", &target, |_, _| {})
        .await
        .unwrap();
    assert!(outcome.checksum_verified);
    assert_eq!(outcome.bytes, archive.len() as u64);
    assert_eq!(std::fs::read(&target).unwrap(), archive);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no partial file left behind"
    );
}

#[tokio::test]
async fn download_with_a_wrong_checksum_leaves_nothing() {
    let archive = sample(100_000);
    let wrong = format!("blake3:{}", blake3::hash(b"something else").to_hex());
    let exec = Arc::new(ScriptedExecutor {
        archive,
        checksum: wrong,
        ..Default::default()
    });
    let server = executor_server(exec).await;
    let client = support::client(&server, Duration::from_secs(5)).await;

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.vigil");
    let err = client
        .download_archive_to("a1", &target, |_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "neither target nor partial file"
    );
}

#[tokio::test]
async fn download_of_unknown_artifact_is_not_found() {
    let exec = Arc::new(ScriptedExecutor::default());
    let server = executor_server(exec).await;
    let client = support::client(&server, Duration::from_secs(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let err = client
        .download_archive_to("missing", &dir.path().join("x"), |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
}
