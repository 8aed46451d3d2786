//! Hostile uploads through `UploadArchive`: each is refused with
//! INVALID_ARGUMENT and a clear reason, its UPLOAD job is recorded FAILED
//! with that reason, no artifact is recorded, and the staged file is gone.

use crate::common;

use common::Harness;
use common::craft::{self, encode, file, link, raw};
use tonic::Code;
use vigil_proto::catalog::v1::{JobKind, JobState, ListArtifactsRequest};

async fn assert_refused(h: &Harness, name: &str, bytes: Vec<u8>, expect: &str) {
    let before = h.all_jobs().await.len();
    let err = h
        .upload(name, "", bytes, None)
        .await
        .expect_err("a hostile upload must be refused");
    assert_eq!(err.code(), Code::InvalidArgument, "{name}: {err:?}");
    assert!(
        err.message().starts_with("archive: "),
        "{name}: {}",
        err.message()
    );
    assert!(
        err.message().contains(expect),
        "{name}: expected {expect:?} in {}",
        err.message()
    );
    let jobs = h.all_jobs().await;
    assert_eq!(jobs.len(), before + 1, "{name}: one UPLOAD job is recorded");
    let job = jobs
        .iter()
        .find(|j| {
            j.kind() == JobKind::Upload
                && j.params
                    .as_ref()
                    .is_some_and(|p| format!("{p:?}").contains(name))
        })
        .expect("the upload job");
    assert_eq!(job.state(), JobState::Failed, "{name}");
    assert!(
        job.error.contains(expect),
        "{name}: job error {:?}",
        job.error
    );
    assert_eq!(job.attempt, 1, "bad input is not retried");
    let staged: Vec<_> = std::fs::read_dir(h.exec().data_dir.join("staging"))
        .unwrap()
        .flatten()
        .collect();
    assert!(staged.is_empty(), "{name}: staging holds {staged:?}");
}

#[tokio::test]
async fn hostile_archives_are_refused_and_leave_nothing_behind() {
    let h = Harness::start().await;
    assert_refused(
        &h,
        "traversal.vgx",
        encode(&raw(vec![file("../../etc/cron.d/evil", b"x")])),
        "path traversal",
    )
    .await;
    assert_refused(
        &h,
        "absolute.vgx",
        encode(&raw(vec![file("/etc/passwd", b"x")])),
        "absolute paths are not allowed",
    )
    .await;
    assert_refused(
        &h,
        "symlink-abs.vgx",
        encode(&raw(vec![link("etc", "/etc")])),
        "symlink escape",
    )
    .await;
    assert_refused(
        &h,
        "symlink-up.vgx",
        encode(&raw(vec![link("up", "../../..")])),
        "symlink escape",
    )
    .await;
    assert_refused(
        &h,
        "through-link.vgx",
        encode(&raw(vec![link("d", "."), file("d/x", b"x")])),
        "passes through the symlink",
    )
    .await;

    let good = encode(&raw(vec![
        file("a.txt", b"actual content"),
        file("b.txt", &[7u8; 5000]),
    ]));
    assert_refused(
        &h,
        "truncated.vgx",
        good[..good.len() - 30].to_vec(),
        "truncated",
    )
    .await;
    let mut corrupt = good.clone();
    let n = corrupt.len();
    corrupt[n - 40] ^= 0x55;
    assert_refused(&h, "corrupt.vgx", corrupt, "(\"a.txt\")").await;
    assert_refused(
        &h,
        "not-an-archive.vgx",
        [&b"PK\x03\x04"[..], &[0u8; 200]].concat(),
        "bad magic",
    )
    .await;

    let mut lying_size = raw(vec![file("a.txt", b"actual content")]);
    lying_size.manifest["members"][0]["size"] = 4.into();
    assert_refused(&h, "lying-size.vgx", encode(&lying_size), "more bytes than").await;
    let mut lying_hash = raw(vec![file("a.txt", b"actual content")]);
    lying_hash.manifest["members"][0]["blake3"] =
        blake3::hash(b"something else").to_hex().to_string().into();
    assert_refused(
        &h,
        "lying-hash.vgx",
        encode(&lying_hash),
        "does not match its blake3 hash",
    )
    .await;

    let artifacts = h
        .catalog_client()
        .await
        .list_artifacts(ListArtifactsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .artifacts;
    assert!(artifacts.is_empty(), "{artifacts:?}");

    // The same archive, intact, is accepted.
    let ok = h
        .upload("intact.vgx", "", good, None)
        .await
        .expect("an intact archive is accepted");
    assert_eq!(ok.artifact.unwrap().file_count, 2);
}

#[tokio::test]
async fn bad_upload_requests_are_refused_before_any_job() {
    let h = Harness::start().await;
    let bytes = encode(&craft::raw(vec![file("a.txt", b"content")]));
    let e = h
        .upload("a.vgx", "", bytes.clone(), Some(bytes.len() as u64 + 10))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().starts_with("metadata.size_bytes: declared"),
        "{}",
        e.message()
    );
    let e = h
        .upload("../a.vgx", "", bytes.clone(), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().starts_with("metadata.file_name:"),
        "{}",
        e.message()
    );
    let e = h
        .upload("a.vgx", "no_such_configuration", bytes, None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    assert!(h.all_jobs().await.is_empty());
    // Chunks without metadata first.
    use vigil_proto::executor::v1::{UploadArchiveRequest, upload_archive_request::Part};
    let msgs = vec![UploadArchiveRequest {
        part: Some(Part::Chunk(vec![1, 2, 3])),
    }];
    let e = h
        .executor_client()
        .await
        .upload_archive(tokio_stream::iter(msgs))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("metadata:"), "{}", e.message());
    let staged: Vec<_> = std::fs::read_dir(h.exec().data_dir.join("staging"))
        .unwrap()
        .flatten()
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
}

#[tokio::test]
async fn downloads_of_unknown_or_empty_ids_are_refused() {
    let h = Harness::start().await;
    use vigil_proto::executor::v1::DownloadArchiveRequest;
    let mut c = h.executor_client().await;
    let e = c
        .download_archive(DownloadArchiveRequest {
            artifact: String::new(),
        })
        .await
        .expect_err("refused");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(e.message(), "artifact: must not be empty");
    let e = c
        .download_archive(DownloadArchiveRequest {
            artifact: "0193-nope".into(),
        })
        .await
        .expect_err("refused");
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
}
