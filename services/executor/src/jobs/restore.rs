//! RESTORE: an artifact into a directory and/or a database (E4: never
//! outside the target, never over existing data without `overwrite`).
//!
//! Every refusal happens before anything is written: conflicting files in
//! the target directory, and a non-empty target database. A restored
//! database is checked: its tables are counted against the dump's.

use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use vigil_proto::catalog::v1::{Artifact, ArtifactState, JobStats, RestoreParams, job_params};
use vigil_repository::{Entry, EntryKind, Repository, RestoreOptions, SnapshotId};

use super::render::engine_of_stream;
use super::{JobCtx, Outcome, blocking, cancelled_or, labels, restore_control, snapshot_of};
use crate::archive::extract::{ExtractOptions, extract};
use crate::archive::{self, ArchiveReader, DatabaseInfo};
use crate::dburl::{DbUrl, engine_name};
use crate::dburl::{MyUrl, PgUrl};
use crate::engines::probe::{MyTools, PgTools};
use crate::engines::{DbSink, EngineCtx, mysql, postgres, sqlite};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// A database restore target, prepared (created, or emptied on overwrite).
#[derive(Clone)]
struct DbTarget {
    target: Prepared,
    ectx: EngineCtx,
}

/// A target database whose engine's tools this executor has: a missing tool
/// or a missing temporary file cannot be represented.
#[derive(Clone)]
enum Prepared {
    Postgres {
        tools: PgTools,
        url: PgUrl,
    },
    Mysql {
        tools: MyTools,
        url: MyUrl,
    },
    /// `tmp` is written, checked, then moved to `target`.
    Sqlite {
        target: PathBuf,
        tmp: PathBuf,
    },
}

/// Runs a RESTORE job.
pub async fn run(ctx: Arc<JobCtx>) -> Result<Outcome> {
    let params = match ctx.job.params.as_ref().and_then(|p| p.params.as_ref()) {
        Some(job_params::Params::Restore(r)) => r.clone(),
        _ => {
            return Err(Error::invalid(
                "params.restore",
                "is required for a RESTORE job",
            ));
        }
    };
    let artifact = get_artifact(&ctx, &params.artifact).await?;
    let policy = &ctx.shared.policy;
    let target_dir = match params.target_dir.as_str() {
        "" => None,
        d => Some(policy.restore_target("params.restore.target_dir", Path::new(d))?),
    };
    let db_url = match params.database_url.as_str() {
        "" => None,
        u => Some(DbUrl::parse("params.restore.database_url", u)?),
    };
    if let Some(DbUrl::Sqlite(path)) = &db_url {
        policy.restore_target("params.restore.database_url", path)?;
    }
    policy.secret(
        "params.restore.database_password",
        params.database_password.as_ref(),
    )?;
    if target_dir.is_none() && db_url.is_none() {
        return Err(Error::invalid(
            "params.restore",
            "needs target_dir, database_url or both",
        ));
    }
    let id = snapshot_of(&artifact.location)?;
    let repo = ctx.shared.repo.repository.clone();
    let snap = blocking({
        let repo = repo.clone();
        move || repo.snapshot(&id).map_err(Error::from)
    })
    .await?;
    let stored_archive =
        snap.labels.get(labels::FORMAT).map(String::as_str) == Some(labels::FORMAT_ARCHIVE);
    let password = Secret::resolve(
        "params.restore.database_password",
        params.database_password.as_ref(),
    )?;
    let ectx = EngineCtx {
        password,
        cancel: ctx.cancel.clone(),
        timeout: ctx.shared.opts.settings.tool_timeout,
        hidden_env: ctx.shared.policy.hidden_env(),
    };
    if stored_archive {
        restore_archive(&ctx, id, &params, target_dir, db_url, ectx).await
    } else {
        restore_snapshot(&ctx, id, &artifact, &params, target_dir, db_url, ectx).await
    }
}

async fn get_artifact(ctx: &JobCtx, id: &str) -> Result<Artifact> {
    let artifact = super::get_artifact(&ctx.shared, id).await?;
    super::check_repository(&ctx.shared, &artifact)?;
    match artifact.state() {
        ArtifactState::Pruned => Err(Error::FailedPrecondition(format!(
            "artifact: {id} was pruned"
        ))),
        ArtifactState::Damaged => {
            ctx.warn(format!(
                "artifact {id} is marked damaged; restoring what can be read"
            ));
            Ok(artifact)
        }
        _ => Ok(artifact),
    }
}

/// Checks the engine is here and prepares the target database.
async fn prepare_db(
    ctx: &JobCtx,
    url: DbUrl,
    ectx: EngineCtx,
    overwrite: bool,
) -> Result<DbTarget> {
    let engines = ctx.shared.engines.clone();
    let missing = Error::Unsupported(format!(
        "params.restore.database_url: the {} tools are not installed on this executor",
        engine_name(url.engine())
    ));
    ctx.progress.phase("preparing target database");
    blocking(move || {
        let target = match url {
            DbUrl::Postgres(url) => {
                let tools = engines.postgres.ok_or(missing)?;
                postgres::prepare_target(&tools, &url, overwrite, &ectx)?;
                Prepared::Postgres { tools, url }
            }
            DbUrl::Mysql(url) => {
                let tools = engines.mysql.ok_or(missing)?;
                mysql::prepare_target(&tools, &url, overwrite, &ectx)?;
                Prepared::Mysql { tools, url }
            }
            DbUrl::Sqlite(target) => {
                let tmp = sqlite::prepare_target(&target, overwrite)?;
                Prepared::Sqlite { target, tmp }
            }
        };
        Ok(DbTarget { target, ectx })
    })
    .await
}

impl DbTarget {
    /// Where the dump is written.
    fn sink(&self) -> Result<Box<dyn DbSink>> {
        Ok(match &self.target {
            Prepared::Postgres { tools, url } => {
                Box::new(postgres::restore(tools, url, &self.ectx)?)
            }
            Prepared::Mysql { tools, url } => Box::new(mysql::restore(tools, url, &self.ectx)?),
            Prepared::Sqlite { tmp, .. } => Box::new(FileSink(
                File::create_new(tmp).map_err(|e| Error::io(tmp, e))?,
            )),
        })
    }

    /// Checks the restored database against the dump's table count.
    async fn check(&self, expected: u64) -> Result<u64> {
        let found = match &self.target {
            Prepared::Sqlite { target, tmp } => {
                return sqlite::finish_restore(tmp, target, expected).await;
            }
            Prepared::Postgres { tools, url } => {
                let (t, u, e) = (tools.clone(), url.clone(), self.ectx.clone());
                blocking(move || postgres::count_tables(&t, &u, &e)).await?
            }
            Prepared::Mysql { tools, url } => {
                let (t, u, e) = (tools.clone(), url.clone(), self.ectx.clone());
                blocking(move || mysql::count_tables(&t, &u, &e)).await?
            }
        };
        if found < expected {
            return Err(Error::Check(format!(
                "the dump creates {expected} tables, the restored database has {found}"
            )));
        }
        Ok(found)
    }
}

/// A file as a [`DbSink`] (SQLite's restored copy).
struct FileSink(File);

impl std::io::Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl DbSink for FileSink {
    fn finish(self: Box<Self>) -> Result<()> {
        self.0
            .sync_all()
            .map_err(|e| Error::io("restored sqlite file", e))
    }
    fn abandon(self: Box<Self>, cause: Error) -> Error {
        cause
    }
}

/// Streams `read` into the target database; maps a broken pipe to the tool's error.
fn feed(
    target: &DbTarget,
    read: impl FnOnce(&mut dyn std::io::Write) -> Result<u64>,
) -> Result<u64> {
    let mut sink = target.sink()?;
    match read(&mut sink) {
        Ok(n) => sink.finish().map(|()| n),
        Err(e) => Err(sink.abandon(e)),
    }
}

/// Refuses, before anything is written, when a selected non-directory
/// entry already exists in the target and `overwrite` is not set.
fn preflight(target: &Path, entries: &[&Entry], overwrite: bool) -> Result<()> {
    if overwrite {
        return Ok(());
    }
    for e in entries.iter().filter(|e| e.kind != EntryKind::Dir) {
        let dest = target.join(std::ffi::OsStr::from_bytes(&e.path));
        if std::fs::symlink_metadata(&dest).is_ok() {
            return Err(Error::FailedPrecondition(format!(
                "target_dir: {} already exists; set overwrite to replace it",
                dest.display()
            )));
        }
    }
    Ok(())
}

/// A restore of paths that are not in the snapshot fails before anything is
/// written, naming the first missing path (NOT_FOUND), rather than ending
/// COMPLETED with nothing restored.
fn check_paths_exist(entries: &[Entry], paths: &[String], artifact: &str) -> Result<()> {
    for p in paths {
        let one = std::slice::from_ref(p);
        if !entries.iter().any(|e| selected(e, one)) {
            return Err(Error::NotFound {
                what: format!("params.restore.paths: {p} in artifact {artifact}"),
            });
        }
    }
    Ok(())
}

fn selected(e: &Entry, paths: &[String]) -> bool {
    paths.is_empty()
        || paths.iter().any(|p| {
            let p = p.trim_matches('/').as_bytes();
            e.path == p || (e.path.starts_with(p) && e.path.get(p.len()) == Some(&b'/'))
        })
}

#[allow(clippy::too_many_arguments)]
async fn restore_snapshot(
    ctx: &Arc<JobCtx>,
    id: SnapshotId,
    artifact: &Artifact,
    params: &RestoreParams,
    target_dir: Option<PathBuf>,
    db_url: Option<DbUrl>,
    ectx: EngineCtx,
) -> Result<Outcome> {
    let repo = ctx.shared.repo.repository.clone();
    let entries = blocking({
        let repo = repo.clone();
        move || repo.snapshot_entries(&id).map_err(Error::from)
    })
    .await?;
    let dump = entries
        .iter()
        .find(|e| e.kind == EntryKind::Stream && engine_of_stream(&e.path_lossy()).is_some());
    let dump_name = dump.map(|e| e.path_lossy());
    if let Some(url) = &db_url {
        check_dump_engine(dump_name.as_deref(), url)?;
    }
    check_paths_exist(&entries, &params.paths, &params.artifact)?;
    let chosen: Vec<&Entry> = entries
        .iter()
        .filter(|e| selected(e, &params.paths))
        .filter(|e| e.kind != EntryKind::Stream || db_url.is_none())
        .collect();
    if let Some(dir) = &target_dir {
        preflight(dir, &chosen, params.overwrite)?;
    }
    let db = match db_url {
        Some(url) => Some(prepare_db(ctx, url, ectx, params.overwrite).await?),
        None => None,
    };
    let mut stats = JobStats::default();
    if let Some(dir) = target_dir.clone() {
        restore_files(ctx, &repo, id, dir, &chosen, params, &mut stats).await?;
    }
    if let (Some(db), Some(name)) = (&db, dump_name) {
        stats.bytes_read += restore_database(ctx, &repo, id, db, name, artifact).await?;
    }
    Ok(Outcome {
        stats,
        artifact: None,
    })
}

/// A database restore needs a dump of the same engine in the artifact.
fn check_dump_engine(dump_name: Option<&str>, url: &DbUrl) -> Result<()> {
    let held = dump_name.and_then(engine_of_stream);
    match held {
        None => {
            return Err(Error::invalid(
                "params.restore.database_url",
                "the artifact holds no database dump",
            ));
        }
        Some(h) if h != engine_name(url.engine()) => {
            return Err(Error::invalid(
                "params.restore.database_url",
                format!(
                    "the artifact holds a {h} dump, not {}",
                    engine_name(url.engine())
                ),
            ));
        }
        Some(_) => {}
    }
    Ok(())
}

/// Restores the chosen entries into `dir`, streams as files beside them, and
/// records the figures in `stats`. Entries that cannot be restored fail the
/// job, naming them; the others stay restored.
async fn restore_files(
    ctx: &Arc<JobCtx>,
    repo: &Repository,
    id: SnapshotId,
    dir: PathBuf,
    chosen: &[&Entry],
    params: &RestoreParams,
    stats: &mut JobStats,
) -> Result<()> {
    ctx.progress.phase("restoring files");
    let total: u64 = chosen
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| e.size)
        .sum();
    let files = chosen.iter().filter(|e| e.kind == EntryKind::File).count() as u64;
    ctx.progress.totals(total, files);
    let streams: Vec<String> = chosen
        .iter()
        .filter(|e| e.kind == EntryKind::Stream)
        .map(|e| e.path_lossy())
        .collect();
    let (repo, cancel, progress) = (repo.clone(), ctx.cancel.clone(), ctx.progress.clone());
    let opts = RestoreOptions {
        paths: params
            .paths
            .iter()
            .map(|p| PathBuf::from(format!("/{}", p.trim_start_matches('/'))))
            .collect(),
        overwrite: params.overwrite,
        threads: None,
    };
    let report = blocking(move || {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let ctl = restore_control(&cancel, &progress);
        let report = repo
            .restore(&id, &dir, &opts, &ctl)
            .map_err(|e| cancelled_or(&cancel, e))?;
        let mut bytes = report.bytes;
        for name in &streams {
            bytes += write_stream_file(&repo, &id, name, &dir, opts.overwrite, &cancel)?;
        }
        Ok((report, bytes))
    })
    .await?;
    let (report, bytes) = report;
    stats.files = report.files;
    stats.bytes_read = bytes;
    if !report.errors.is_empty() {
        let names: Vec<String> = report
            .errors
            .iter()
            .take(5)
            .map(|e| format!("/{}: {}", e.path, e.message))
            .collect();
        stats.errors_found = report.errors.len() as u64;
        ctx.set_fail_stats(*stats);
        return Err(Error::Repository(vigil_repository::Error::integrity(
            format!("{} of the restored entries", report.errors.len()),
            format!(
                "could not be restored ({}); the other entries were restored",
                names.join("; ")
            ),
        )));
    }
    Ok(())
}

/// Feeds the dump into the prepared database, then checks that it holds
/// the tables the backup counted. Returns the bytes written.
async fn restore_database(
    ctx: &Arc<JobCtx>,
    repo: &Repository,
    id: SnapshotId,
    db: &DbTarget,
    name: String,
    artifact: &Artifact,
) -> Result<u64> {
    ctx.progress.phase("restoring database");
    let expected: u64 = artifact
        .labels
        .get(labels::DB_TABLES)
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let (repo, cancel, progress) = (repo.clone(), ctx.cancel.clone(), ctx.progress.clone());
    let db_ref = db.clone();
    let written = blocking(move || {
        feed(&db_ref, |w| {
            let mut counting = Counting {
                inner: w,
                progress: &progress,
                cancel: &cancel,
            };
            repo.restore_entry(&id, &name, &mut counting)
                .map_err(|e| cancelled_or(&cancel, e))
        })
    })
    .await?;
    ctx.progress.phase("checking restored database");
    let tables = db.check(expected).await?;
    tracing::info!(job = %ctx.job.id, bytes = written, tables, "database restored and checked");
    Ok(written)
}

/// Writes a dump stream into the target directory under its stream name.
fn write_stream_file(
    repo: &Repository,
    id: &SnapshotId,
    name: &str,
    dir: &Path,
    overwrite: bool,
    cancel: &AtomicBool,
) -> Result<u64> {
    let dest = dir.join(name);
    let tmp = dir.join(format!(".vigil-tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut f = File::create_new(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let n = repo.restore_entry(id, name, &mut f).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        cancelled_or(cancel, e)
    })?;
    if !overwrite && std::fs::symlink_metadata(&dest).is_ok() {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::FailedPrecondition(format!(
            "target_dir: {} already exists; set overwrite to replace it",
            dest.display()
        )));
    }
    std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
    Ok(n)
}

/// Counts bytes into the progress and stops on cancel.
struct Counting<'a> {
    inner: &'a mut dyn std::io::Write,
    progress: &'a crate::progress::Progress,
    cancel: &'a AtomicBool,
}

impl std::io::Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "cancelled",
            ));
        }
        let n = self.inner.write(buf)?;
        self.progress.add_bytes(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A database restore needs an archive holding a dump of the same engine.
fn check_archive_engine(database: Option<&DatabaseInfo>, url: &DbUrl) -> Result<()> {
    match database {
        None => {
            return Err(Error::invalid(
                "params.restore.database_url",
                "the archive holds no database dump",
            ));
        }
        Some(d) if d.engine != engine_name(url.engine()) => {
            return Err(Error::invalid(
                "params.restore.database_url",
                format!(
                    "the archive holds a {} dump, not {}",
                    d.engine,
                    engine_name(url.engine())
                ),
            ));
        }
        Some(_) => {}
    }
    Ok(())
}

async fn restore_archive(
    ctx: &Arc<JobCtx>,
    id: SnapshotId,
    params: &RestoreParams,
    target_dir: Option<PathBuf>,
    db_url: Option<DbUrl>,
    ectx: EngineCtx,
) -> Result<Outcome> {
    ctx.progress.phase("reading archive");
    let staged = stage_archive(ctx, id).await?;
    ctx.progress.phase("checking archive");
    let manifest = {
        let path = staged.to_path_buf();
        blocking(move || {
            archive::validate(std::io::BufReader::new(
                File::open(&path).map_err(|e| Error::io(&path, e))?,
            ))
        })
        .await?
    };
    if let Some(url) = &db_url {
        check_archive_engine(manifest.database.as_ref(), url)?;
    }
    let db = match db_url {
        Some(url) => Some(prepare_db(ctx, url, ectx, params.overwrite).await?),
        None => None,
    };
    let expected = manifest.database.as_ref().map(|d| d.tables).unwrap_or(0);
    let db_member = manifest.database.as_ref().map(|d| d.member.clone());
    ctx.progress.phase("restoring");
    ctx.progress
        .totals(manifest.content_bytes(), manifest.file_count());
    let (cancel, progress) = (ctx.cancel.clone(), ctx.progress.clone());
    let db_copy = db.clone();
    let opts = ExtractOptions {
        overwrite: params.overwrite,
        streams_as_files: db_copy.is_none(),
        paths: params.paths.clone(),
    };
    let path = staged.to_path_buf();
    let stats = blocking(move || {
        let reader = ArchiveReader::open(std::io::BufReader::new(
            File::open(&path).map_err(|e| Error::io(&path, e))?,
        ))?;
        let mut on_stream = |m: &archive::Member, r: &mut dyn Read| -> Result<()> {
            match (&db_copy, &db_member) {
                (Some(db), Some(member)) if *member == m.path => feed(db, |w| {
                    std::io::copy(r, w).map_err(|e| Error::io("database dump", e))
                })
                .map(drop),
                _ => Ok(()),
            }
        };
        let on_progress = |bytes: u64, files: u64| progress.set(bytes, files);
        match &target_dir {
            Some(dir) => extract(reader, dir, &opts, &mut on_stream, &on_progress, &cancel),
            None => reader
                .for_each(|m, r| match r {
                    Some(r) if m.kind == archive::MemberKind::Stream => on_stream(m, r),
                    _ => Ok(()),
                })
                .map(|()| Default::default()),
        }
    })
    .await?;
    if let Some(db) = &db {
        ctx.progress.phase("checking restored database");
        db.check(expected).await?;
    }
    Ok(Outcome {
        stats: JobStats {
            files: stats.files,
            bytes_read: stats.bytes,
            ..Default::default()
        },
        artifact: None,
    })
}

/// Streams the stored archive of snapshot `id` into a staging file.
pub async fn stage_archive(ctx: &JobCtx, id: SnapshotId) -> Result<tempfile::TempPath> {
    let repo = ctx.shared.repo.repository.clone();
    let staging = ctx.shared.staging.clone();
    let (cancel, progress) = (ctx.cancel.clone(), ctx.progress.clone());
    blocking(move || {
        let tmp = tempfile::Builder::new()
            .prefix("archive-")
            .tempfile_in(&staging)
            .map_err(|e| Error::io(&staging, e))?;
        let (mut file, path) = tmp.into_parts();
        let mut counting = Counting {
            inner: &mut file,
            progress: &progress,
            cancel: &cancel,
        };
        repo.restore_entry(&id, labels::ARCHIVE_STREAM, &mut counting)
            .map_err(|e| cancelled_or(&cancel, e))?;
        Ok(path)
    })
    .await
}
