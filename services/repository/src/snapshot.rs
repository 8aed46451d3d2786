//! Snapshot files: small sealed JSON documents pointing at a tree.
//!
//! A snapshot is written last, after its packs and index are durable, so a
//! listed snapshot is always complete. Its id is the BLAKE3 hash of the
//! stored file, which makes the file content-addressed (E3).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, FileKind};
use crate::crypto::Keys;
use crate::error::{Error, Result};
use crate::id::{Id, SnapshotId};

const SNAPSHOT_AAD: &[u8] = b"vigil snapshot";

/// Totals recorded in a snapshot at backup time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotSummary {
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Symlinks.
    pub symlinks: u64,
    /// Named streams.
    pub streams: u64,
    /// Logical size of files and streams.
    pub total_bytes: u64,
    /// Bytes of plaintext new to the repository.
    pub bytes_new: u64,
    /// Bytes added to the repository (sealed, after compression).
    pub stored_bytes_added: u64,
}

/// A snapshot: what was backed up, when, and where its tree is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    /// Backup time.
    pub time: DateTime<Utc>,
    /// Host that made the backup.
    pub hostname: String,
    /// Absolute source paths.
    pub paths: Vec<String>,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Labels such as `config=daily_full`, `job=...`.
    pub labels: BTreeMap<String, String>,
    /// Names of the streams in the snapshot.
    pub streams: Vec<String>,
    /// The chunks of the encoded tree, in order.
    pub tree: Vec<Id>,
    /// The snapshot whose files were reused through the files cache.
    pub parent: Option<SnapshotId>,
    /// Totals.
    pub summary: SnapshotSummary,
}

/// A snapshot and its id.
#[derive(Clone, Debug)]
pub struct SnapshotInfo {
    /// The snapshot id.
    pub id: SnapshotId,
    /// The snapshot.
    pub snapshot: Snapshot,
}

/// Stores a snapshot durably; returns its id.
#[tracing::instrument(name = "snapshot", skip_all, fields(files = s.summary.files, bytes = s.summary.total_bytes))]
pub fn save(backend: &dyn Backend, keys: &Keys, s: &Snapshot) -> Result<SnapshotId> {
    let json = serde_json::to_vec(s).map_err(|e| Error::Format(e.to_string()))?;
    let sealed = keys.seal(SNAPSHOT_AAD, &json);
    let id = Id::hash_of(&sealed);
    backend.put_atomic(FileKind::Snapshot, &id.to_hex(), &[&sealed])?;
    Ok(id)
}

/// Loads and checks one snapshot.
pub fn load(backend: &dyn Backend, keys: &Keys, id: &SnapshotId) -> Result<Snapshot> {
    let what = format!("snapshot {id}");
    let sealed = backend.get(FileKind::Snapshot, &id.to_hex())?;
    if Id::hash_of(&sealed) != *id {
        return Err(Error::integrity(&what, "content does not match its name"));
    }
    let json = keys.open(SNAPSHOT_AAD, &sealed, &what)?;
    serde_json::from_slice(&json).map_err(|e| Error::integrity(&what, e))
}

/// A damaged object: its name and why.
pub type Damaged = (String, String);

/// Loads every snapshot, oldest first. Damaged ones are returned separately.
pub fn list(backend: &dyn Backend, keys: &Keys) -> Result<(Vec<SnapshotInfo>, Vec<Damaged>)> {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for f in backend.list(FileKind::Snapshot)? {
        let id = match Id::from_hex(&f.name) {
            Ok(id) => id,
            Err(_) => continue,
        };
        match load(backend, keys, &id) {
            Ok(snapshot) => ok.push(SnapshotInfo { id, snapshot }),
            Err(Error::NotFound(_)) => {}
            Err(e) => bad.push((f.name, e.to_string())),
        }
    }
    ok.sort_by(|a, b| a.snapshot.time.cmp(&b.snapshot.time).then(a.id.cmp(&b.id)));
    Ok((ok, bad))
}
