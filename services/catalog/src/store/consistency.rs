//! What a completion may record (A2). A lease holder cannot make up a
//! backup: a COMPLETED BACKUP or UPLOAD records its artifact in the same call,
//! with the configuration, job, kind and format the job implies, and in a
//! usable state; jobs that produce nothing record nothing.

use vigil_proto::catalog::v1::{
    Artifact, ArtifactFormat, ArtifactState, BackupJob, BackupKind, JobKind,
};

use crate::error::{Error, Result};

/// Checks that `artifact` is what `job` can produce.
pub(super) fn check_completion(job: &BackupJob, artifact: Option<&Artifact>) -> Result<()> {
    let kind = job.kind();
    let produces = matches!(kind, JobKind::Backup | JobKind::Upload);
    let Some(a) = artifact else {
        return if produces {
            Err(Error::FailedPrecondition(format!(
                "artifact: is required to complete a {} job",
                kind.as_str_name()
            )))
        } else {
            Ok(())
        };
    };
    if !produces {
        return Err(Error::FailedPrecondition(format!(
            "artifact: a {} job records no artifact",
            kind.as_str_name()
        )));
    }
    let refuse = |field: &str, why: String| {
        Err(Error::FailedPrecondition(format!(
            "artifact.{field}: {why}"
        )))
    };
    if !a.configuration.is_empty() && a.configuration != job.configuration {
        return refuse(
            "configuration",
            format!("must be the job's configuration {:?}", job.configuration),
        );
    }
    if !a.job.is_empty() && a.job != job.id {
        return refuse("job", "must be the completed job".into());
    }
    if !matches!(
        a.state(),
        ArtifactState::Unspecified | ArtifactState::Available
    ) {
        return refuse("state", "a new artifact must be AVAILABLE".into());
    }
    if kind == JobKind::Backup {
        if a.backup_kind != 0 && job.backup_kind != 0 && a.backup_kind != job.backup_kind {
            return refuse(
                "backup_kind",
                "must be the kind of the job's configuration".into(),
            );
        }
        let wanted = if job.backup_kind == BackupKind::Export as i32 {
            ArtifactFormat::Archive
        } else {
            ArtifactFormat::Snapshot
        };
        if a.format != wanted as i32 {
            return refuse(
                "format",
                format!("must be {} for this job", wanted.as_str_name()),
            );
        }
    } else if a.format != ArtifactFormat::Archive as i32 {
        return refuse("format", "an upload records an ARCHIVE".into());
    }
    Ok(())
}
