//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use vigil_repository::{ChunkerParams, InitOptions, KdfParams, KeySource, Repository};

/// Small chunks and packs, cheap KDF: fast tests that still cross boundaries.
pub(crate) fn opts() -> InitOptions {
    InitOptions {
        chunker: ChunkerParams {
            min: 4 << 10,
            avg: 16 << 10,
            max: 64 << 10,
        },
        pack_size: 256 << 10,
        kdf: KdfParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        ..Default::default()
    }
}

pub(crate) fn key() -> KeySource {
    KeySource::passphrase("correct horse battery staple")
}

pub(crate) struct Fixture {
    pub dir: tempfile::TempDir,
    pub repo: Repository,
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_local(&dir.path().join("repo"), &key(), &opts()).unwrap();
        fs::create_dir_all(dir.path().join("src")).unwrap();
        Fixture { dir, repo }
    }

    pub(crate) fn repo_path(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    pub(crate) fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    pub(crate) fn reopen(&self) -> Repository {
        Repository::open_local(&self.repo_path(), &key()).unwrap()
    }
}

/// Deterministic pseudo-random bytes.
pub(crate) fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.finalize_xof().fill(&mut v);
    v
}

pub(crate) fn write(path: &Path, data: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Makes a small tree: files of several sizes, a subdir, a symlink.
pub(crate) fn make_tree(root: &Path) {
    write(&root.join("a.txt"), b"hello vigil\n", 0o644);
    write(&root.join("big.bin"), &bytes(1, 300_000), 0o600);
    write(
        &root.join("sub/text.txt"),
        "lorem ipsum ".repeat(20_000).as_bytes(),
        0o640,
    );
    write(&root.join("sub/empty"), b"", 0o644);
    write(&root.join("sub/deeper/x.bin"), &bytes(2, 70_000), 0o755);
    std::os::unix::fs::symlink("../a.txt", root.join("sub/link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("abs-link")).unwrap();
    filetime::set_file_mtime(
        root.join("a.txt"),
        filetime::FileTime::from_unix_time(1_600_000_000, 123),
    )
    .unwrap();
}

/// Where `src` lands below a restore target.
pub(crate) fn restored(target: &Path, src: &Path) -> PathBuf {
    target.join(src.strip_prefix("/").unwrap())
}
