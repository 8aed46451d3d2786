//! The Vigil repository: deduplicated, compressed, encrypted snapshot storage.
//!
//! The executor stores backups here. Data is split by keyed content-defined
//! chunking (FastCDC), identified by keyed BLAKE3, compressed with zstd when
//! that helps, sealed with AES-256-GCM (or ChaCha20-Poly1305), and packed
//! into pack files; index files map chunks to packs; snapshots point at a
//! tree of file metadata. The on-disk format is described in
//! `docs/REPOSITORY-FORMAT.md`.
//!
//! Every operation is blocking and uses its own threads; from async code
//! call it inside `tokio::task::spawn_blocking`. [`Repository`] is cheap to
//! clone and can be shared between threads.
//!
//! # Usage
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//! use vigil_repository::*;
//!
//! # fn main() -> vigil_repository::Result<()> {
//! // Create (once) and open a repository in a local directory. A key file
//! // (see `generate_key_file`) or a passphrase (Argon2id) protects it.
//! let key = KeySource::KeyFile(PathBuf::from("/etc/vigil/repo.key"));
//! let repo = match Repository::open_local(Path::new("/var/lib/vigil/repo"), &key) {
//!     Ok(r) => r,
//!     Err(Error::NotFound(_)) => {
//!         Repository::init_local(Path::new("/var/lib/vigil/repo"), &key, &InitOptions::default())?
//!     }
//!     Err(e) => return Err(e),
//! };
//!
//! // Back up file trees plus a database dump streamed from pg_dump's stdout.
//! let mut dump = std::process::Command::new("pg_dump")
//!     .arg("edms")
//!     .stdout(std::process::Stdio::piped())
//!     .spawn()
//!     .expect("pg_dump");
//! let streams = vec![StreamSource { name: "edms.sql".into(), reader: Box::new(dump.stdout.take().unwrap()) }];
//! let mut opts = BackupOptions {
//!     paths: vec!["/srv/edms/documents".into(), "/srv/edms/media".into()],
//!     exclude: vec!["**/*.tmp".into()],
//!     ..Default::default()
//! };
//! opts.labels.insert("config".into(), "daily_full_backup".into());
//! opts.labels.insert("job".into(), "daily_full_backup_20251220_222305".into());
//! let ctl = Control::default(); // cancel flag + progress callback
//! let result = repo.backup(&opts, streams, &ctl)?;
//! println!("snapshot {} new bytes {}", result.snapshot_id, result.stats.bytes_new);
//! for w in &result.warnings { eprintln!("skipped {}: {}", w.path.display(), w.message); }
//!
//! // Restore everything (or `paths`) below a target; never outside it.
//! let report = repo.restore(&result.snapshot_id, Path::new("/restore/here"), &RestoreOptions::default(), &ctl)?;
//! assert!(report.errors.is_empty(), "per-file failures: {:?}", report.errors);
//!
//! // Stream the dump into psql (or any `Write`).
//! let mut out = Vec::new();
//! repo.restore_entry(&result.snapshot_id, "edms.sql", &mut out)?;
//!
//! // Verify 10% of the packs; damaged packs name the affected files.
//! let v = repo.verify(&VerifyOptions { sample_fraction: 0.1, ..Default::default() })?;
//! for a in &v.affected { eprintln!("damaged: {} in {}", a.path, a.snapshot); }
//!
//! // Retention for one configuration, then free the space.
//! let mut prune = PruneOptions {
//!     policy: RetentionPolicy { keep_within_days: 30, keep_daily: 7, keep_weekly: 4, keep_monthly: 12, ..Default::default() },
//!     dry_run: true,
//!     ..Default::default()
//! };
//! prune.filter.labels.insert("config".into(), "daily_full_backup".into());
//! let plan = repo.prune(&prune)?; // dry run: the selection, nothing deleted
//! println!("would forget {} snapshots", plan.forget.len());
//!
//! // List snapshots and their figures.
//! for s in repo.list_snapshots()? {
//!     let st = repo.snapshot_stats(&s.id)?;
//!     println!("{} {} {:?} {} bytes", s.id.short(), s.snapshot.time, s.snapshot.labels, st.summary.total_bytes);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! - E1: packs, then index, then snapshot, each written atomically and
//!   fsynced; a returned snapshot id names durable data.
//! - E2: a kill at any point leaves a valid repository; packs without an
//!   index are re-indexed from their trailers by the next backup.
//! - E3: every object is authenticated; chunks are re-hashed on read.
//! - E4: restores go through `openat(O_NOFOLLOW)` from the target's
//!   descriptor and refuse to overwrite without `overwrite: true`.
//! - E5: keys are zeroized, never logged, and `Debug` output is redacted.
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
mod read_plan;
pub mod repo;
pub mod restore;
pub mod retention;
pub mod safe_fs;
pub mod snapshot;
pub mod stats;
pub mod tree;
pub mod verify;

pub use backend::{
    Backend, FileKind, LocalBackend, MemoryBackend, ObjectInfo, ObjectStoreBackend, ReadCoalescing,
    backend_for,
};
pub use backup::{
    BackupOptions, BackupResult, BackupStats, Control, Progress, ScanTotals, StreamSource, Warning,
    scan_sources,
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
