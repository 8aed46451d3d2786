//! The job kinds: what runs between a lease and its outcome.

pub mod backup;
pub mod labels;
pub mod prune;
pub mod render;
pub mod restore;
pub mod upload;
pub mod verify;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use vigil_catalog_client::ErrorKind;
use vigil_proto::catalog::v1::{
    Artifact, BackupConfiguration, BackupJob, GetArtifactRequest, JobKind, JobStats,
};
use vigil_repository::{Id, SnapshotId};

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::state::Shared;

/// Everything a running job sees.
#[derive(Debug)]
pub struct JobCtx {
    /// The executor.
    pub shared: Arc<Shared>,
    /// The leased job.
    pub job: BackupJob,
    /// The lease token every catalog call about the job presents.
    pub lease_token: String,
    /// Its configuration as it was at lease time.
    pub config: Option<BackupConfiguration>,
    /// Progress reported at each heartbeat.
    pub progress: Arc<Progress>,
    /// Set when the job must stop (cancel, lost lease, shutdown).
    pub cancel: Arc<AtomicBool>,
    /// Non-fatal problems, recorded on the job.
    pub warnings: Mutex<Vec<String>>,
    /// Figures to report with a failure (a verify that found damage).
    pub fail_stats: Mutex<Option<JobStats>>,
}

/// What a successful job reports.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Figures.
    pub stats: JobStats,
    /// The artifact produced, if any.
    pub artifact: Option<Artifact>,
}

impl JobCtx {
    /// Records a warning on the job (bounded: at most a hundred) and in its log.
    pub fn warn(&self, w: impl Into<String>) {
        let w = w.into();
        tracing::warn!(job = %self.job.id, warning = %w, "job warning");
        self.progress.log().warning(&w);
        self.keep_warning(w);
    }

    /// Records a file that could not be read, with the reason, on the job
    /// and in its log.
    pub fn file_skipped(&self, path: &std::path::Path, reason: &str) {
        let path = path.display().to_string();
        tracing::warn!(job = %self.job.id, %path, %reason, "file skipped");
        // The log's entry says "skipped" itself; the reason need not.
        let why = reason
            .strip_prefix("skipped: ")
            .or_else(|| reason.strip_prefix("skipped "))
            .unwrap_or(reason);
        self.progress.log().file_skipped(&path, why);
        self.keep_warning(format!("{path}: {reason}"));
    }

    fn keep_warning(&self, w: String) {
        if let Ok(mut ws) = self.warnings.lock() {
            if ws.len() < 100 {
                ws.push(w);
            } else if ws.len() == 100 {
                ws.push("more warnings were left out".into());
            }
        }
    }

    /// Keeps figures to report if the job fails.
    pub fn set_fail_stats(&self, stats: JobStats) {
        if let Ok(mut s) = self.fail_stats.lock() {
            *s = Some(stats);
        }
    }

    /// Fails with [`Error::Cancelled`] when the job must stop.
    pub fn check_cancel(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// The configuration, which the kind needs.
    pub fn config(&self) -> Result<&BackupConfiguration> {
        self.config.as_ref().ok_or_else(|| {
            Error::FailedPrecondition(format!(
                "configuration: {:?} no longer exists",
                self.job.configuration
            ))
        })
    }

    /// Maps a repository error: a cancel flag that was set wins.
    pub fn repo_err(&self, e: vigil_repository::Error) -> Error {
        if self.cancel.load(Ordering::Relaxed) {
            Error::Cancelled
        } else {
            Error::Repository(e)
        }
    }
}

/// Runs the job's kind.
pub async fn run(ctx: Arc<JobCtx>) -> Result<Outcome> {
    match ctx.job.kind() {
        JobKind::Backup => backup::run(ctx).await,
        JobKind::Restore => restore::run(ctx).await,
        JobKind::Verify => verify::run(ctx).await,
        JobKind::Prune => prune::run(ctx).await,
        JobKind::Upload => upload::run(ctx).await,
        JobKind::Unspecified => Err(Error::invalid("kind", "must be set")),
    }
}

/// Runs blocking work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?
}

/// The control of a repository restore: stops on `cancel`, reports bytes
/// and files written into `progress`.
fn restore_control(
    cancel: &Arc<AtomicBool>,
    progress: &Arc<Progress>,
) -> vigil_repository::Control {
    let p = progress.clone();
    vigil_repository::Control {
        cancel: Some(cancel.clone()),
        progress: Some(Arc::new(move |x: &vigil_repository::Progress| {
            p.set(x.bytes_read, x.files_done)
        })),
    }
}

/// A repository error as the job's: a cancelled job's is `Cancelled`.
fn cancelled_or(cancel: &AtomicBool, e: vigil_repository::Error) -> Error {
    if cancel.load(Ordering::Relaxed) {
        Error::Cancelled
    } else {
        e.into()
    }
}

/// Artifact `id` from the catalog, whatever its state and repository;
/// [`Error::NotFound`] when the catalog has none.
pub async fn get_artifact(shared: &Shared, id: &str) -> Result<Artifact> {
    let request = GetArtifactRequest { id: id.to_owned() };
    match shared.catalog.call(request).await {
        Ok(answer) => answer
            .artifact
            .ok_or_else(|| Error::Internal("catalog sent no artifact".into())),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::NotFound {
            what: format!("artifact {id}"),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Fails unless `artifact` lives in this executor's repository.
pub fn check_repository(shared: &Shared, artifact: &Artifact) -> Result<()> {
    let here = shared.repo.repository.id();
    match artifact.labels.get(labels::REPOSITORY) {
        Some(r) if r == here => Ok(()),
        Some(r) => Err(Error::FailedPrecondition(format!(
            "artifact: {} is stored in repository {r}, this executor holds repository {here}",
            artifact.id
        ))),
        None => Err(Error::FailedPrecondition(format!(
            "artifact: {} names no repository",
            artifact.id
        ))),
    }
}

/// The snapshot an artifact's location names.
pub fn snapshot_of(location: &str) -> Result<SnapshotId> {
    Id::from_hex(location).map_err(|_| {
        Error::FailedPrecondition(format!(
            "artifact: location {location:?} is not a snapshot id"
        ))
    })
}
