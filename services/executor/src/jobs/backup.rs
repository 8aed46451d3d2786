//! BACKUP: FULL (database and file trees in one snapshot), DATABASE (the
//! dump alone) and EXPORT (a snapshot from which the portable archive is
//! rendered; see `docs/EXPORT-FORMAT.md`).
//!
//! The dump streams from the tool's stdout into the repository. The
//! repository writes data, then index, then snapshot (E1); the snapshot's
//! tree is read back before the job reports the artifact to the catalog,
//! which is the last step.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::Instrument as _;
use vigil_proto::catalog::v1::{
    Artifact, ArtifactFormat, ArtifactState, BackupConfiguration, BackupKind, DatabaseSource,
    JobStats, Source,
};
use vigil_repository::{BackupOptions, BackupStats, Control, ScanTotals, SnapshotId, StreamSource};

use super::{JobCtx, Outcome, blocking, labels, render};
use crate::dburl::{DbUrl, engine_name};
use crate::engines::{self, EngineCtx, mysql, postgres, sqlite};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// A dump's engine, its table count, the tool's own failure, and SQLite's
/// copy (removed when dropped).
type DumpMeta = (
    &'static str,
    Arc<AtomicU64>,
    Arc<Mutex<Option<Error>>>,
    Option<sqlite::Copy>,
);

/// A dump being taken.
struct DumpSource {
    engine: &'static str,
    stream: StreamSource,
    tables: Arc<AtomicU64>,
    failure: Arc<Mutex<Option<Error>>>,
    /// SQLite's copy, removed once stored.
    _copy: Option<sqlite::Copy>,
}

/// Runs a BACKUP job.
pub async fn run(ctx: Arc<JobCtx>) -> Result<super::Outcome> {
    let config = ctx.config()?.clone();
    let Sources {
        kind,
        source,
        database,
        paths,
    } = sources(&ctx, &config)?;

    let scanned = scan_totals(&ctx, &paths, &source).await?;
    let previous = previous_totals(&ctx, &config.name).await;
    let dump = match &database {
        Some(db) => Some(start_dump(&ctx, db).await?),
        None => None,
    };
    ctx.progress.phase(if paths.is_empty() {
        "dumping database"
    } else {
        "backing up"
    });
    if let Some((bytes, files)) = expected_totals(scanned, previous, dump.is_some()) {
        ctx.progress.totals(bytes, files);
    }
    let opts = BackupOptions {
        paths,
        include: source.include.clone(),
        exclude: source.exclude.clone(),
        labels: snapshot_labels(&ctx, &config.name, kind),
        ..Default::default()
    };
    let progress = ctx.progress.clone();
    let ctl = Control {
        cancel: Some(ctx.cancel.clone()),
        // Files the files cache vouches for count as done without being read.
        progress: Some(Arc::new(move |p: &vigil_repository::Progress| {
            progress.set(p.bytes_read + p.bytes_unchanged, p.files_done)
        })),
    };
    let (stream, dump_meta) = match dump {
        Some(d) => (
            Some(d.stream),
            Some((d.engine, d.tables, d.failure, d._copy)),
        ),
        None => (None, None),
    };
    let repo = ctx.shared.repo.repository.clone();
    // The repository's phase spans (scan, read_and_chunk, dump, upload,
    // index, snapshot) are children of the job's span.
    let span = tracing::Span::current();
    let outcome = blocking(move || {
        let _entered = span.enter();
        Ok(repo.backup(&opts, stream.into_iter().collect(), &ctl))
    })
    .await?;
    let result =
        outcome.map_err(|e| dump_failure(dump_meta.as_ref()).unwrap_or_else(|| ctx.repo_err(e)))?;
    for w in &result.warnings {
        ctx.file_skipped(&w.path, &w.message);
    }

    let id = result.snapshot_id;
    read_back(&ctx, id).await?;

    let s = &result.stats;
    let mut artifact = artifact_of(&ctx, &config, kind, id, s, dump_meta.as_ref());
    if kind == BackupKind::Export {
        render_export(&ctx, id, &mut artifact).await?;
    }
    ctx.progress.phase("recording artifact");
    Ok(Outcome {
        stats: job_stats(s),
        artifact: Some(artifact),
    })
}

/// Reads the new snapshot's tree back before the artifact is recorded, so
/// that an artifact always names a snapshot that can be read.
async fn read_back(ctx: &JobCtx, id: SnapshotId) -> Result<()> {
    ctx.progress.phase("reading back");
    let repo = ctx.shared.repo.repository.clone();
    let entries = blocking(move || repo.snapshot_entries(&id).map_err(Error::from))
        .instrument(tracing::info_span!("read_back", snapshot = %id))
        .await?;
    tracing::debug!(snapshot = %id, entries = entries.len(), "snapshot tree read back");
    Ok(())
}

/// The dump tool's own (scrubbed) error, which says more than the
/// repository's wrapping of it.
fn dump_failure(dump_meta: Option<&DumpMeta>) -> Option<Error> {
    dump_meta.and_then(|(_, _, f, _)| f.lock().ok().and_then(|mut f| f.take()))
}

/// What a backup reads, checked against its kind and the executor's policy.
struct Sources {
    kind: BackupKind,
    source: Source,
    database: Option<DatabaseSource>,
    /// The paths to read, each inside the executor's `source_roots`.
    paths: Vec<PathBuf>,
}

/// The job's backup kind (the configuration's unless the job says), and the
/// sources that kind reads.
fn sources(ctx: &JobCtx, config: &BackupConfiguration) -> Result<Sources> {
    let kind = match BackupKind::try_from(ctx.job.backup_kind) {
        Ok(BackupKind::Unspecified) | Err(_) => config.kind(),
        Ok(k) => k,
    };
    if kind == BackupKind::Unspecified {
        return Err(Error::invalid(
            "kind",
            "the configuration has no backup kind",
        ));
    }
    let source = config.source.clone().unwrap_or_default();
    let database = source
        .database
        .clone()
        .filter(|d| d.engine != 0 || !d.url.is_empty());
    if kind == BackupKind::Database && database.is_none() {
        return Err(Error::invalid(
            "source.database",
            "is required for a DATABASE backup",
        ));
    }
    let paths: Vec<PathBuf> = if kind == BackupKind::Database {
        Vec::new()
    } else {
        source
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| {
                ctx.shared
                    .policy
                    .source(&format!("source.paths[{i}]"), Path::new(p))
            })
            .collect::<Result<_>>()?
    };
    if paths.is_empty() && database.is_none() {
        return Err(Error::invalid(
            "source",
            "names neither a database nor paths",
        ));
    }
    Ok(Sources {
        kind,
        source,
        database,
        paths,
    })
}

/// Counts the files and bytes the backup will read, for its progress total.
async fn scan_totals(
    ctx: &JobCtx,
    paths: &[PathBuf],
    source: &Source,
) -> Result<Option<ScanTotals>> {
    if paths.is_empty() {
        return Ok(None);
    }
    ctx.progress.phase("scanning");
    let (roots, include, exclude, cancel) = (
        paths.to_vec(),
        source.include.clone(),
        source.exclude.clone(),
        ctx.cancel.clone(),
    );
    let scan = blocking(move || {
        Ok(vigil_repository::scan_sources(
            &roots,
            &include,
            &exclude,
            Some(&cancel),
        ))
    })
    .await?;
    Ok(Some(scan.map_err(|e| ctx.repo_err(e))?))
}

/// The labels of the snapshot a backup writes.
fn snapshot_labels(
    ctx: &JobCtx,
    configuration: &str,
    kind: BackupKind,
) -> BTreeMap<String, String> {
    let mut snapshot_labels = BTreeMap::new();
    snapshot_labels.insert(labels::CONFIGURATION.to_owned(), configuration.to_owned());
    snapshot_labels.insert(labels::JOB.to_owned(), ctx.job.id.clone());
    snapshot_labels.insert(labels::KIND.to_owned(), kind_label(kind).to_owned());
    snapshot_labels.insert(
        labels::FORMAT.to_owned(),
        labels::FORMAT_SNAPSHOT.to_owned(),
    );
    snapshot_labels
}

/// The artifact a backup records: its snapshot, figures and labels (the
/// configuration's, the repository's and the dump's).
fn artifact_of(
    ctx: &JobCtx,
    config: &BackupConfiguration,
    kind: BackupKind,
    id: SnapshotId,
    s: &BackupStats,
    dump_meta: Option<&DumpMeta>,
) -> Artifact {
    let mut artifact_labels: HashMap<String, String> = config
        .labels
        .iter()
        .take(48)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    artifact_labels.insert(
        labels::REPOSITORY.into(),
        ctx.shared.repo.repository.id().to_owned(),
    );
    if let Some((engine, tables, _, _)) = dump_meta {
        artifact_labels.insert(labels::DB_ENGINE.into(), (*engine).into());
        artifact_labels.insert(
            labels::DB_TABLES.into(),
            tables.load(Ordering::Relaxed).to_string(),
        );
        artifact_labels.insert(labels::DB_STREAM.into(), stream_of(engine).into());
    }
    Artifact {
        configuration: config.name.clone(),
        backup_kind: kind as i32,
        format: ArtifactFormat::Snapshot as i32,
        location: id.to_hex(),
        size_bytes: s.total_bytes,
        stored_bytes: s.stored_bytes_added,
        file_count: s.files,
        checksum: format!("blake3:{}", id.to_hex()),
        state: ArtifactState::Available as i32,
        labels: artifact_labels,
        ..Default::default()
    }
}

/// Renders an EXPORT's snapshot as its archive, which the artifact then
/// describes.
async fn render_export(ctx: &Arc<JobCtx>, id: SnapshotId, artifact: &mut Artifact) -> Result<()> {
    ctx.progress.phase("rendering export archive");
    let (rendered, warnings) = render::render_snapshot(
        &ctx.shared,
        id,
        artifact,
        ctx.cancel.clone(),
        ctx.progress.clone(),
    )
    .instrument(tracing::info_span!("render_export"))
    .await?;
    for w in warnings {
        ctx.warn(w);
    }
    artifact.format = ArtifactFormat::Archive as i32;
    artifact.checksum = rendered.checksum.clone();
    artifact
        .labels
        .insert(labels::ARCHIVE_SIZE.into(), rendered.size.to_string());
    Ok(())
}

/// A backup's figures as the job records them.
fn job_stats(s: &BackupStats) -> JobStats {
    JobStats {
        files: s.files,
        bytes_read: s.bytes_read,
        bytes_new: s.bytes_new,
        stored_bytes_added: s.stored_bytes_added,
        chunks_new: s.chunks_new,
        chunks_reused: s.chunks_reused,
        duration: Some(vigil_proto::duration_to_proto(s.duration)),
        ..Default::default()
    }
}

/// The size and file count of the configuration's newest artifact, if any.
async fn previous_totals(ctx: &JobCtx, configuration: &str) -> Option<(u64, u64)> {
    match super::verify::list_artifacts(ctx, configuration).await {
        Ok(list) => list
            .iter()
            .filter(|a| !a.labels.contains_key(labels::ARCHIVE_FILE))
            .max_by_key(|a| a.create_time.as_ref().map(vigil_proto::timestamp_to_micros))
            .map(|a| (a.size_bytes, a.file_count)),
        Err(e) => {
            tracing::debug!(error = %e, "no previous artifact size for the ETA");
            None
        }
    }
}

/// The bytes and files a backup expects to go through, so heartbeats carry
/// a percentage and an ETA: the scan's figures for file trees (a database
/// dump's size is not known beforehand, so with one the previous snapshot's
/// size is taken when it is larger), else the previous artifact's.
fn expected_totals(
    scanned: Option<vigil_repository::ScanTotals>,
    previous: Option<(u64, u64)>,
    with_dump: bool,
) -> Option<(u64, u64)> {
    match (scanned, previous) {
        (Some(scan), Some((bytes, _))) if with_dump => Some((scan.bytes.max(bytes), scan.files)),
        (Some(scan), _) => Some((scan.bytes, scan.files)),
        (None, previous) => previous,
    }
}

fn kind_label(kind: BackupKind) -> &'static str {
    match kind {
        BackupKind::Full => "full",
        BackupKind::Database => "database",
        BackupKind::Export => "export",
        BackupKind::Unspecified => "unspecified",
    }
}

fn stream_of(engine: &str) -> &'static str {
    crate::dburl::engine_from_name(engine)
        .map(engines::stream_name)
        .unwrap_or("db.dump")
}

async fn start_dump(ctx: &JobCtx, db: &DatabaseSource) -> Result<DumpSource> {
    let engine = db.engine();
    let url = DbUrl::parse("source.database.url", &db.url)?;
    if engine != url.engine() {
        return Err(Error::invalid(
            "source.database.url",
            format!(
                "is a {} URL but the engine is {}",
                engine_name(url.engine()),
                engine_name(engine)
            ),
        ));
    }
    let shared = &ctx.shared;
    if !shared.engines.supports(engine) {
        return Err(Error::Unsupported(format!(
            "source.database.engine: the {} tools are not installed on this executor",
            engine_name(engine)
        )));
    }
    if let DbUrl::Sqlite(path) = &url {
        shared.policy.source("source.database.url", path)?;
    }
    shared
        .policy
        .secret("source.database.password", db.password.as_ref())?;
    let password = Secret::resolve("source.database.password", db.password.as_ref())?;
    let ectx = EngineCtx {
        password,
        cancel: ctx.cancel.clone(),
        timeout: shared.opts.settings.tool_timeout,
        hidden_env: shared.policy.hidden_env(),
    };
    let name = engines::stream_name(engine).to_owned();
    let (reader, tables, failure, copy): (Box<dyn std::io::Read + Send>, _, _, _) = match &url {
        DbUrl::Postgres(u) => {
            let tools = shared
                .engines
                .postgres
                .as_ref()
                .ok_or_else(|| Error::Internal("postgres tools".into()))?;
            let d = postgres::dump(tools, u, &ectx)?;
            (Box::new(d.reader), d.tables, d.failure, None)
        }
        DbUrl::Mysql(u) => {
            let tools = shared
                .engines
                .mysql
                .as_ref()
                .ok_or_else(|| Error::Internal("mysql tools".into()))?;
            let d = mysql::dump(tools, u, &ectx)?;
            (Box::new(d.reader), d.tables, d.failure, None)
        }
        DbUrl::Sqlite(path) => {
            ctx.progress.phase("copying sqlite database");
            let copy = sqlite::copy_for_backup(path, &shared.staging).await?;
            let file = std::fs::File::open(&copy.path).map_err(|e| Error::io(&copy.path, e))?;
            let tables = Arc::new(AtomicU64::new(copy.tables));
            (
                Box::new(file),
                tables,
                Arc::new(Mutex::new(None)),
                Some(copy),
            )
        }
    };
    Ok(DumpSource {
        engine: engine_name(engine),
        stream: StreamSource { name, reader },
        tables,
        failure,
        _copy: copy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_repository::ScanTotals;

    #[test]
    fn a_scan_gives_the_totals_and_a_dump_takes_the_previous_size_when_larger() {
        let scan = ScanTotals {
            files: 12,
            bytes: 5_000,
        };
        assert_eq!(expected_totals(Some(scan), None, false), Some((5_000, 12)));
        assert_eq!(
            expected_totals(Some(scan), Some((1_000, 3)), false),
            Some((5_000, 12)),
            "the scan sees the tree as it is now"
        );
        assert_eq!(
            expected_totals(Some(scan), Some((90_000, 13)), true),
            Some((90_000, 12))
        );
        assert_eq!(expected_totals(None, Some((700, 1)), true), Some((700, 1)));
        assert_eq!(expected_totals(None, None, true), None);
    }
}
