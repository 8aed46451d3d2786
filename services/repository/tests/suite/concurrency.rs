//! Two writers at once; prune's exclusive lock.

use crate::common;

use std::fs;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use common::*;
use vigil_repository::{BackupOptions, Control, Error, RestoreOptions, VerifyOptions};

#[test]
fn two_concurrent_writers_produce_two_valid_snapshots() {
    let fx = Fixture::new();
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

#[test]
fn prune_is_refused_while_a_backup_holds_its_shared_lock() {
    let fx = Fixture::new();
    make_tree(&fx.src());
    let _shared =
        vigil_repository::lock::LockGuard::acquire(fx.repo.backend().clone(), false).unwrap();
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

#[test]
fn backup_is_refused_while_prune_holds_the_exclusive_lock_and_stale_locks_are_ignored() {
    let fx = Fixture::new();
    make_tree(&fx.src());
    let ex = vigil_repository::lock::LockGuard::acquire(fx.repo.backend().clone(), true).unwrap();
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
    fs::write(fx.repo_path().join("locks").join("0".repeat(64)), body).unwrap();
    fx.repo.backup(&o, vec![], &Control::default()).unwrap();
    // An old lock (not refreshed for longer than the stale limit) too.
    let body = format!(
        r#"{{"exclusive":true,"hostname":"elsewhere","pid":1,"time":{}}}"#,
        1_000
    );
    fs::write(fx.repo_path().join("locks").join("1".repeat(64)), body).unwrap();
    fx.repo.backup(&o, vec![], &Control::default()).unwrap();
}

#[test]
fn cancelled_backup_writes_no_snapshot() {
    let fx = Fixture::new();
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
    assert!(
        fs::read_dir(fx.repo_path().join("locks"))
            .unwrap()
            .next()
            .is_none(),
        "lock released"
    );
}
