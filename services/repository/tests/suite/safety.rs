//! Restores never write outside the target and never overwrite silently (E4).

use crate::common;

use std::fs;

use common::*;
use vigil_repository::safe_fs::{Target, components};
use vigil_repository::{BackupOptions, Control, Entry, EntryKind, RestoreOptions};

#[test]
fn traversal_and_absolute_paths_are_refused() {
    for bad in [
        &b"../x"[..],
        b"a/../../x",
        b"/etc/passwd",
        b"a//b",
        b"./a",
        b"a/.",
        b"",
    ] {
        assert!(
            components(bad).is_err(),
            "{:?} accepted",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        components(b"a/b c/d").unwrap(),
        vec![&b"a"[..], b"b c", b"d"]
    );
    let dir = tempfile::tempdir().unwrap();
    let t = Target::open(&dir.path().join("t")).unwrap();
    assert!(t.create_file(b"../escape", false, 0o600).is_err());
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn malicious_snapshot_cannot_escape_via_dotdot_or_restored_symlinks() {
    let fx = Fixture::new();
    let outside = fx.dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let mut dir = Entry::new(EntryKind::Dir, b"x".to_vec());
    dir.mode = 0o040755;
    let mut link = Entry::new(EntryKind::Symlink, b"x/link".to_vec());
    link.target = outside.display().to_string().into_bytes();
    let mut evil = Entry::new(EntryKind::File, b"../outside/pwned".to_vec());
    evil.mode = 0o100644;
    let a = fx
        .repo
        .commit_entries(vec![dir, link, evil], BackupOptions::default())
        .unwrap();
    let target = fx.dir.path().join("target");
    let rep = fx
        .repo
        .restore(&a, &target, &RestoreOptions::default(), &Control::default())
        .unwrap();
    assert_eq!(rep.errors.len(), 1, "{:?}", rep.errors);
    assert!(rep.errors[0].message.contains("'..'"), "{:?}", rep.errors);
    assert!(
        fs::symlink_metadata(target.join("x/link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // A second snapshot writes through the symlink the first one restored.
    let mut through = Entry::new(EntryKind::File, b"x/link/pwned2".to_vec());
    through.mode = 0o100644;
    let b = fx
        .repo
        .commit_entries(vec![through], BackupOptions::default())
        .unwrap();
    let o = RestoreOptions {
        overwrite: true,
        ..Default::default()
    };
    let rep = fx
        .repo
        .restore(&b, &target, &o, &Control::default())
        .unwrap();
    assert_eq!(rep.errors.len(), 1, "{:?}", rep.errors);
    assert!(
        rep.errors[0].message.contains("unsafe path"),
        "{:?}",
        rep.errors
    );
    assert!(
        fs::read_dir(&outside).unwrap().next().is_none(),
        "something was written outside the target"
    );
}

#[test]
fn planted_symlink_in_target_is_not_followed() {
    let fx = Fixture::new();
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
    let outside = fx.dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let target = fx.dir.path().join("target");
    // The first component of the restored paths is a symlink to outside.
    let first = fx.src().components().nth(1).unwrap().as_os_str().to_owned();
    fs::create_dir_all(&target).unwrap();
    std::os::unix::fs::symlink(&outside, target.join(&first)).unwrap();
    let rep = fx
        .repo
        .restore(
            &r.snapshot_id,
            &target,
            &RestoreOptions {
                overwrite: true,
                ..Default::default()
            },
            &Control::default(),
        )
        .unwrap();
    assert!(!rep.errors.is_empty());
    assert!(
        rep.errors
            .iter()
            .all(|e| e.message.contains("unsafe path") || e.message.contains("not a directory")),
        "{:?}",
        rep.errors
    );
    assert!(
        fs::read_dir(&outside).unwrap().next().is_none(),
        "restore followed a planted symlink"
    );
}

#[test]
fn existing_files_are_not_overwritten_without_the_flag() {
    let fx = Fixture::new();
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
    assert!(rep.errors.is_empty());
    let a = restored(&target, &fx.src()).join("a.txt");
    fs::write(&a, b"local edit").unwrap();
    let rep = fx
        .repo
        .restore(
            &r.snapshot_id,
            &target,
            &RestoreOptions::default(),
            &Control::default(),
        )
        .unwrap();
    assert!(
        rep.errors
            .iter()
            .any(|e| e.path.ends_with("a.txt") && e.message.contains("already")),
        "{:?}",
        rep.errors
    );
    assert_eq!(fs::read(&a).unwrap(), b"local edit");
    let rep = fx
        .repo
        .restore(
            &r.snapshot_id,
            &target,
            &RestoreOptions {
                overwrite: true,
                ..Default::default()
            },
            &Control::default(),
        )
        .unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert_eq!(fs::read(&a).unwrap(), b"hello vigil\n");
}
