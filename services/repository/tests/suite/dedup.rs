//! Deduplication across snapshots and the files cache.

use crate::common;

use std::fs;

use common::*;
use vigil_repository::{BackupOptions, Control};

on_both_backends!(
    identical_data_is_stored_once_across_snapshots,
    files_cache_skips_unchanged_files_and_rereads_changed_ones,
);

fn opts(fx: &Fixture) -> BackupOptions {
    BackupOptions {
        paths: vec![fx.src()],
        ..Default::default()
    }
}

fn identical_data_is_stored_once_across_snapshots(fx: Fixture) {
    make_tree(&fx.src());
    let first = fx
        .repo
        .backup(&opts(&fx), vec![], &Control::default())
        .unwrap();
    assert!(first.stats.chunks_new > 0);
    // Re-read everything (no files cache): every chunk already exists.
    let o = BackupOptions {
        no_files_cache: true,
        ..opts(&fx)
    };
    let second = fx.repo.backup(&o, vec![], &Control::default()).unwrap();
    assert_eq!(second.stats.chunks_new, 0, "{:?}", second.stats);
    assert_eq!(second.stats.stored_bytes_added, 0);
    assert!(second.stats.bytes_read > 0);
    // A copy of a file in another place dedups too.
    fs::copy(fx.src().join("big.bin"), fx.src().join("copy.bin")).unwrap();
    let third = fx.repo.backup(&o, vec![], &Control::default()).unwrap();
    // Only the (small) tree is new; the 300 kB copy is not stored again.
    assert!(
        third.stats.chunks_new <= 1 && third.stats.bytes_new < 10_000,
        "{:?}",
        third.stats
    );
    assert_eq!(third.stats.bytes_read, second.stats.bytes_read + 300_000);
}

fn files_cache_skips_unchanged_files_and_rereads_changed_ones(fx: Fixture) {
    make_tree(&fx.src());
    let first = fx
        .repo
        .backup(&opts(&fx), vec![], &Control::default())
        .unwrap();
    let second = fx
        .reopen()
        .backup(&opts(&fx), vec![], &Control::default())
        .unwrap();
    assert_eq!(second.stats.files_unchanged, 5);
    assert_eq!(second.stats.bytes_read, 0);
    assert_eq!(
        fx.repo.snapshot(&second.snapshot_id).unwrap().parent,
        Some(first.snapshot_id)
    );

    write(&fx.src().join("a.txt"), b"changed content\n", 0o644);
    let third = fx
        .repo
        .backup(&opts(&fx), vec![], &Control::default())
        .unwrap();
    assert_eq!(third.stats.files_unchanged, 4);
    assert_eq!(third.stats.bytes_read, 16);
    let mut out = Vec::new();
    fx.repo
        .restore_entry(
            &third.snapshot_id,
            &fx.src().join("a.txt").display().to_string(),
            &mut out,
        )
        .unwrap();
    assert_eq!(out, b"changed content\n");
}
