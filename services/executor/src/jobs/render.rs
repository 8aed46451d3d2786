//! Rendering a tree snapshot as an export archive.
//!
//! The snapshot is restored into a scratch directory in the staging area,
//! and the archive is built from it in the snapshot's entry order, with the
//! snapshot's metadata. Everything that goes into the archive comes from the
//! snapshot (its time, its labels, its entries), so rendering the same
//! snapshot again gives the same bytes and the same checksum.
//!
//! Entries an archive cannot carry are left out with a warning: names that
//! are not UTF-8, and symlinks pointing outside the archive (an uploaded
//! archive with such a link would be rejected).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use vigil_proto::catalog::v1::Artifact;
use vigil_repository::{Entry, EntryKind, Repository, RestoreOptions, Snapshot, SnapshotId};

use super::{blocking, cancelled_or, labels, restore_control};
use crate::archive::manifest::check_symlink_member;
use crate::archive::writer::{ManifestHead, MemberMeta};
use crate::archive::{ArchiveBuilder, DatabaseInfo, MemberKind, RenderedArchive};
use crate::dburl::engine_name;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::state::Shared;

/// The engine a dump stream holds, from its name.
pub fn engine_of_stream(name: &str) -> Option<&'static str> {
    [
        vigil_proto::catalog::v1::DatabaseEngine::Postgres,
        vigil_proto::catalog::v1::DatabaseEngine::Mysql,
        vigil_proto::catalog::v1::DatabaseEngine::Sqlite,
    ]
    .into_iter()
    .find(|e| crate::engines::stream_name(*e) == name)
    .map(engine_name)
}

/// Renders snapshot `id` (whose artifact is `artifact`, for the table count)
/// into an archive in the staging directory. Returns it with the warnings.
pub async fn render_snapshot(
    shared: &Arc<Shared>,
    id: SnapshotId,
    artifact: &Artifact,
    cancel: Arc<AtomicBool>,
    progress: Arc<Progress>,
) -> Result<(RenderedArchive, Vec<String>)> {
    let repo = shared.repo.repository.clone();
    let staging = shared.staging.clone();
    let level = shared.opts.settings.archive_compression_level;
    let tables: u64 = artifact
        .labels
        .get(labels::DB_TABLES)
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    blocking(move || {
        let snap = repo.snapshot(&id)?;
        let entries = repo.snapshot_entries(&id)?;
        let scratch = tempfile::Builder::new()
            .prefix("render-")
            .tempdir_in(&staging)
            .map_err(|e| Error::io(&staging, e))?;
        if entries.iter().any(|e| e.kind == EntryKind::File) {
            restore_files(&repo, &id, scratch.path(), &cancel, &progress)?;
        }

        let mut warnings = Vec::new();
        let utf8 = |b: &[u8]| String::from_utf8(b.to_vec()).ok();
        let kinds_owned = member_kinds(&entries);
        let kinds: HashMap<&str, MemberKind> =
            kinds_owned.iter().map(|(p, k)| (p.as_str(), *k)).collect();

        let mut builder = ArchiveBuilder::new(&staging, level)?;
        let mut database = None;
        for e in &entries {
            if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let Some(path) = utf8(&e.path) else {
                warnings.push(format!(
                    "{}: left out of the archive: the name is not UTF-8",
                    e.path_lossy()
                ));
                continue;
            };
            let meta = MemberMeta {
                path: path.clone(),
                mode: e.mode,
                mtime: e.mtime,
                mtime_nsec: e.mtime_ns,
            };
            match e.kind {
                EntryKind::Dir => builder.add_dir(meta)?,
                EntryKind::Symlink => {
                    let target = utf8(&e.target).unwrap_or_default();
                    match check_symlink_member(&path, &target, &kinds) {
                        Ok(()) => builder.add_symlink(meta, target)?,
                        Err(why) => {
                            warnings.push(format!("/{path}: left out of the archive: {why}"))
                        }
                    }
                }
                EntryKind::File => add_file(&mut builder, meta, &scratch.path().join(&path))?,
                EntryKind::Stream => {
                    if let Some(db) = add_stream(&mut builder, meta, &repo, &id, tables)? {
                        database = Some(db);
                    }
                }
            }
        }
        let head = manifest_head(&snap, database);
        let rendered = builder.finish(head)?;
        Ok((rendered, warnings))
    })
    .await
}

/// Restores the snapshot's files into `scratch`, reporting progress; an
/// entry that cannot be read fails the render.
fn restore_files(
    repo: &Repository,
    id: &SnapshotId,
    scratch: &Path,
    cancel: &Arc<AtomicBool>,
    progress: &Arc<Progress>,
) -> Result<()> {
    let report = repo
        .restore(
            id,
            scratch,
            &RestoreOptions::default(),
            &restore_control(cancel, progress),
        )
        .map_err(|e| cancelled_or(cancel, e))?;
    if let Some(first) = report.errors.first() {
        return Err(Error::Repository(vigil_repository::Error::integrity(
            format!("snapshot {}", id.short()),
            format!(
                "{} entries unreadable, first {}: {}",
                report.errors.len(),
                first.path,
                first.message
            ),
        )));
    }
    Ok(())
}

/// The archive member kind of every entry with a UTF-8 name, by name.
fn member_kinds(entries: &[Entry]) -> Vec<(String, MemberKind)> {
    let utf8 = |b: &[u8]| String::from_utf8(b.to_vec()).ok();
    entries
        .iter()
        .filter_map(|e| {
            let kind = match e.kind {
                EntryKind::File => MemberKind::File,
                EntryKind::Dir => MemberKind::Dir,
                EntryKind::Symlink => MemberKind::Symlink,
                EntryKind::Stream => MemberKind::Stream,
            };
            utf8(&e.path).map(|p| (p, kind))
        })
        .collect()
}

/// The archive's manifest head, all from the snapshot, so that rendering it
/// again gives the same bytes.
fn manifest_head(snap: &Snapshot, database: Option<DatabaseInfo>) -> ManifestHead {
    ManifestHead {
        created: snap
            .time
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        configuration: snap
            .labels
            .get(labels::CONFIGURATION)
            .cloned()
            .unwrap_or_default(),
        backup_kind: snap
            .labels
            .get(labels::KIND)
            .map(|k| k.to_ascii_uppercase())
            .unwrap_or_default(),
        job: snap.labels.get(labels::JOB).cloned().unwrap_or_default(),
        source_paths: snap.paths.clone(),
        database,
    }
}

/// Adds a restored file from the scratch directory.
fn add_file(builder: &mut ArchiveBuilder, meta: MemberMeta, on_disk: &Path) -> Result<()> {
    let mut f = std::fs::File::open(on_disk).map_err(|e| Error::io(on_disk, e))?;
    builder.add_data(meta, None, |w| {
        std::io::copy(&mut f, w)
            .map(drop)
            .map_err(|e| Error::io(on_disk, e))
    })
}

/// Adds a stream straight from the repository; a database dump also
/// becomes the manifest's database entry, which is returned.
fn add_stream(
    builder: &mut ArchiveBuilder,
    meta: MemberMeta,
    repo: &Repository,
    id: &SnapshotId,
    tables: u64,
) -> Result<Option<DatabaseInfo>> {
    let path = meta.path.clone();
    let engine = engine_of_stream(&path);
    let database = engine.map(|engine| DatabaseInfo {
        engine: engine.into(),
        member: path.clone(),
        tables,
    });
    builder.add_data(meta, Some(engine.unwrap_or("none").to_owned()), |w| {
        repo.restore_entry(id, &path, w)
            .map(drop)
            .map_err(Error::from)
    })?;
    Ok(database)
}
