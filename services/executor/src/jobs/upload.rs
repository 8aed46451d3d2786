//! UPLOAD: an archive received by `UploadArchive` and staged here is read
//! in full and checked (header, manifest hash, every member's size and
//! hash, paths, symlinks, trailer) before it is stored. It is stored as it
//! is, one stream in a snapshot of its own, so a download gives back the
//! very bytes that were uploaded. Retention never touches uploads.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_proto::catalog::v1::{
    Artifact, ArtifactFormat, ArtifactState, BackupKind, JobStats, UploadParams, job_params,
};
use vigil_repository::{BackupOptions, Control, StreamSource};

use super::{JobCtx, Outcome, blocking, labels};
use crate::archive::{self, Manifest};
use crate::error::{Error, Result};

/// Prefix of staged upload files.
pub const STAGED_PREFIX: &str = "upload-";

/// The upload's staged file, if it is one this executor staged.
pub fn staged_file(staging: &Path, params: &UploadParams) -> Result<PathBuf> {
    let path = PathBuf::from(&params.staging_path);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if path.parent() != Some(staging) || !name.starts_with(STAGED_PREFIX) || !name.ends_with(".vgx")
    {
        return Err(Error::invalid(
            "params.upload.staging_path",
            "is not an upload staged by this executor",
        ));
    }
    if !path.is_file() {
        return Err(Error::FailedPrecondition(
            "params.upload.staging_path: the staged upload is gone".into(),
        ));
    }
    Ok(path)
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

/// Checks a staged archive in full; returns its manifest, size and checksum.
pub fn check_archive(path: &Path) -> Result<(Manifest, u64, String)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hashing = Hashing {
        inner: BufReader::with_capacity(1 << 20, file),
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
    let path = staged_file(&ctx.shared.staging, &params)?;
    let outcome = store(&ctx, &params, &path).await;
    // A retryable failure keeps the file for the next attempt.
    if outcome.as_ref().err().is_none_or(|e| !e.retryable()) {
        let _ = std::fs::remove_file(&path);
    }
    outcome
}

async fn store(ctx: &Arc<JobCtx>, params: &UploadParams, path: &Path) -> Result<Outcome> {
    ctx.progress.phase("checking archive");
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    ctx.progress.totals(size, 0);
    let (manifest, size, checksum) = {
        let p = path.to_path_buf();
        blocking(move || check_archive(&p)).await?
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

    ctx.progress.phase("storing archive");
    let mut snap_labels = BTreeMap::new();
    snap_labels.insert(labels::FORMAT.to_owned(), labels::FORMAT_ARCHIVE.to_owned());
    snap_labels.insert(labels::KIND.to_owned(), "upload".to_owned());
    snap_labels.insert(labels::JOB.to_owned(), ctx.job.id.clone());
    snap_labels.insert(
        labels::UPLOAD_CONFIGURATION.to_owned(),
        ctx.job.configuration.clone(),
    );
    let opts = BackupOptions {
        labels: snap_labels,
        ..Default::default()
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let stream = StreamSource {
        name: labels::ARCHIVE_STREAM.to_owned(),
        reader: Box::new(BufReader::with_capacity(1 << 20, file)),
    };
    let progress = ctx.progress.clone();
    let ctl = Control {
        cancel: Some(ctx.cancel.clone()),
        progress: Some(Arc::new(move |p: &vigil_repository::Progress| {
            progress.set(p.bytes_read, 0)
        })),
    };
    let repo = ctx.shared.repo.repository.clone();
    let result = blocking(move || Ok(repo.backup(&opts, vec![stream], &ctl)))
        .await?
        .map_err(|e| ctx.repo_err(e))?;
    let repo = ctx.shared.repo.repository.clone();
    let id = result.snapshot_id;
    blocking(move || repo.snapshot_entries(&id).map(drop).map_err(Error::from)).await?;

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
    let s = &result.stats;
    Ok(Outcome {
        stats: JobStats {
            files: manifest.file_count(),
            bytes_read: s.bytes_read,
            bytes_new: s.bytes_new,
            stored_bytes_added: s.stored_bytes_added,
            chunks_new: s.chunks_new,
            chunks_reused: s.chunks_reused,
            duration: Some(vigil_proto::duration_to_proto(s.duration)),
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
