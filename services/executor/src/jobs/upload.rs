//! UPLOAD: an archive received by `UploadArchive` is staged in the
//! repository (one stream in a snapshot labelled as a staged upload, so any
//! executor sharing the repository can run the job), then read back in full
//! and checked (header, manifest hash, every member's size and hash, paths,
//! symlinks, trailer). A good archive is recorded under a snapshot of its
//! own that reuses the staged data as it is, so a download gives back the
//! very bytes that were uploaded; the staged snapshot is then forgotten.
//! Staged uploads whose job never finished are forgotten by the next prune
//! once older than `orphan_grace`. Retention never touches uploads.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufReader, Read};
use std::sync::Arc;
use std::time::Duration;

use vigil_proto::catalog::v1::{
    Artifact, ArtifactFormat, ArtifactState, BackupKind, JobStats, UploadParams, job_params,
};
use vigil_repository::{BackupOptions, Control, Repository, SnapshotId, StreamSource};

use super::{JobCtx, Outcome, blocking, labels};
use crate::archive::{self, Manifest};
use crate::error::{Error, Result};
use crate::pipe::{PipeWriter, pipe};

/// Stores the archive `reader` yields as a staged upload in `repo`; returns
/// the staged snapshot and the bytes read. Runs on a blocking thread.
pub fn stage(repo: &Repository, reader: Box<dyn Read + Send>) -> Result<(SnapshotId, u64)> {
    let opts = BackupOptions {
        labels: BTreeMap::from([
            (labels::FORMAT.to_owned(), labels::FORMAT_ARCHIVE.to_owned()),
            (
                labels::KIND.to_owned(),
                labels::KIND_STAGED_UPLOAD.to_owned(),
            ),
        ]),
        ..Default::default()
    };
    let stream = StreamSource {
        name: labels::ARCHIVE_STREAM.to_owned(),
        reader,
    };
    let result = repo.backup(&opts, vec![stream], &Control::default())?;
    Ok((result.snapshot_id, result.stats.bytes_read))
}

/// The staged upload an UPLOAD job names, checked to be one.
pub fn staged_snapshot(repo: &Repository, params: &UploadParams) -> Result<SnapshotId> {
    let not_staged = || {
        Error::invalid(
            "params.upload.staging_path",
            "is not an upload staged in this executor's repository",
        )
    };
    let id = SnapshotId::from_hex(&params.staging_path).map_err(|_| not_staged())?;
    let snapshot = repo.snapshot(&id).map_err(|e| match e {
        vigil_repository::Error::NotFound(_) => Error::FailedPrecondition(
            "params.upload.staging_path: the staged upload is gone".into(),
        ),
        e => Error::from(e),
    })?;
    if snapshot.labels.get(labels::KIND).map(String::as_str) != Some(labels::KIND_STAGED_UPLOAD) {
        return Err(not_staged());
    }
    Ok(id)
}

/// The archive stream of snapshot `id`, read from the repository by a
/// thread of its own through a bounded pipe. Dropping the reader stops it.
pub fn read_archive(repo: Repository, id: SnapshotId) -> impl Read + Send {
    let (tx, reader) = pipe(8);
    std::thread::spawn(move || {
        let mut w = PipeWriter::new(tx);
        match repo.restore_entry(&id, labels::ARCHIVE_STREAM, &mut w) {
            Ok(_) => drop(w),
            Err(e) => w.fail(io::Error::other(e.to_string())),
        }
    });
    BufReader::with_capacity(1 << 20, reader)
}

/// Forgets staged uploads older than `grace`: their upload was abandoned
/// (the executor that staged one stopped before its job ran, or its job
/// failed). Returns how many. Runs on a blocking thread.
pub fn forget_abandoned(repo: &Repository, grace: Duration) -> Result<usize> {
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
    let abandoned: Vec<SnapshotId> = repo
        .list_snapshots()?
        .into_iter()
        .filter(|s| {
            s.snapshot.labels.get(labels::KIND).map(String::as_str)
                == Some(labels::KIND_STAGED_UPLOAD)
                && s.snapshot.time < cutoff
        })
        .map(|s| s.id)
        .collect();
    if !abandoned.is_empty() {
        repo.forget_snapshots(&abandoned)?;
    }
    Ok(abandoned.len())
}

/// The backup kind a manifest names.
pub fn kind_of(manifest: &Manifest) -> BackupKind {
    match manifest.backup_kind.as_str() {
        "FULL" => BackupKind::Full,
        "DATABASE" => BackupKind::Database,
        _ => BackupKind::Export,
    }
}

struct Hashing<R> {
    inner: R,
    hasher: blake3::Hasher,
    count: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Checks an archive in full; returns its manifest, size and checksum.
pub fn check_archive(reader: impl Read) -> Result<(Manifest, u64, String)> {
    let mut hashing = Hashing {
        inner: reader,
        hasher: blake3::Hasher::new(),
        count: 0,
    };
    let manifest = archive::validate(&mut hashing)?;
    Ok((
        manifest,
        hashing.count,
        archive::checksum_text(&hashing.hasher.finalize()),
    ))
}

/// Runs an UPLOAD job.
pub async fn run(ctx: Arc<JobCtx>) -> Result<Outcome> {
    let params = match ctx.job.params.as_ref().and_then(|p| p.params.as_ref()) {
        Some(job_params::Params::Upload(u)) => u.clone(),
        _ => {
            return Err(Error::invalid(
                "params.upload",
                "is required for an UPLOAD job",
            ));
        }
    };
    let repo = ctx.shared.repo.repository.clone();
    let staged = {
        let params = params.clone();
        blocking(move || staged_snapshot(&repo, &params)).await?
    };
    let outcome = store(&ctx, &params, staged).await;
    // A retryable failure keeps the staged upload for the next attempt.
    if outcome.as_ref().err().is_none_or(|e| !e.retryable()) {
        let repo = ctx.shared.repo.repository.clone();
        let forgotten = blocking(move || repo.forget_snapshots(&[staged]).map_err(Error::from));
        if let Err(e) = forgotten.await {
            // The next prune forgets it once it is older than orphan_grace.
            tracing::info!(snapshot = %staged.short(), error = %e, "staged upload kept for now");
        }
    }
    outcome
}

/// The labels of the snapshot an upload is recorded as.
fn snapshot_labels(ctx: &JobCtx) -> BTreeMap<String, String> {
    let mut snap_labels = BTreeMap::new();
    snap_labels.insert(labels::FORMAT.to_owned(), labels::FORMAT_ARCHIVE.to_owned());
    snap_labels.insert(labels::KIND.to_owned(), "upload".to_owned());
    snap_labels.insert(labels::JOB.to_owned(), ctx.job.id.clone());
    snap_labels.insert(
        labels::UPLOAD_CONFIGURATION.to_owned(),
        ctx.job.configuration.clone(),
    );
    snap_labels
}

/// The labels of an uploaded archive's artifact: its repository, size and
/// file name, and the database dump it holds, if any.
fn artifact_labels(
    ctx: &JobCtx,
    params: &UploadParams,
    manifest: &Manifest,
    size: u64,
) -> HashMap<String, String> {
    let mut artifact_labels = HashMap::from([
        (
            labels::REPOSITORY.to_owned(),
            ctx.shared.repo.repository.id().to_owned(),
        ),
        (labels::ARCHIVE_SIZE.to_owned(), size.to_string()),
        (
            labels::ARCHIVE_FILE.to_owned(),
            params.file_name.chars().take(255).collect(),
        ),
    ]);
    if let Some(db) = &manifest.database {
        artifact_labels.insert(labels::DB_ENGINE.into(), db.engine.clone());
        artifact_labels.insert(
            labels::DB_STREAM.into(),
            db.member.chars().take(255).collect(),
        );
        artifact_labels.insert(labels::DB_TABLES.into(), db.tables.to_string());
    }
    artifact_labels
}

async fn store(ctx: &Arc<JobCtx>, params: &UploadParams, staged: SnapshotId) -> Result<Outcome> {
    ctx.progress.phase("checking archive");
    let repo = ctx.shared.repo.repository.clone();
    let (staged_snap, entries) = blocking({
        let repo = repo.clone();
        move || Ok((repo.snapshot(&staged)?, repo.snapshot_entries(&staged)?))
    })
    .await?;
    ctx.progress.totals(staged_snap.summary.total_bytes, 0);
    let (manifest, size, checksum) = {
        let repo = repo.clone();
        blocking(move || check_archive(read_archive(repo, staged))).await?
    };
    if params.size_bytes != 0 && params.size_bytes != size {
        return Err(Error::invalid(
            "params.upload.size_bytes",
            format!(
                "the upload declared {} bytes, the staged archive has {size}",
                params.size_bytes
            ),
        ));
    }
    ctx.check_cancel()?;

    // The recorded snapshot reuses the staged tree: no data is written again.
    ctx.progress.phase("storing archive");
    let opts = BackupOptions {
        labels: snapshot_labels(ctx),
        ..Default::default()
    };
    let id = blocking({
        let repo = repo.clone();
        move || {
            let id = repo.commit_entries(entries, opts)?;
            repo.snapshot_entries(&id)?;
            Ok(id)
        }
    })
    .await
    .map_err(|e| match e {
        Error::Repository(r) => ctx.repo_err(r),
        e => e,
    })?;
    ctx.progress.set(size, 0);

    let artifact_labels = artifact_labels(ctx, params, &manifest, size);
    let s = &staged_snap.summary;
    Ok(Outcome {
        stats: JobStats {
            files: manifest.file_count(),
            bytes_read: size,
            bytes_new: s.bytes_new,
            stored_bytes_added: s.stored_bytes_added,
            ..Default::default()
        },
        artifact: Some(Artifact {
            configuration: ctx.job.configuration.clone(),
            backup_kind: kind_of(&manifest) as i32,
            format: ArtifactFormat::Archive as i32,
            location: id.to_hex(),
            size_bytes: manifest.content_bytes(),
            stored_bytes: s.stored_bytes_added,
            file_count: manifest.file_count(),
            checksum,
            state: ArtifactState::Available as i32,
            labels: artifact_labels,
            ..Default::default()
        }),
    })
}
