//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use vigil_repository::{
    Backend, ChunkerParams, FileKind, Id, InitOptions, KdfParams, KeySource, ObjectStoreBackend,
    Repository, backend_for,
};

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

/// Runs each listed test, a `fn(Fixture)` of the calling module, twice: on
/// a local repository (`local::NAME`) and on one in the S3 server named by
/// `VIGIL_TEST_S3_ENDPOINT` (`needs_s3::NAME`).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod local {
            $( #[test] fn $name() { super::$name(crate::common::Fixture::local()); } )*
        }
        mod needs_s3 {
            $( #[test] fn $name() { super::$name(crate::common::Fixture::s3()); } )*
        }
    };
}

/// The S3 endpoint of the test server; panics naming the variable.
pub(crate) fn s3_endpoint() -> String {
    std::env::var("VIGIL_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "VIGIL_TEST_S3_ENDPOINT is not set: this test needs an S3 server \
             (`. .ci/s3.sh && ensure_s3` starts one and exports it)"
        )
    })
}

/// Creates a bucket with a unique name on the test server; returns it.
pub(crate) fn new_bucket() -> String {
    use std::io::{Read, Write};
    let endpoint = s3_endpoint();
    let bucket = format!("vigil-test-{}", &Id::random().to_hex()[..16]);
    let host = endpoint
        .strip_prefix("http://")
        .expect("VIGIL_TEST_S3_ENDPOINT is an http:// URL")
        .trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(host).expect("connect to the S3 server");
    write!(
        conn,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "create bucket: {answer}"
    );
    bucket
}

pub(crate) struct Fixture {
    pub dir: tempfile::TempDir,
    pub repo: Repository,
    pub backend: Arc<dyn Backend>,
    /// The repository's location: a directory or an s3:// URL.
    pub location: String,
}

impl Fixture {
    /// A fresh repository in a local directory.
    pub(crate) fn new() -> Fixture {
        Fixture::local()
    }

    /// A fresh repository in a local directory.
    pub(crate) fn local() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let location = dir.path().join("repo").display().to_string();
        Fixture::with(dir, location)
    }

    /// A fresh repository in a new bucket of the test S3 server.
    pub(crate) fn s3() -> Fixture {
        let location = format!("s3://{}/repo", new_bucket());
        Fixture::with(tempfile::tempdir().unwrap(), location)
    }

    fn with(dir: tempfile::TempDir, location: String) -> Fixture {
        let backend = backend(&location);
        let repo = Repository::init(backend.clone(), &key(), &opts()).unwrap();
        fs::create_dir_all(dir.path().join("src")).unwrap();
        Fixture {
            dir,
            repo,
            backend,
            location,
        }
    }

    pub(crate) fn is_local(&self) -> bool {
        !self.location.starts_with("s3://")
    }

    /// The local repository's directory (local fixtures only).
    pub(crate) fn repo_path(&self) -> PathBuf {
        assert!(self.is_local(), "repo_path of an S3 fixture");
        PathBuf::from(&self.location)
    }

    pub(crate) fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    /// The repository opened again, with nothing cached.
    pub(crate) fn reopen(&self) -> Repository {
        Repository::open(backend(&self.location), &key()).unwrap()
    }

    /// Names of the stored objects of one kind.
    pub(crate) fn names(&self, kind: FileKind) -> Vec<String> {
        self.backend
            .list(kind)
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect()
    }

    pub(crate) fn read(&self, kind: FileKind, name: &str) -> Vec<u8> {
        self.backend.get(kind, name).unwrap()
    }

    /// Replaces an object (deletes it first: stored objects are created once).
    pub(crate) fn replace(&self, kind: FileKind, name: &str, data: &[u8]) {
        self.backend.delete(kind, name).unwrap();
        assert!(self.backend.put_create(kind, name, data).unwrap());
    }

    /// Flips one bit of a stored object at `offset`.
    pub(crate) fn flip(&self, kind: FileKind, name: &str, offset: usize, bit: u8) {
        let mut b = self.read(kind, name);
        b[offset] ^= bit;
        self.replace(kind, name, &b);
    }

    pub(crate) fn delete(&self, kind: FileKind, name: &str) {
        self.backend.delete(kind, name).unwrap();
    }
}

/// The backend of a test location; S3 locations use the test server.
pub(crate) fn backend(location: &str) -> Arc<dyn Backend> {
    if location.starts_with("s3://") {
        Arc::new(ObjectStoreBackend::from_s3_url_at(location, &s3_endpoint()).unwrap())
    } else {
        backend_for(location).unwrap()
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

/// A backend that counts the ranged reads it passes on to another.
#[derive(Debug)]
pub(crate) struct CountingBackend {
    pub inner: Arc<dyn Backend>,
    pub ranged_reads: std::sync::atomic::AtomicUsize,
}

impl CountingBackend {
    pub(crate) fn new(inner: Arc<dyn Backend>) -> CountingBackend {
        CountingBackend {
            inner,
            ranged_reads: Default::default(),
        }
    }

    /// Ranged reads since the last call.
    pub(crate) fn take(&self) -> usize {
        self.ranged_reads
            .swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

impl Backend for CountingBackend {
    fn list(&self, kind: FileKind) -> vigil_repository::Result<Vec<vigil_repository::ObjectInfo>> {
        self.inner.list(kind)
    }
    fn get(&self, kind: FileKind, name: &str) -> vigil_repository::Result<Vec<u8>> {
        self.inner.get(kind, name)
    }
    fn get_range(
        &self,
        kind: FileKind,
        name: &str,
        offset: u64,
        len: u64,
    ) -> vigil_repository::Result<Vec<u8>> {
        self.ranged_reads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.get_range(kind, name, offset, len)
    }
    fn put_atomic(
        &self,
        kind: FileKind,
        name: &str,
        parts: &[&[u8]],
    ) -> vigil_repository::Result<()> {
        self.inner.put_atomic(kind, name, parts)
    }
    fn put_create(
        &self,
        kind: FileKind,
        name: &str,
        data: &[u8],
    ) -> vigil_repository::Result<bool> {
        self.inner.put_create(kind, name, data)
    }
    fn delete(&self, kind: FileKind, name: &str) -> vigil_repository::Result<()> {
        self.inner.delete(kind, name)
    }
    fn exists(&self, kind: FileKind, name: &str) -> vigil_repository::Result<bool> {
        self.inner.exists(kind, name)
    }
    fn read_parallelism(&self) -> usize {
        self.inner.read_parallelism()
    }
    fn read_coalescing(&self) -> vigil_repository::ReadCoalescing {
        self.inner.read_coalescing()
    }
    fn location(&self) -> String {
        self.inner.location()
    }
}
