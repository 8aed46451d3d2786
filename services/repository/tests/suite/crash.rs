//! Crash safety (E1/E2): interrupted backups leave a valid repository and
//! the next backup reuses what was already stored; a pack deleted behind a
//! running process makes a restore fail naming the files. Each test runs on
//! a local repository and on an S3 one.

use crate::common;

use std::collections::HashMap;
use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use vigil_repository::{BackupOptions, Control, FileKind, RestoreOptions, VerifyOptions};

on_both_backends!(
    packs_without_index_are_reindexed_and_reused,
    index_without_snapshot_is_valid_and_reused,
    kill_9_during_backup_leaves_valid_repository,
    prune_interrupted_before_deleting_old_index_or_packs_leaves_valid_repository,
    a_pack_deleted_behind_a_running_process_fails_the_restore_naming_the_files,
);

fn backup_opts(fx: &Fixture) -> BackupOptions {
    BackupOptions {
        paths: vec![fx.src()],
        no_files_cache: true,
        ..Default::default()
    }
}

fn packs_without_index_are_reindexed_and_reused(fx: Fixture) {
    make_tree(&fx.src());
    let first = fx
        .repo
        .backup(&backup_opts(&fx), vec![], &Control::default())
        .unwrap();
    // Simulate a crash after the packs but before index and snapshot.
    for kind in [FileKind::Index, FileKind::Snapshot] {
        for name in fx.names(kind) {
            fx.delete(kind, &name);
        }
    }
    if fx.is_local() {
        // A torn temporary file from the interrupted write is ignored (an
        // object store has none: a PUT stores the whole object or nothing).
        fs::write(fx.repo_path().join("data/.tmp-deadbeef"), b"VGPACK01 torn").unwrap();
    }
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

fn index_without_snapshot_is_valid_and_reused(fx: Fixture) {
    make_tree(&fx.src());
    let first = fx
        .repo
        .backup(&backup_opts(&fx), vec![], &Control::default())
        .unwrap();
    fx.delete(FileKind::Snapshot, &first.snapshot_id.to_hex());
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
    let location = std::env::var("VIGIL_CRASH_REPO").unwrap();
    let repo = vigil_repository::Repository::open(backend(&location), &key()).unwrap();
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

fn kill_9_during_backup_leaves_valid_repository(fx: Fixture) {
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
        .env("VIGIL_CRASH_REPO", &fx.location)
        .spawn();
    let mut child = child.unwrap();
    // Kill it once some packs exist but (most likely) before a snapshot.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let packs = fx.names(FileKind::Pack).len();
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

/// Every stored object of one kind, by name.
fn save(fx: &Fixture, kind: FileKind) -> HashMap<String, Vec<u8>> {
    fx.names(kind)
        .into_iter()
        .map(|n| {
            let data = fx.read(kind, &n);
            (n, data)
        })
        .collect()
}

/// Writes back every saved object the repository lacks (undoing deletions).
fn restore_missing(fx: &Fixture, kind: FileKind, saved: &HashMap<String, Vec<u8>>) -> usize {
    let present = fx.names(kind);
    let mut n = 0;
    for (name, data) in saved {
        if !present.contains(name) {
            fx.replace(kind, name, data);
            n += 1;
        }
    }
    n
}

fn prune_interrupted_before_deleting_old_index_or_packs_leaves_valid_repository(fx: Fixture) {
    use vigil_repository::{PruneOptions, RetentionPolicy};
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
    let (packs, indexes) = (save(&fx, FileKind::Pack), save(&fx, FileKind::Index));
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
    assert!(restore_missing(&fx, FileKind::Pack, &packs) > 0);
    let v = fx.reopen().verify(&VerifyOptions::default()).unwrap();
    assert!(v.is_ok(), "{v:?}");
    // ... and before the old index files were deleted (phase 6):
    assert!(restore_missing(&fx, FileKind::Index, &indexes) > 0);
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

/// Restore and verify read the store, not a copy held in memory: a pack
/// removed behind an open repository fails exactly the files that use it,
/// naming them.
fn a_pack_deleted_behind_a_running_process_fails_the_restore_naming_the_files(fx: Fixture) {
    make_tree(&fx.src());
    let r = fx
        .repo
        .backup(&backup_opts(&fx), vec![], &Control::default())
        .unwrap();
    let first = fx.dir.path().join("first");
    let ok = fx
        .repo
        .restore(
            &r.snapshot_id,
            &first,
            &RestoreOptions::default(),
            &Control::default(),
        )
        .unwrap();
    assert!(ok.errors.is_empty(), "{:?}", ok.errors);
    // A pack holding file data (not the tree) disappears behind our back.
    let entries = fx.repo.snapshot_entries(&r.snapshot_id).unwrap();
    let index = fx.repo.load_index().unwrap();
    let pack_of = |c| index.pack_name(index.get(c).unwrap());
    let snap = fx.repo.snapshot(&r.snapshot_id).unwrap();
    let tree_packs: Vec<_> = snap.tree.iter().map(pack_of).collect();
    let victim = entries
        .iter()
        .find(|e| !e.chunks.is_empty() && !tree_packs.contains(&pack_of(&e.chunks[0])))
        .expect("a file whose data is outside the tree's packs");
    let pack = pack_of(&victim.chunks[0]);
    fx.delete(FileKind::Pack, &pack.to_hex());
    let users: Vec<String> = entries
        .iter()
        .filter(|e| e.chunks.iter().any(|c| pack_of(c) == pack))
        .map(|e| e.path_lossy())
        .collect();
    let out = fx.dir.path().join("second");
    let rep = fx
        .repo
        .restore(
            &r.snapshot_id,
            &out,
            &RestoreOptions::default(),
            &Control::default(),
        )
        .unwrap();
    let failed: Vec<String> = rep.errors.iter().map(|e| e.path.clone()).collect();
    assert_eq!(failed, users, "{:?}", rep.errors);
    assert!(
        rep.errors
            .iter()
            .all(|e| e.message.contains(&pack.to_hex())),
        "{:?}",
        rep.errors
    );
    let v = fx.repo.verify(&VerifyOptions::default()).unwrap();
    assert!(!v.is_ok(), "verify notices the missing pack: {v:?}");
    let mut affected: Vec<String> = v.affected.iter().map(|a| a.path.clone()).collect();
    affected.sort();
    assert_eq!(affected, users);
}
