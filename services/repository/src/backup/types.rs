//! The public types of the backup API.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::id::{Id, SnapshotId};

/// What to back up.
#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    /// Absolute paths of the trees to back up.
    pub paths: Vec<PathBuf>,
    /// Glob patterns; when not empty, only matching files are stored
    /// (directories are always walked).
    pub include: Vec<String>,
    /// Glob patterns of files and directories to skip.
    pub exclude: Vec<String>,
    /// Tags recorded in the snapshot.
    pub tags: Vec<String>,
    /// Labels recorded in the snapshot (configuration name, job id, ...).
    pub labels: BTreeMap<String, String>,
    /// The snapshot to take unchanged files from; by default the latest
    /// snapshot of this host with the same paths.
    pub parent: Option<SnapshotId>,
    /// Set to re-read every file even if unchanged.
    pub no_files_cache: bool,
    /// Host name to record (default: this host).
    pub hostname: Option<String>,
    /// Snapshot time (default: now).
    pub time: Option<DateTime<Utc>>,
    /// Worker threads (default: available cores).
    pub threads: Option<usize>,
}

/// A named stream to store, e.g. a `pg_dump` stdout.
pub struct StreamSource {
    /// Entry name (non-empty, no `/`, unique in the snapshot).
    pub name: String,
    /// The data; read until EOF on a dedicated thread.
    pub reader: Box<dyn Read + Send>,
}

impl std::fmt::Debug for StreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSource")
            .field("name", &self.name)
            .finish()
    }
}

/// Progress figures passed to the progress callback.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes read so far (files and streams).
    pub bytes_read: u64,
    /// Files finished (read or taken from the files cache).
    pub files_done: u64,
    /// Bytes of the files taken from the files cache, which were not read:
    /// with `bytes_read`, the bytes done.
    pub bytes_unchanged: u64,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Cancellation flag and progress callback for long operations.
#[derive(Clone, Default)]
pub struct Control {
    /// Set to `true` to stop; the operation returns [`Error::Cancelled`].
    pub cancel: Option<Arc<AtomicBool>>,
    /// Called from the calling thread about every 100 ms.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// A problem that did not stop the backup (skipped file, special file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The path concerned.
    pub path: PathBuf,
    /// What happened.
    pub message: String,
}

/// Figures of one backup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupStats {
    /// Regular files in the snapshot.
    pub files: u64,
    /// Files taken from the files cache without reading.
    pub files_unchanged: u64,
    /// Directories.
    pub dirs: u64,
    /// Symlinks.
    pub symlinks: u64,
    /// Streams.
    pub streams: u64,
    /// Bytes read from files and streams.
    pub bytes_read: u64,
    /// Logical size of all files and streams.
    pub total_bytes: u64,
    /// Plaintext bytes new to the repository.
    pub bytes_new: u64,
    /// Bytes added to the repository (packs, after compression+encryption).
    pub stored_bytes_added: u64,
    /// New chunks.
    pub chunks_new: u64,
    /// Chunks already stored.
    pub chunks_reused: u64,
    /// Wall time.
    pub duration: Duration,
}

/// The outcome of a backup.
#[derive(Clone, Debug)]
pub struct BackupResult {
    /// The new snapshot.
    pub snapshot_id: SnapshotId,
    /// Figures.
    pub stats: BackupStats,
    /// Skipped files and other warnings.
    pub warnings: Vec<Warning>,
}

pub(crate) enum FileOutcome {
    Stored(Vec<Id>, u64),
    Skipped(String),
    Fatal(Error),
}

pub(crate) fn validate(opts: &BackupOptions, streams: &[StreamSource]) -> Result<()> {
    if opts.paths.is_empty() && streams.is_empty() {
        return Err(Error::InvalidArgument {
            field: "paths",
            reason: "nothing to back up".into(),
        });
    }
    for p in &opts.paths {
        if !p.is_absolute() {
            return Err(Error::InvalidArgument {
                field: "paths",
                reason: format!("{} is not absolute", p.display()),
            });
        }
        if std::fs::symlink_metadata(p).is_err() {
            return Err(Error::InvalidArgument {
                field: "paths",
                reason: format!("{} does not exist", p.display()),
            });
        }
    }
    let mut names = std::collections::HashSet::new();
    for s in streams {
        if s.name.is_empty()
            || s.name.contains('/')
            || s.name.contains('\0')
            || !names.insert(&s.name)
        {
            return Err(Error::InvalidArgument {
                field: "streams",
                reason: format!("stream name {:?} is empty, has '/' or is repeated", s.name),
            });
        }
    }
    Ok(())
}
