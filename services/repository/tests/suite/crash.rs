//! Crash safety (E1/E2): interrupted backups leave a valid repository and
//! the next backup reuses what was already stored.

use crate::common;

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use vigil_repository::{BackupOptions, Control, RestoreOptions, VerifyOptions};

fn backup_opts(fx: &Fixture) -> BackupOptions {
    BackupOptions {
        paths: vec![fx.src()],
        no_files_cache: true,
        ..Default::default()
    }
}

#[test]
fn packs_without_index_are_reindexed_and_reused() {
    let fx = Fixture::new();
    make_tree(&fx.src());
    let first = fx
        .repo
        .backup(&backup_opts(&fx), vec![], &Control::default())
        .unwrap();
    // Simulate a crash after the packs but before index and snapshot.
    for d in ["index", "snapshots"] {
        for f in fs::read_dir(fx.repo_path().join(d)).unwrap() {
            fs::remove_file(f.unwrap().path()).unwrap();
        }
    }
    // A torn temporary file from the interrupted write is ignored.
    fs::write(fx.repo_path().join("data/.tmp-deadbeef"), b"VGPACK01 torn").unwrap();
    let repo = fx.reopen();
    assert!(repo.list_snapshots().unwrap().is_empty());
    let second = repo
        .backup(&backup_opts(&fx), vec![], &Control::default())
        .unwrap();
    assert_eq!(
        second.stats.chunks_new, 0,
        "chunks in completed packs are reused: {:?}",
        second.stats
    );
    assert_eq!(
        second.stats.chunks_reused,
        first.stats.chunks_new + first.stats.chunks_reused
    );
    let rep = repo.verify(&VerifyOptions::default()).unwrap();
    assert!(rep.is_ok(), "{rep:?}");
    let out = fx.dir.path().join("out");
    assert!(
        repo.restore(
            &second.snapshot_id,
            &out,
            &RestoreOptions::default(),
            &Control::default()
        )
        .unwrap()
        .errors
        .is_empty()
    );
}

#[test]
fn index_without_snapshot_is_valid_and_reused() {
    let fx = Fixture::new();
    make_tree(&fx.src());
    let first = fx
        .repo
        .backup(&backup_opts(&fx), vec![], &Control::default())
        .unwrap();
    fs::remove_file(
        fx.repo_path()
            .join("snapshots")
            .join(first.snapshot_id.to_hex()),
    )
    .unwrap();
    let rep = fx.repo.verify(&VerifyOptions::default()).unwrap();
    assert!(rep.is_ok(), "{rep:?}");
    let second = fx
        .repo
        .backup(&backup_opts(&fx), vec![], &Control::default())
        .unwrap();
    assert_eq!(second.stats.chunks_new, 0);
    assert_eq!(second.stats.bytes_new, 0);
}

/// Child side of the kill -9 test: backs up the directory in `VIGIL_CRASH_SRC`
/// forever until killed.
#[test]
#[ignore = "helper run by kill_9_during_backup_leaves_valid_repository"]
fn crash_child() {
    let Ok(src) = std::env::var("VIGIL_CRASH_SRC") else {
        return;
    };
    let repo = vigil_repository::Repository::open_local(
        std::path::Path::new(&std::env::var("VIGIL_CRASH_REPO").unwrap()),
        &key(),
    )
    .unwrap();
    let o = BackupOptions {
        paths: vec![src.into()],
        no_files_cache: true,
        threads: Some(1),
        ..Default::default()
    };
    loop {
        repo.backup(&o, vec![], &Control::default()).unwrap();
    }
}

#[test]
fn kill_9_during_backup_leaves_valid_repository() {
    let fx = Fixture::new();
    for i in 0..40 {
        write(
            &fx.src().join(format!("f{i:02}")),
            &bytes(100 + i, 512 << 10),
            0o644,
        );
    }
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["crash::crash_child", "--exact", "--ignored", "--nocapture"])
        .env("VIGIL_CRASH_SRC", fx.src())
        .env("VIGIL_CRASH_REPO", fx.repo_path())
        .spawn();
    let mut child = child.unwrap();
    // Kill it once some packs exist but (most likely) before a snapshot.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let packs = fs::read_dir(fx.repo_path().join("data")).unwrap().count();
        if packs >= 3 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let repo = fx.reopen();
    let rep = repo.verify(&VerifyOptions::default()).unwrap();
    assert!(rep.is_ok(), "{rep:?}");
    // The dead process's lock is stale (its pid is gone) and does not block.
    let r = repo
        .backup(&backup_opts(&fx), vec![], &Control::default())
        .unwrap();
    assert!(r.stats.chunks_reused > 0, "{:?}", r.stats);
    assert!(
        repo.prune(&Default::default()).is_ok(),
        "stale lock of the killed process is cleared"
    );
    assert!(repo.verify(&VerifyOptions::default()).unwrap().is_ok());
    let out = fx.dir.path().join("out");
    let rr = repo
        .restore(
            &r.snapshot_id,
            &out,
            &RestoreOptions::default(),
            &Control::default(),
        )
        .unwrap();
    assert!(rr.errors.is_empty());
    assert_eq!(
        fs::read(restored(&out, &fx.src()).join("f07")).unwrap(),
        bytes(107, 512 << 10)
    );
}

/// Copies every file of `from` into `to` that `to` lacks (undoing deletions).
fn restore_missing(from: &std::path::Path, to: &std::path::Path) -> usize {
    let mut n = 0;
    for f in fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        let dst = to.join(f.file_name());
        if !dst.exists() {
            fs::copy(f.path(), dst).unwrap();
            n += 1;
        }
    }
    n
}

#[test]
fn prune_interrupted_before_deleting_old_index_or_packs_leaves_valid_repository() {
    use vigil_repository::{PruneOptions, RetentionPolicy};
    let fx = Fixture::new();
    let mut last = None;
    for v in 0..3u64 {
        write(&fx.src().join("data.bin"), &bytes(700 + v, 300_000), 0o644);
        last = Some(
            fx.repo
                .backup(&backup_opts(&fx), vec![], &Control::default())
                .unwrap()
                .snapshot_id,
        );
    }
    let saved = fx.dir.path().join("saved");
    for d in ["data", "index"] {
        fs::create_dir_all(saved.join(d)).unwrap();
        restore_missing(&fx.repo_path().join(d), &saved.join(d));
    }
    let opts = PruneOptions {
        policy: RetentionPolicy {
            keep_last: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let rep = fx.repo.prune(&opts).unwrap();
    assert!(rep.packs_deleted + rep.packs_repacked > 0);

    // Crash after the new index, before packs were deleted (phase 7):
    assert!(restore_missing(&saved.join("data"), &fx.repo_path().join("data")) > 0);
    let v = fx.reopen().verify(&VerifyOptions::default()).unwrap();
    assert!(v.is_ok(), "{v:?}");
    // ... and before the old index files were deleted (phase 6):
    assert!(restore_missing(&saved.join("index"), &fx.repo_path().join("index")) > 0);
    let repo = fx.reopen();
    assert!(repo.verify(&VerifyOptions::default()).unwrap().is_ok());
    let out = fx.dir.path().join("out");
    let r = repo
        .restore(
            &last.unwrap(),
            &out,
            &RestoreOptions::default(),
            &Control::default(),
        )
        .unwrap();
    assert!(r.errors.is_empty());
    assert_eq!(
        fs::read(restored(&out, &fx.src()).join("data.bin")).unwrap(),
        bytes(702, 300_000)
    );
    // The next prune cleans up what the interrupted one left.
    let again = repo.prune(&opts).unwrap();
    assert!(again.packs_deleted > 0);
    assert!(repo.verify(&VerifyOptions::default()).unwrap().is_ok());
}
