//! Keys, globs, special files, progress and snapshot listing.

use crate::common;

use std::sync::{Arc, Mutex};

use common::*;
use vigil_repository::{BackupOptions, Control, Error, KdfParams, KeySource, Progress, Repository};

#[test]
fn wrong_passphrase_is_refused_and_key_files_work() {
    let fx = Fixture::new();
    let bad = Repository::open_local(&fx.repo_path(), &KeySource::passphrase("nope"));
    assert!(matches!(bad, Err(Error::WrongKey)), "{bad:?}");
    let kf = fx.dir.path().join("repo.key");
    vigil_repository::generate_key_file(&kf).unwrap();
    assert!(matches!(
        Repository::open_local(&fx.repo_path(), &KeySource::KeyFile(kf.clone())),
        Err(Error::WrongKey)
    ));
    fx.repo
        .add_key(&KeySource::KeyFile(kf.clone()), KdfParams::default())
        .unwrap();
    let r = Repository::open_local(&fx.repo_path(), &KeySource::KeyFile(kf)).unwrap();
    assert_eq!(r.id(), fx.repo.id());
    // The config never holds the key or passphrase in the clear.
    let cfg = std::fs::read_to_string(fx.repo_path().join("config")).unwrap();
    assert!(!cfg.contains("correct horse"));
    assert!(
        !format!("{:?}", key()).contains("correct horse"),
        "Debug redacts the passphrase"
    );
}

#[test]
fn tampered_config_parameters_fail_to_unlock() {
    let fx = Fixture::new();
    let p = fx.repo_path().join("config");
    let cfg = std::fs::read_to_string(&p)
        .unwrap()
        .replace("\"pack_size\": 262144", "\"pack_size\": 262145");
    std::fs::write(&p, cfg).unwrap();
    assert!(matches!(
        Repository::open_local(&fx.repo_path(), &key()),
        Err(Error::WrongKey)
    ));
}

#[test]
fn include_and_exclude_globs_select_files() {
    let fx = Fixture::new();
    make_tree(&fx.src());
    write(&fx.src().join("skip.tmp"), b"x", 0o644);
    write(&fx.src().join("cache/big.bin"), b"x", 0o644);
    let o = BackupOptions {
        paths: vec![fx.src()],
        exclude: vec!["*.tmp".into(), "**/cache".into()],
        include: vec!["*.txt".into(), "*.tmp".into(), "**/cache/*".into()],
        ..Default::default()
    };
    let r = fx.repo.backup(&o, vec![], &Control::default()).unwrap();
    let names: Vec<String> = fx
        .repo
        .snapshot_entries(&r.snapshot_id)
        .unwrap()
        .iter()
        .filter(|e| e.kind == vigil_repository::EntryKind::File)
        .map(|e| e.path_lossy())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.ends_with(".txt")));
}

#[test]
fn special_files_are_skipped_with_a_warning() {
    let fx = Fixture::new();
    make_tree(&fx.src());
    let fifo = fx.src().join("pipe");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let r = fx
        .repo
        .backup(
            &BackupOptions {
                paths: vec![fx.src()],
                ..Default::default()
            },
            vec![],
            &Control::default(),
        )
        .unwrap();
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.warnings[0].path, fifo);
    assert!(r.warnings[0].message.contains("fifo"));
    assert_eq!(r.stats.files, 5);
}

#[test]
fn progress_is_reported_and_snapshots_list_with_labels_and_stats() {
    let fx = Fixture::new();
    make_tree(&fx.src());
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let s2 = seen.clone();
    let ctl = Control {
        cancel: None,
        progress: Some(Arc::new(move |p: &Progress| s2.lock().unwrap().push(*p))),
    };
    let mut o = BackupOptions {
        paths: vec![fx.src()],
        tags: vec!["nightly".into()],
        ..Default::default()
    };
    o.labels.insert("config".into(), "daily_full_backup".into());
    let r = fx.repo.backup(&o, vec![], &ctl).unwrap();
    let last = *seen.lock().unwrap().last().unwrap();
    assert_eq!(last.files_done, 5);
    assert_eq!(last.bytes_read, r.stats.bytes_read);
    let list = fx.repo.list_snapshots().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].snapshot.labels["config"], "daily_full_backup");
    assert_eq!(list[0].snapshot.tags, vec!["nightly".to_string()]);
    assert_eq!(list[0].snapshot.paths, vec![fx.src().display().to_string()]);
    let st = fx.repo.snapshot_stats(&r.snapshot_id).unwrap();
    assert_eq!(st.summary.files, 5);
    assert_eq!(st.summary.total_bytes, r.stats.total_bytes);
    assert!(
        st.stored_bytes > 0 && st.stored_bytes < st.unique_bytes,
        "text compresses: {st:?}"
    );
    assert_eq!(
        fx.repo.find_snapshot(&r.snapshot_id.to_hex()[..8]).unwrap(),
        r.snapshot_id
    );
}

#[test]
fn the_backend_seam_works_with_an_object_store_like_backend() {
    let backend = Arc::new(vigil_repository::MemoryBackend::new());
    let repo = Repository::init(backend.clone(), &key(), &opts()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path());
    let r = repo
        .backup(
            &BackupOptions {
                paths: vec![dir.path().to_path_buf()],
                ..Default::default()
            },
            vec![],
            &Control::default(),
        )
        .unwrap();
    let repo = Repository::open(backend, &key()).unwrap();
    assert!(repo.verify(&Default::default()).unwrap().is_ok());
    let out = dir.path().join("out");
    let rep = repo
        .restore(
            &r.snapshot_id,
            &out,
            &Default::default(),
            &Control::default(),
        )
        .unwrap();
    assert!(rep.errors.is_empty());
    assert_eq!(
        std::fs::read(restored(&out, dir.path()).join("big.bin")).unwrap(),
        bytes(1, 300_000)
    );
}

/// A store that cannot be reached fails the open with an error naming the
/// location, quickly (bounded retries), and nothing else.
#[test]
fn an_unreachable_object_store_is_an_error_naming_the_location() {
    let backend = vigil_repository::ObjectStoreBackend::from_s3_url_at(
        "s3://vigil-unreachable/team",
        "http://127.0.0.1:1",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let e = Repository::open_or_init(Arc::new(backend), &key(), &opts())
        .unwrap_err()
        .to_string();
    assert!(e.contains("s3://vigil-unreachable/team"), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{e}"
    );
}

/// A bucket that does not exist is named in the error.
#[test]
fn needs_s3_a_missing_bucket_is_an_error_naming_the_location() {
    let endpoint = s3_endpoint();
    let backend = vigil_repository::ObjectStoreBackend::from_s3_url_at(
        "s3://vigil-no-such-bucket/x",
        &endpoint,
    )
    .unwrap();
    let e = Repository::open_or_init(Arc::new(backend), &key(), &opts())
        .unwrap_err()
        .to_string();
    assert!(e.contains("s3://vigil-no-such-bucket/x"), "{e}");
    assert!(e.contains("the bucket does not exist"), "{e}");
}
