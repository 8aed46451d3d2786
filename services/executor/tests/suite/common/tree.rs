//! A file tree with awkward content and metadata, and a comparison of two
//! trees: content (BLAKE3), type, permission bits, mtime (to the nanosecond)
//! and symlink targets.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use filetime::FileTime;

/// One node of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub mtime: (i64, u32),
    pub size: u64,
    pub hash: String,
    pub target: String,
}

fn write(path: &Path, data: &[u8], mode: u32, mtime: i64) {
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    filetime::set_file_mtime(path, FileTime::from_unix_time(mtime, 123_456_789)).unwrap();
}

/// Pseudo-random bytes (deterministic).
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Builds the sample tree under `root` (created).
pub(crate) fn build(root: &Path) {
    std::fs::create_dir_all(root.join("documents/2025/ünïcode dir")).unwrap();
    std::fs::create_dir_all(root.join("media/empty")).unwrap();
    write(
        &root.join("documents/readme.txt"),
        b"hello vigil\n",
        0o644,
        1_700_000_000,
    );
    write(
        &root.join("documents/2025/report.pdf"),
        &noise(3 << 20, 1),
        0o600,
        1_700_000_100,
    );
    write(
        &root.join("documents/2025/copy.pdf"),
        &noise(3 << 20, 1),
        0o640,
        1_700_000_200,
    );
    write(
        &root.join("documents/2025/ünïcode dir/naïve file (1).txt"),
        "grüße\n".as_bytes(),
        0o644,
        1_600_000_000,
    );
    write(
        &root.join("media/run.sh"),
        b"#!/bin/sh\necho hi\n",
        0o755,
        1_700_000_300,
    );
    write(&root.join("media/empty.bin"), b"", 0o644, 1_700_000_400);
    write(
        &root.join("media/text.log"),
        "line of text\n".repeat(20_000).as_bytes(),
        0o644,
        1_700_000_500,
    );
    std::os::unix::fs::symlink("../documents/readme.txt", root.join("media/readme-link")).unwrap();
    std::os::unix::fs::symlink("missing-target", root.join("media/dangling")).unwrap();
    for (dir, mtime) in [
        ("documents/2025/ünïcode dir", 1_500_000_000),
        ("documents/2025", 1_500_000_100),
        ("documents", 1_500_000_200),
        ("media/empty", 1_500_000_300),
        ("media", 1_500_000_400),
    ] {
        std::fs::set_permissions(root.join(dir), std::fs::Permissions::from_mode(0o750)).unwrap();
        filetime::set_file_mtime(root.join(dir), FileTime::from_unix_time(mtime, 5)).unwrap();
    }
    for link in ["media/readme-link", "media/dangling"] {
        filetime::set_symlink_file_times(
            root.join(link),
            FileTime::from_unix_time(1_650_000_000, 0),
            FileTime::from_unix_time(1_650_000_000, 7),
        )
        .unwrap();
    }
}

/// Every node under `root`, by relative path (the root itself is "").
pub(crate) fn scan(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let md = std::fs::symlink_metadata(entry.path()).unwrap();
        let ft = md.file_type();
        let (kind, hash, target) = if ft.is_symlink() {
            (
                "symlink",
                String::new(),
                std::fs::read_link(entry.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            )
        } else if ft.is_dir() {
            ("dir", String::new(), String::new())
        } else {
            (
                "file",
                blake3::hash(&std::fs::read(entry.path()).unwrap())
                    .to_hex()
                    .to_string(),
                String::new(),
            )
        };
        let node = Node {
            kind,
            mode: if ft.is_symlink() {
                0
            } else {
                md.permissions().mode() & 0o7777
            },
            mtime: (md.mtime(), md.mtime_nsec() as u32),
            size: if ft.is_file() { md.len() } else { 0 },
            hash,
            target,
        };
        out.insert(rel, node);
    }
    out
}

/// Asserts that `restored` holds exactly what `original` holds.
pub(crate) fn assert_same(original: &Path, restored: &Path) {
    let a = scan(original);
    let b = scan(restored);
    let names_a: Vec<&String> = a.keys().collect();
    let names_b: Vec<&String> = b.keys().collect();
    assert_eq!(names_a, names_b, "the trees hold different names");
    for (name, node) in &a {
        if name.is_empty() {
            // The root's own mtime is not part of what a restore promises
            // when the restore created its parents.
            assert_eq!(node.kind, b[name].kind);
            continue;
        }
        assert_eq!(node, &b[name], "{name} differs");
    }
}

/// Where a restore into `target` puts the tree backed up from `source`.
pub(crate) fn restored_root(target: &Path, source: &Path) -> std::path::PathBuf {
    target.join(source.strip_prefix("/").unwrap())
}
