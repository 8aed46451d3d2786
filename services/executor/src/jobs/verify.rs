//! VERIFY: read the repository's packs back (all of them, or a sample),
//! decrypt and hash every chunk (E3), and name what damage affects. Damaged
//! artifacts are marked DAMAGED; damage within the job's scope fails it.
//! With `drill`, the artifact is also restored into a scratch directory and
//! compared with its snapshot (a restore drill).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::Arc;

use vigil_proto::catalog::v1::{
    Artifact, ArtifactState, JobStats, ListArtifactsRequest, UpdateArtifactsRequest, VerifyParams,
    job_params,
};
use vigil_repository::{
    Control, EntryKind, RestoreOptions, SnapshotId, VerifyOptions, VerifyReport,
};

use super::{JobCtx, Outcome, blocking, snapshot_of};
use crate::error::{Error, Result};

/// Every artifact the catalog lists (optionally of one configuration).
pub async fn list_artifacts(ctx: &JobCtx, configuration: &str) -> Result<Vec<Artifact>> {
    let request = ListArtifactsRequest {
        page_size: 500,
        configuration: configuration.to_owned(),
        ..Default::default()
    };
    Ok(ctx.shared.catalog.all(request).await?)
}

/// Sets the state of artifacts in the catalog.
pub async fn mark(
    ctx: &JobCtx,
    ids: Vec<String>,
    state: ArtifactState,
    verified: bool,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let verify_time =
        verified.then(|| vigil_proto::timestamp_from_system(std::time::SystemTime::now()));
    for chunk in ids.chunks(500) {
        let request = UpdateArtifactsRequest {
            ids: chunk.to_vec(),
            state: state as i32,
            verify_time,
            job_id: ctx.job.id.clone(),
            executor_id: ctx.shared.opts.executor_id.clone(),
            lease_token: ctx.lease_token.clone(),
        };
        ctx.shared.catalog.call(request).await?;
    }
    Ok(())
}

/// Runs a VERIFY job.
pub async fn run(ctx: Arc<JobCtx>) -> Result<Outcome> {
    let (params, sample) = verify_params(&ctx)?;
    let all = repository_artifacts(&ctx).await?;
    let scope = verify_scope(&ctx, &params.artifact, &all).await?;

    ctx.progress.phase(if sample < 1.0 {
        "reading a sample of packs"
    } else {
        "reading every pack"
    });
    let repo = ctx.shared.repo.repository.clone();
    let report = blocking(move || {
        Ok(repo.verify(&VerifyOptions {
            sample_fraction: sample,
            threads: None,
        })?)
    })
    .await?;
    ctx.progress
        .set(report.bytes_checked, report.packs_checked as u64);

    let hit = damage_by_snapshot(&report);
    let damaged: Vec<&Artifact> = all
        .iter()
        .filter(|a| hit.contains_key(&a.location))
        .collect();
    mark(
        &ctx,
        damaged.iter().map(|a| a.id.clone()).collect(),
        ArtifactState::Damaged,
        false,
    )
    .await?;

    let mut stats = verify_stats(&report);
    let failed = damage_in_scope(&report, scope.as_deref(), &damaged);
    if failed {
        stats.errors_found = stats.errors_found.max(1);
        ctx.set_fail_stats(stats);
        return Err(Error::Repository(vigil_repository::Error::integrity(
            "repository",
            format!(
                "verify found damage: {}",
                damage_message(&report, &hit, &all)
            ),
        )));
    }
    if !report.is_ok() {
        ctx.warn(format!(
            "damage outside this verify's scope: {} damaged packs, {} damaged snapshots",
            report.damaged_packs.len(),
            report.damaged_snapshots.len()
        ));
    }
    let scoped: Vec<Artifact> = match scope {
        Some(s) => s,
        None => all.clone(),
    };
    if params.drill {
        drill_newest(&ctx, &scoped).await?;
    }
    let ok: Vec<String> = scoped
        .iter()
        .filter(|a| a.state() == ArtifactState::Available)
        .map(|a| a.id.clone())
        .collect();
    mark(&ctx, ok, ArtifactState::Available, true).await?;
    Ok(Outcome {
        stats,
        artifact: None,
    })
}

/// The artifacts of this executor's repository: others live elsewhere.
async fn repository_artifacts(ctx: &JobCtx) -> Result<Vec<Artifact>> {
    let here = ctx.shared.repo.repository.id().to_owned();
    Ok(list_artifacts(ctx, "")
        .await?
        .into_iter()
        .filter(|a| a.labels.get(super::labels::REPOSITORY) == Some(&here))
        .collect())
}

/// A verify's figures: bytes and chunks read, and each kind of damage found.
fn verify_stats(report: &VerifyReport) -> JobStats {
    JobStats {
        bytes_read: report.bytes_checked,
        errors_found: report.damaged_packs.len() as u64
            + report.damaged_index_files.len() as u64
            + report.damaged_snapshots.len() as u64
            + report.missing_chunks as u64,
        files: report.chunks_checked,
        ..Default::default()
    }
}

/// Whether the damage found fails this verify: any damage when it judges
/// the whole repository, else damage to an artifact in its scope.
fn damage_in_scope(
    report: &VerifyReport,
    scope: Option<&[Artifact]>,
    damaged: &[&Artifact],
) -> bool {
    match scope {
        None => !report.is_ok(),
        Some(scope) => {
            let in_scope: BTreeSet<&str> = scope.iter().map(|a| a.id.as_str()).collect();
            damaged.iter().any(|a| in_scope.contains(a.id.as_str()))
        }
    }
}

/// Runs the restore drill on the newest artifact in scope.
async fn drill_newest(ctx: &Arc<JobCtx>, scoped: &[Artifact]) -> Result<()> {
    let target = scoped
        .iter()
        .max_by_key(|a| a.create_time.as_ref().map(vigil_proto::timestamp_to_micros));
    match target {
        Some(a) => drill(ctx, snapshot_of(&a.location)?).await,
        None => {
            ctx.warn("restore drill skipped: no artifact in scope");
            Ok(())
        }
    }
}

/// The job's VERIFY parameters, and the fraction of packs to read (an
/// unset fraction reads them all).
fn verify_params(ctx: &JobCtx) -> Result<(VerifyParams, f64)> {
    let params: VerifyParams = match ctx.job.params.as_ref().and_then(|p| p.params.as_ref()) {
        Some(job_params::Params::Verify(v)) => v.clone(),
        _ => Default::default(),
    };
    if !(0.0..=1.0).contains(&params.sample_fraction) {
        return Err(Error::invalid(
            "params.verify.sample_fraction",
            "must be between 0 and 1",
        ));
    }
    let sample = if params.sample_fraction == 0.0 {
        1.0
    } else {
        params.sample_fraction
    };
    Ok((params, sample))
}

/// The artifacts a verify judges: the one it names, the configuration's,
/// or, for neither, `None` (the whole repository).
async fn verify_scope(
    ctx: &JobCtx,
    artifact: &str,
    all: &[Artifact],
) -> Result<Option<Vec<Artifact>>> {
    let scope = if !artifact.is_empty() {
        let a = super::get_artifact(&ctx.shared, artifact).await?;
        if a.state() == ArtifactState::Pruned {
            return Err(Error::FailedPrecondition(format!(
                "artifact: {} was pruned",
                a.id
            )));
        }
        super::check_repository(&ctx.shared, &a)?;
        Some(vec![a])
    } else if !ctx.job.configuration.is_empty() {
        Some(
            all.iter()
                .filter(|a| a.configuration == ctx.job.configuration)
                .cloned()
                .collect(),
        )
    } else {
        None
    };
    Ok(scope)
}

/// Which snapshots are hit, and by what: the paths of their damaged
/// entries, or the snapshot file itself.
fn damage_by_snapshot(report: &VerifyReport) -> BTreeMap<String, Vec<String>> {
    let mut hit: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in &report.affected {
        hit.entry(a.snapshot.to_hex())
            .or_default()
            .push(a.path.clone());
    }
    for s in &report.damaged_snapshots {
        hit.entry(s.clone())
            .or_default()
            .push("<snapshot file>".into());
    }
    hit
}

/// One line naming the damage: a few packs, index files, missing chunks,
/// and the artifacts and paths it hits.
fn damage_message(
    report: &VerifyReport,
    hit: &BTreeMap<String, Vec<String>>,
    all: &[Artifact],
) -> String {
    let mut parts = Vec::new();
    for p in report.damaged_packs.iter().take(3) {
        parts.push(format!(
            "pack {}: {}",
            &p.pack[..p.pack.len().min(12)],
            p.reason
        ));
    }
    if !report.damaged_index_files.is_empty() {
        parts.push(format!(
            "{} damaged index files",
            report.damaged_index_files.len()
        ));
    }
    if report.missing_chunks > 0 {
        parts.push(format!("{} chunks missing", report.missing_chunks));
    }
    for (snap, paths) in hit.iter().take(5) {
        let artifact = all
            .iter()
            .find(|a| &a.location == snap)
            .map(|a| a.id.as_str())
            .unwrap_or("no artifact");
        let shown: Vec<String> = paths
            .iter()
            .take(5)
            .map(|p| format!("/{}", p.trim_start_matches('/')))
            .collect();
        let more = if paths.len() > 5 {
            format!(" and {} more", paths.len() - 5)
        } else {
            String::new()
        };
        parts.push(format!(
            "snapshot {} (artifact {artifact}): {}{more}",
            &snap[..12.min(snap.len())],
            shown.join(", ")
        ));
    }
    parts.join("; ")
}

/// Restores `id` into a scratch directory and compares it with the snapshot.
async fn drill(ctx: &Arc<JobCtx>, id: SnapshotId) -> Result<()> {
    ctx.progress.phase("restore drill");
    let repo = ctx.shared.repo.repository.clone();
    let staging = ctx.shared.staging.clone();
    let cancel = ctx.cancel.clone();
    let mismatches = blocking(move || {
        let entries = repo.snapshot_entries(&id)?;
        let scratch = tempfile::Builder::new()
            .prefix("drill-")
            .tempdir_in(&staging)
            .map_err(|e| Error::io(&staging, e))?;
        let ctl = Control {
            cancel: Some(cancel),
            progress: None,
        };
        let report = repo.restore(&id, scratch.path(), &RestoreOptions::default(), &ctl)?;
        let mut bad: Vec<String> = report
            .errors
            .iter()
            .map(|e| format!("/{}: {}", e.path, e.message))
            .collect();
        for e in &entries {
            let path = scratch
                .path()
                .join(std::str::from_utf8(&e.path).unwrap_or("\u{fffd}"));
            let name = format!("/{}", e.path_lossy());
            match e.kind {
                EntryKind::File => match std::fs::symlink_metadata(&path) {
                    Ok(md) if md.len() != e.size => {
                        bad.push(format!("{name}: size {} instead of {}", md.len(), e.size))
                    }
                    Ok(md) if md.permissions().mode() & 0o7777 != e.mode & 0o7777 => {
                        bad.push(format!("{name}: mode differs"))
                    }
                    Ok(md) if md.mtime() != e.mtime => bad.push(format!("{name}: mtime differs")),
                    Ok(_) => {}
                    Err(err) => bad.push(format!("{name}: {err}")),
                },
                EntryKind::Symlink => match std::fs::read_link(&path) {
                    Ok(t) if t.as_os_str().as_encoded_bytes() == e.target.as_slice() => {}
                    _ => bad.push(format!("{name}: symlink differs")),
                },
                EntryKind::Dir => {
                    if !path.is_dir() {
                        bad.push(format!("{name}: directory missing"));
                    }
                }
                EntryKind::Stream => {
                    let mut sink = std::io::sink();
                    match repo.restore_entry(&id, &e.path_lossy(), &mut sink) {
                        Ok(n) if n == e.size => {}
                        Ok(n) => {
                            bad.push(format!("{name}: stream of {n} bytes instead of {}", e.size))
                        }
                        Err(err) => bad.push(format!("{name}: {err}")),
                    }
                }
            }
        }
        Ok(bad)
    })
    .await?;
    if let Some(first) = mismatches.first() {
        return Err(Error::Check(format!(
            "restore drill: {} differences, first {first}",
            mismatches.len()
        )));
    }
    Ok(())
}
