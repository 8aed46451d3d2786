//! Flipped bytes are detected (E3); damaged files fail alone on restore.

use crate::common;

use std::fs;

use common::*;
use vigil_repository::{BackupOptions, Control, FileKind, Id, RestoreOptions, VerifyOptions};

on_both_backends!(
    verify_detects_flipped_byte_and_names_the_file,
    restore_fails_only_the_damaged_file,
    damaged_snapshot_and_index_files_are_reported,
    prune_refuses_to_run_while_a_snapshot_is_unreadable,
);

/// Flips one byte inside the blob that stores the first chunk of `file`.
fn damage_chunk_of(fx: &Fixture, snapshot: &Id, file: &std::path::Path) -> String {
    let entries = fx.repo.snapshot_entries(snapshot).unwrap();
    let rel = file
        .strip_prefix("/")
        .unwrap()
        .as_os_str()
        .as_encoded_bytes()
        .to_vec();
    let e = entries.iter().find(|e| e.path == rel).unwrap();
    let index = fx.repo.load_index().unwrap();
    let loc = *index.get(&e.chunks[0]).unwrap();
    let pack = index.pack_name(&loc).to_hex();
    fx.flip(
        FileKind::Pack,
        &pack,
        loc.offset as usize + loc.len as usize / 2,
        0x01,
    );
    pack
}

fn verify_detects_flipped_byte_and_names_the_file(fx: Fixture) {
    make_tree(&fx.src());
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
    assert!(fx.repo.verify(&VerifyOptions::default()).unwrap().is_ok());
    let pack = damage_chunk_of(&fx, &r.snapshot_id, &fx.src().join("sub/deeper/x.bin"));
    let rep = fx.repo.verify(&VerifyOptions::default()).unwrap();
    assert!(!rep.is_ok());
    assert_eq!(rep.damaged_packs.len(), 1);
    assert_eq!(rep.damaged_packs[0].pack, pack);
    assert_eq!(rep.damaged_packs[0].bad_chunks.len(), 1);
    let want = fx
        .src()
        .join("sub/deeper/x.bin")
        .strip_prefix("/")
        .unwrap()
        .display()
        .to_string();
    assert!(
        rep.affected
            .iter()
            .any(|a| a.path == want && a.snapshot == r.snapshot_id),
        "{:?}",
        rep.affected
    );
}

fn restore_fails_only_the_damaged_file(fx: Fixture) {
    make_tree(&fx.src());
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
    damage_chunk_of(&fx, &r.snapshot_id, &fx.src().join("big.bin"));
    let target = fx.dir.path().join("out");
    let rep = fx
        .repo
        .restore(
            &r.snapshot_id,
            &target,
            &RestoreOptions::default(),
            &Control::default(),
        )
        .unwrap();
    assert_eq!(rep.errors.len(), 1, "{:?}", rep.errors);
    assert!(rep.errors[0].path.ends_with("big.bin"));
    assert!(
        rep.errors[0].message.contains("integrity"),
        "{}",
        rep.errors[0].message
    );
    let out = restored(&target, &fx.src());
    assert!(
        !out.join("big.bin").exists(),
        "a damaged file is not left half-written"
    );
    assert_eq!(fs::read(out.join("a.txt")).unwrap(), b"hello vigil\n");
    assert_eq!(
        fs::read(out.join("sub/deeper/x.bin")).unwrap(),
        bytes(2, 70_000)
    );
    // Streaming the damaged file fails loudly too.
    let mut sink = Vec::new();
    assert!(
        fx.repo
            .restore_entry(
                &r.snapshot_id,
                &fx.src().join("big.bin").display().to_string(),
                &mut sink
            )
            .is_err()
    );
}

fn damaged_snapshot_and_index_files_are_reported(fx: Fixture) {
    make_tree(&fx.src());
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
    let idx = fx.names(FileKind::Index).remove(0);
    fx.flip(FileKind::Index, &idx, 20, 0x80);
    fx.flip(FileKind::Snapshot, &r.snapshot_id.to_hex(), 30, 0x80);
    let rep = fx.repo.verify(&VerifyOptions::default()).unwrap();
    assert_eq!(rep.damaged_index_files.len(), 1);
    assert_eq!(rep.damaged_snapshots, vec![r.snapshot_id.to_hex()]);
    assert!(fx.repo.snapshot(&r.snapshot_id).is_err());
}

fn prune_refuses_to_run_while_a_snapshot_is_unreadable(fx: Fixture) {
    make_tree(&fx.src());
    let o = BackupOptions {
        paths: vec![fx.src()],
        ..Default::default()
    };
    let a = fx.repo.backup(&o, vec![], &Control::default()).unwrap();
    write(&fx.src().join("new.bin"), &bytes(77, 100_000), 0o644);
    let b = fx.repo.backup(&o, vec![], &Control::default()).unwrap();
    fx.flip(FileKind::Snapshot, &b.snapshot_id.to_hex(), 40, 1);
    let err = fx.repo.prune(&Default::default()).unwrap_err();
    assert!(err.to_string().contains("refusing to prune"), "{err}");
    assert_eq!(fx.names(FileKind::Snapshot).len(), 2, "nothing deleted");
    fx.repo.forget_snapshots(&[b.snapshot_id]).unwrap();
    fx.repo.prune(&Default::default()).unwrap();
    let out = fx.dir.path().join("out");
    let r = fx
        .repo
        .restore(
            &a.snapshot_id,
            &out,
            &RestoreOptions::default(),
            &Control::default(),
        )
        .unwrap();
    assert!(r.errors.is_empty());
}
