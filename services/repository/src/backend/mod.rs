//! The storage seam: one small, blocking trait for every backend.
//!
//! The repository only ever lists, reads (whole or a range), writes whole
//! objects atomically, creates objects conditionally and deletes. That maps
//! one-to-one onto a local directory (rename and link) and onto an object
//! store (S3: LIST, GET, ranged GET, PUT, PUT with `If-None-Match: *`,
//! DELETE). Async callers run repository operations in `spawn_blocking`.

mod local;
mod memory;
mod object;

use std::sync::Arc;

pub use local::LocalBackend;
pub use memory::MemoryBackend;
pub use object::ObjectStoreBackend;

use crate::error::Result;

/// The backend for a repository location: `s3://bucket/prefix` (see
/// [`ObjectStoreBackend::from_s3_url`]), `file:///path` or a plain path.
/// Makes no request and creates nothing.
pub fn backend_for(location: &str) -> Result<Arc<dyn Backend>> {
    if location.starts_with("s3://") {
        return Ok(Arc::new(ObjectStoreBackend::from_s3_url(location)?));
    }
    let path = location.strip_prefix("file://").unwrap_or(location);
    if path.contains("://") || path.is_empty() {
        return Err(crate::error::Error::InvalidArgument {
            field: "repository",
            reason: "expected a path, file:///path or s3://bucket/prefix".into(),
        });
    }
    Ok(Arc::new(LocalBackend::unopened(path)))
}

/// The kinds of objects in a repository, each in its own namespace
/// (a directory locally, a key prefix in an object store).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// The single `config` object (key slots and format parameters).
    Config,
    /// Pack files under `data/`.
    Pack,
    /// Index files under `index/`.
    Index,
    /// Snapshot files under `snapshots/`.
    Snapshot,
    /// Lock files under `locks/`.
    Lock,
}

impl FileKind {
    /// The directory (key prefix) of this kind; empty for the config.
    pub fn dir(self) -> &'static str {
        match self {
            FileKind::Config => "",
            FileKind::Pack => "data",
            FileKind::Index => "index",
            FileKind::Snapshot => "snapshots",
            FileKind::Lock => "locks",
        }
    }
}

/// How reads of nearby blobs of one pack are merged into one ranged read
/// (restore and streaming): an object store charges a round trip per
/// request, a local file almost nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadCoalescing {
    /// Blobs at most this many bytes apart are read with one request; the
    /// bytes between them are read and dropped.
    pub max_gap: u64,
    /// A merged read spans at most this many bytes (a single larger blob
    /// is still read whole). Bounds the memory of each read in flight.
    pub max_span: u64,
}

/// One listed object: its name and size in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's name within its kind.
    pub name: String,
    /// The object's size in bytes.
    pub size: u64,
}

/// The storage backend of a repository.
///
/// Implementations must make [`Backend::put_atomic`] all-or-nothing and
/// durable when it returns: readers see either no object or the whole one.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Lists the objects of one kind (temporary files are never listed).
    fn list(&self, kind: FileKind) -> Result<Vec<ObjectInfo>>;
    /// Reads a whole object.
    fn get(&self, kind: FileKind, name: &str) -> Result<Vec<u8>>;
    /// Reads `len` bytes at `offset` of an object.
    fn get_range(&self, kind: FileKind, name: &str, offset: u64, len: u64) -> Result<Vec<u8>>;
    /// Writes an object made of `parts` atomically and durably.
    fn put_atomic(&self, kind: FileKind, name: &str, parts: &[&[u8]]) -> Result<()>;
    /// Writes an object without the durability barrier (lock files only).
    fn put_volatile(&self, kind: FileKind, name: &str, data: &[u8]) -> Result<()> {
        self.put_atomic(kind, name, &[data])
    }
    /// Writes an object made of owned `parts` atomically and durably (an
    /// object store sends them without copying).
    fn put_parts(&self, kind: FileKind, name: &str, parts: Vec<Vec<u8>>) -> Result<()> {
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        self.put_atomic(kind, name, &refs)
    }
    /// Creates an object only if none of that name exists (conditional
    /// create, `If-None-Match: *`), atomically and durably. Returns whether
    /// this call created it.
    fn put_create(&self, kind: FileKind, name: &str, data: &[u8]) -> Result<bool>;
    /// Deletes an object; deleting a missing object is not an error.
    fn delete(&self, kind: FileKind, name: &str) -> Result<()>;
    /// Whether an object exists.
    fn exists(&self, kind: FileKind, name: &str) -> Result<bool>;
    /// Pack writes worth running at once; each holds one pack in memory.
    fn write_parallelism(&self) -> usize {
        3
    }
    /// Reads worth running at once during a restore; each holds one
    /// merged read (at most [`ReadCoalescing::max_span`] bytes, or one blob).
    fn read_parallelism(&self) -> usize {
        4
    }
    /// How reads of nearby blobs are merged (local default: 64 KiB gaps,
    /// 4 MiB reads).
    fn read_coalescing(&self) -> ReadCoalescing {
        ReadCoalescing {
            max_gap: 64 << 10,
            max_span: 4 << 20,
        }
    }
    /// Where the repository lives, for messages; never holds a secret.
    fn location(&self) -> String;
}
