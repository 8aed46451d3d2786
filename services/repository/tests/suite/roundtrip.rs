//! Backup and restore round trips: bytes, mode, mtime, symlinks, streams.

use crate::common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::*;
use vigil_repository::{BackupOptions, Control, RestoreOptions, StreamSource};

on_both_backends!(
    round_trip_restores_bytes_mode_mtime_and_symlinks,
    stream_entry_round_trips_through_restore_entry,
    restore_and_streams_read_packs_with_few_requests,
);

fn round_trip_restores_bytes_mode_mtime_and_symlinks(fx: Fixture) {
    make_tree(&fx.src());
    let opts = BackupOptions {
        paths: vec![fx.src()],
        ..Default::default()
    };
    let res = fx.repo.backup(&opts, vec![], &Control::default()).unwrap();
    assert_eq!(res.stats.files, 5);
    assert_eq!(res.stats.symlinks, 2);
    assert!(res.warnings.is_empty(), "{:?}", res.warnings);

    let target = fx.dir.path().join("out");
    let rep = fx
        .reopen()
        .restore(
            &res.snapshot_id,
            &target,
            &RestoreOptions::default(),
            &Control::default(),
        )
        .unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert_eq!(rep.files, 5);
    let out = restored(&target, &fx.src());
    for rel in [
        "a.txt",
        "big.bin",
        "sub/text.txt",
        "sub/empty",
        "sub/deeper/x.bin",
    ] {
        let (a, b) = (fx.src().join(rel), out.join(rel));
        assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap(), "{rel}");
        let (ma, mb) = (fs::metadata(&a).unwrap(), fs::metadata(&b).unwrap());
        assert_eq!(ma.mode(), mb.mode(), "{rel} mode");
        assert_eq!(
            (ma.mtime(), ma.mtime_nsec()),
            (mb.mtime(), mb.mtime_nsec()),
            "{rel} mtime"
        );
    }
    assert_eq!(
        fs::read_link(out.join("sub/link")).unwrap().to_str(),
        Some("../a.txt")
    );
    assert_eq!(
        fs::read_link(out.join("abs-link")).unwrap().to_str(),
        Some("/etc/passwd")
    );
    let lm = fs::symlink_metadata(out.join("sub/link")).unwrap();
    let sm = fs::symlink_metadata(fx.src().join("sub/link")).unwrap();
    assert_eq!(lm.mtime(), sm.mtime());
    let dm = fs::metadata(out.join("sub")).unwrap();
    assert_eq!(
        dm.mtime(),
        fs::metadata(fx.src().join("sub")).unwrap().mtime()
    );
}

fn stream_entry_round_trips_through_restore_entry(fx: Fixture) {
    let dump = bytes(9, 500_000);
    let streams = vec![StreamSource {
        name: "db.sql".into(),
        reader: Box::new(std::io::Cursor::new(dump.clone())),
    }];
    let opts = BackupOptions::default();
    let res = fx.repo.backup(&opts, streams, &Control::default()).unwrap();
    assert_eq!(res.stats.streams, 1);
    let mut out = Vec::new();
    let n = fx
        .repo
        .restore_entry(&res.snapshot_id, "db.sql", &mut out)
        .unwrap();
    assert_eq!(n, dump.len() as u64);
    assert_eq!(out, dump);
    let snap = fx.repo.snapshot(&res.snapshot_id).unwrap();
    assert_eq!(snap.streams, vec!["db.sql".to_string()]);
}

/// A restore reads the chunks it needs pack by pack, nearby ones merged
/// into one request, not one request per chunk; so does streaming an
/// entry. A chunk shared by several files is read once.
fn restore_and_streams_read_packs_with_few_requests(fx: Fixture) {
    for i in 0..60u64 {
        let path = fx.src().join(format!("d{}/f{i:02}", i % 3));
        write(&path, &bytes(i, 5_000 + i as usize * 300), 0o644);
    }
    write(&fx.src().join("d0/copy"), &bytes(7, 5_000 + 7 * 300), 0o600);
    let dump = bytes(99, 900_000);
    let streams = vec![StreamSource {
        name: "db.sql".into(),
        reader: Box::new(std::io::Cursor::new(dump.clone())),
    }];
    let opts = BackupOptions {
        paths: vec![fx.src()],
        ..Default::default()
    };
    let res = fx.repo.backup(&opts, streams, &Control::default()).unwrap();
    let counting = std::sync::Arc::new(CountingBackend::new(backend(&fx.location)));
    let repo = vigil_repository::Repository::open(counting.clone(), &key()).unwrap();
    let chunks = repo.load_index().unwrap().len();
    let packs = fx.names(vigil_repository::FileKind::Pack).len();
    let tree = repo.snapshot(&res.snapshot_id).unwrap().tree.len();
    assert!(
        chunks > 3 * (packs + tree),
        "{chunks} chunks, {packs} packs"
    );
    counting.take();
    // An object store reads through gaps up to 1 MiB (more than a test
    // pack), so one request per pack; a local repository skips gaps over
    // 64 KiB (the stream's chunks lie between the files' ones).
    let bound = if fx.is_local() {
        chunks / 4
    } else {
        tree + packs
    };

    let target = fx.dir.path().join("out");
    let rep = repo
        .restore(
            &res.snapshot_id,
            &target,
            &RestoreOptions::default(),
            &Control::default(),
        )
        .unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert_eq!(rep.files, 61);
    let reads = counting.take();
    assert!(
        reads <= bound,
        "{reads} ranged reads for {packs} packs and {tree} tree chunks ({chunks} chunks)"
    );
    let out = restored(&target, &fx.src());
    for e in walkdir::WalkDir::new(fx.src())
        .into_iter()
        .map(Result::unwrap)
    {
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(fx.src()).unwrap();
            assert_eq!(
                fs::read(e.path()).unwrap(),
                fs::read(out.join(rel)).unwrap()
            );
            let (m, n) = (e.metadata().unwrap(), fs::metadata(out.join(rel)).unwrap());
            assert_eq!(m.mode(), n.mode(), "{rel:?}");
        }
    }

    let mut streamed = Vec::new();
    repo.restore_entry(&res.snapshot_id, "db.sql", &mut streamed)
        .unwrap();
    assert!(streamed == dump, "the stream comes back exactly");
    let reads = counting.take();
    assert!(
        reads <= bound,
        "streaming took {reads} ranged reads for {packs} packs ({chunks} chunks)"
    );
}

#[test]
fn subset_restore_only_writes_selected_paths() {
    let fx = Fixture::new();
    make_tree(&fx.src());
    let res = fx
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
    let target = fx.dir.path().join("out");
    let o = RestoreOptions {
        paths: vec![fx.src().join("sub/deeper")],
        ..Default::default()
    };
    let rep = fx
        .repo
        .restore(&res.snapshot_id, &target, &o, &Control::default())
        .unwrap();
    assert!(rep.errors.is_empty());
    assert_eq!(rep.files, 1);
    let out = restored(&target, &fx.src());
    assert!(out.join("sub/deeper/x.bin").is_file());
    assert!(!out.join("a.txt").exists());
    // Directories above the selection get their metadata too.
    use std::os::unix::fs::MetadataExt;
    let (src_sub, out_sub) = (
        fs::metadata(fx.src().join("sub")).unwrap(),
        fs::metadata(out.join("sub")).unwrap(),
    );
    assert_eq!(src_sub.mode(), out_sub.mode());
    assert_eq!(src_sub.mtime(), out_sub.mtime());
}
