//! The storage seam: one small, blocking trait for every backend.
//!
//! The repository only ever lists, reads (whole or a range), writes whole
//! objects atomically and deletes. That maps one-to-one onto a local
//! directory and onto an object store (S3: LIST, GET, ranged GET, PUT,
//! DELETE), so an `object_store` backend can be added without touching the
//! format. Async callers run repository operations in `spawn_blocking`.

mod local;
mod memory;

pub use local::LocalBackend;
pub use memory::MemoryBackend;

use crate::error::Result;

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
    /// Deletes an object; deleting a missing object is not an error.
    fn delete(&self, kind: FileKind, name: &str) -> Result<()>;
    /// Whether an object exists.
    fn exists(&self, kind: FileKind, name: &str) -> Result<bool>;
}
