//! Two writers at once; prune's exclusive lock; lock expiry; several
//! processes creating one repository at once. Each test runs on a local
//! repository and on an S3 one.

use crate::common;

use std::fs;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::*;
use vigil_repository::lock::LockGuard;
use vigil_repository::{
    BackupOptions, Control, Error, FileKind, KeySource, Repository, RestoreOptions, VerifyOptions,
};

on_both_backends!(
    two_concurrent_writers_produce_two_valid_snapshots,
    prune_is_refused_while_a_backup_holds_its_shared_lock,
    backup_is_refused_while_prune_holds_the_exclusive_lock_and_stale_locks_are_ignored,
    a_lock_of_a_killed_process_on_another_host_expires,
    cancelled_backup_writes_no_snapshot,
    a_cancelled_restore_with_progress_ends,
    many_processes_creating_one_repository_at_once_all_open_it,
);

const TTL: Duration = Duration::from_secs(30 * 60);

fn two_concurrent_writers_produce_two_valid_snapshots(fx: Fixture) {
    let (a, b) = (fx.src().join("a"), fx.src().join("b"));
    for i in 0..20 {
        write(&a.join(format!("f{i}")), &bytes(i, 100_000), 0o644);
        // Half of b's files have the same content as a's: both writers may store them.
        write(
            &b.join(format!("f{i}")),
            &bytes(if i % 2 == 0 { i } else { 1000 + i }, 100_000),
            0o644,
        );
    }
    let (ra, rb) = (fx.reopen(), fx.reopen());
    let results: Vec<_> = std::thread::scope(|s| {
        let ha = s.spawn(|| {
            ra.backup(
                &BackupOptions {
                    paths: vec![a.clone()],
                    ..Default::default()
                },
                vec![],
                &Control::default(),
            )
        });
        let hb = s.spawn(|| {
            rb.backup(
                &BackupOptions {
                    paths: vec![b.clone()],
                    ..Default::default()
                },
                vec![],
                &Control::default(),
            )
        });
        vec![ha.join().unwrap().unwrap(), hb.join().unwrap().unwrap()]
    });
    assert_ne!(results[0].snapshot_id, results[1].snapshot_id);
    let repo = fx.reopen();
    assert_eq!(repo.list_snapshots().unwrap().len(), 2);
    assert!(repo.verify(&VerifyOptions::default()).unwrap().is_ok());
    for (r, dir) in results.iter().zip([&a, &b]) {
        let out = fx.dir.path().join(format!("out-{}", r.snapshot_id.short()));
        assert!(
            repo.restore(
                &r.snapshot_id,
                &out,
                &RestoreOptions::default(),
                &Control::default()
            )
            .unwrap()
            .errors
            .is_empty()
        );
        for i in 0..20 {
            let f = format!("f{i}");
            assert_eq!(
                fs::read(restored(&out, dir).join(&f)).unwrap(),
                fs::read(dir.join(&f)).unwrap()
            );
        }
    }
}

fn prune_is_refused_while_a_backup_holds_its_shared_lock(fx: Fixture) {
    make_tree(&fx.src());
    let _shared = LockGuard::acquire(fx.repo.backend().clone(), false, TTL).unwrap();
    match fx.repo.prune(&Default::default()) {
        Err(Error::Locked(msg)) => assert!(msg.contains("shared")),
        other => panic!("prune ran under a shared lock: {other:?}"),
    }
    // Backups share the lock.
    fx.repo
        .backup(
            &BackupOptions {
                paths: vec![fx.src()],
                ..Default::default()
            },
            vec![],
            &Control::default(),
        )
        .unwrap();
}

fn backup_is_refused_while_prune_holds_the_exclusive_lock_and_stale_locks_are_ignored(fx: Fixture) {
    make_tree(&fx.src());
    let ex = LockGuard::acquire(fx.repo.backend().clone(), true, TTL).unwrap();
    let o = BackupOptions {
        paths: vec![fx.src()],
        ..Default::default()
    };
    assert!(matches!(
        fx.repo.backup(&o, vec![], &Control::default()),
        Err(Error::Locked(_))
    ));
    drop(ex);
    // A lock left by a dead process (pid that cannot exist) is stale.
    let host = vigil_repository::lock::hostname();
    let body = format!(
        r#"{{"exclusive":true,"hostname":"{host}","pid":4194304999,"time":{}}}"#,
        4_000_000_000u64
    );
    let body = body.replace("4194304999", "4194303");
    fx.replace(FileKind::Lock, &"0".repeat(64), body.as_bytes());
    fx.repo.backup(&o, vec![], &Control::default()).unwrap();
    // An old lock (not refreshed for longer than the stale limit) too.
    let body = format!(
        r#"{{"exclusive":true,"hostname":"elsewhere","pid":1,"time":{}}}"#,
        1_000
    );
    fx.replace(FileKind::Lock, &"1".repeat(64), body.as_bytes());
    fx.repo.backup(&o, vec![], &Control::default()).unwrap();
    assert!(fx.names(FileKind::Lock).is_empty(), "stale locks removed");
}

/// A lock whose holder stopped refreshing it (killed on a host whose
/// processes this one cannot see) blocks prune until its time-to-live
/// passes, then is ignored and removed.
fn a_lock_of_a_killed_process_on_another_host_expires(fx: Fixture) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = format!(
        r#"{{"exclusive":false,"hostname":"another-host","pid":1,"time":{now},"ttl_secs":2}}"#
    );
    fx.replace(FileKind::Lock, &"2".repeat(64), body.as_bytes());
    match fx.repo.prune(&Default::default()) {
        Err(Error::Locked(msg)) => assert!(msg.contains("another-host"), "{msg}"),
        other => panic!("prune ran under a live lock: {other:?}"),
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match fx.repo.prune(&Default::default()) {
            Ok(_) => break,
            Err(Error::Locked(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200))
            }
            other => panic!("the expired lock still blocks prune: {other:?}"),
        }
    }
    assert!(fx.names(FileKind::Lock).is_empty(), "expired lock removed");
}

/// Executors starting together on a fresh repository: one creates it (a
/// conditional create of its config), every other one opens the same one.
fn many_processes_creating_one_repository_at_once_all_open_it(fx: Fixture) {
    let location = if fx.is_local() {
        fx.dir.path().join("fresh").display().to_string()
    } else {
        format!("{}-fresh", fx.location)
    };
    let results: Vec<(String, bool)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|_| {
                let location = location.clone();
                s.spawn(move || {
                    let (r, created) =
                        Repository::open_or_init(backend(&location), &key(), &opts()).unwrap();
                    (r.id().to_owned(), created)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|(_, c)| *c).count(), 1, "{results:?}");
    assert!(
        results.iter().all(|(id, _)| *id == results[0].0),
        "{results:?}"
    );
    let wrong = Repository::open(backend(&location), &KeySource::passphrase("other"));
    assert!(matches!(wrong, Err(Error::WrongKey)), "{wrong:?}");
}

fn cancelled_backup_writes_no_snapshot(fx: Fixture) {
    make_tree(&fx.src());
    let ctl = Control {
        cancel: Some(Arc::new(AtomicBool::new(true))),
        progress: None,
    };
    let r = fx.repo.backup(
        &BackupOptions {
            paths: vec![fx.src()],
            ..Default::default()
        },
        vec![],
        &ctl,
    );
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    assert!(fx.repo.list_snapshots().unwrap().is_empty());
    assert!(fx.names(FileKind::Lock).is_empty(), "lock released");
}

/// A restore cancelled while its progress is reported ends with Cancelled:
/// the progress loop follows the workers, not the reads taken, so it cannot
/// wait for reads that a cancelled worker never takes.
fn a_cancelled_restore_with_progress_ends(fx: Fixture) {
    // Twelve 1 MiB files of their own bytes: more reads than one worker.
    for i in 0..12 {
        write(&fx.src().join(format!("f{i}")), &bytes(i, 1 << 20), 0o644);
    }
    let id = fx
        .repo
        .backup(
            &BackupOptions {
                paths: vec![fx.src()],
                ..Default::default()
            },
            vec![],
            &Control::default(),
        )
        .unwrap()
        .snapshot_id;
    let target = fx.dir.path().join("cancelled-restore");
    let (tx, rx) = std::sync::mpsc::channel();
    let repo = fx.reopen();
    std::thread::spawn(move || {
        let ctl = Control {
            cancel: Some(Arc::new(AtomicBool::new(true))),
            progress: Some(Arc::new(|_: &vigil_repository::Progress| {})),
        };
        let opts = RestoreOptions {
            threads: Some(1),
            ..Default::default()
        };
        let _ = tx.send(repo.restore(&id, &target, &opts, &ctl));
    });
    let r = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the cancelled restore ends");
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
}
