//! The Vigil repository: deduplicated, compressed, encrypted snapshot storage
#![forbid(unsafe_code)]

pub mod backend;
pub mod backup;
pub mod blob;
pub mod chunker;
pub mod config;
pub mod crypto;
pub mod error;
pub mod id;
pub mod index;
pub mod lock;
pub mod pack;
pub mod packer;
pub mod prune;
pub mod repo;
pub mod restore;
pub mod retention;
pub mod safe_fs;
pub mod snapshot;
pub mod stats;
pub mod tree;
pub mod verify;

pub use backend::{Backend, FileKind, LocalBackend, ObjectInfo};
pub use backup::{
    BackupOptions, BackupResult, BackupStats, Control, Progress, StreamSource, Warning,
};
pub use config::{ChunkerParams, KdfParams, KeySource, generate_key_file};
pub use crypto::CipherKind;
pub use error::{Error, Result};
pub use id::{ChunkId, Id, SnapshotId};
pub use prune::{PruneOptions, PruneReport, SnapshotFilter};
pub use repo::{InitOptions, Repository};
pub use restore::{RestoreError, RestoreOptions, RestoreReport};
pub use retention::{KeepReason, RetentionPolicy, Selection};
pub use snapshot::{Snapshot, SnapshotInfo, SnapshotSummary};
pub use stats::SnapshotStats;
pub use tree::{Entry, EntryKind};
pub use verify::{AffectedEntry, DamagedPack, VerifyOptions, VerifyReport};
