//! PRUNE: the configuration's retention policy over its snapshots.
//!
//! Order, so that the catalog never points at data that is gone: a dry run
//! selects what to forget; those artifacts are marked PRUNED; then the
//! repository forgets the snapshots and frees their data (in two phases,
//! see the repository's prune); finally every artifact of the configuration
//! whose snapshot no longer exists is marked PRUNED as well, which also
//! repairs a prune that was interrupted between the two steps.
//!
//! A dry run lists its selection in the job's warnings (the job record has
//! no other place for it).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use vigil_proto::catalog::v1::{
    Artifact, ArtifactState, BackupConfiguration, JobStats, job_params,
};
use vigil_repository::{PruneOptions, PruneReport, RetentionPolicy, SnapshotFilter};

use super::verify::{list_artifacts, mark};
use super::{JobCtx, Outcome, blocking, labels};
use crate::error::{Error, Result};

/// The repository's policy for a configuration's retention.
pub fn policy_of(config: &BackupConfiguration) -> RetentionPolicy {
    let r = config.retention.unwrap_or_default();
    let n = |v: i32| u32::try_from(v).unwrap_or(0);
    RetentionPolicy {
        keep_within_days: n(r.keep_within_days),
        keep_last: n(r.keep_last),
        keep_daily: n(r.keep_daily),
        keep_weekly: n(r.keep_weekly),
        keep_monthly: n(r.keep_monthly),
    }
}

/// Runs a PRUNE job.
pub async fn run(ctx: Arc<JobCtx>) -> Result<Outcome> {
    let config = ctx.config()?.clone();
    let dry_run = matches!(
        ctx.job.params.as_ref().and_then(|p| p.params.as_ref()),
        Some(job_params::Params::Prune(p)) if p.dry_run
    );
    let policy = policy_of(&config);
    if policy.is_empty() {
        ctx.warn(format!(
            "configuration {} has no retention policy: everything is kept",
            config.name
        ));
        return Ok(Outcome::default());
    }
    let filter = SnapshotFilter {
        labels: BTreeMap::from([(labels::CONFIGURATION.to_owned(), config.name.clone())]),
        ..Default::default()
    };
    let opts = PruneOptions {
        policy,
        filter,
        dry_run: true,
        ..Default::default()
    };

    ctx.progress.phase("selecting");
    let selection = prune(&ctx, opts.clone()).await?;
    let artifacts = list_artifacts(&ctx, &config.name).await?;
    let forget: HashSet<String> = selection.forget.iter().map(|id| id.to_hex()).collect();
    let doomed: Vec<&Artifact> = artifacts
        .iter()
        .filter(|a| forget.contains(&a.location))
        .collect();
    if dry_run {
        report_dry_run(&ctx, &selection, &doomed, forget.len());
        return Ok(Outcome::default());
    }

    mark(
        &ctx,
        doomed.iter().map(|a| a.id.clone()).collect(),
        ArtifactState::Pruned,
        false,
    )
    .await?;
    ctx.check_cancel()?;
    ctx.progress.phase("pruning");
    forget_abandoned_uploads(&ctx).await?;
    let report = prune(
        &ctx,
        PruneOptions {
            dry_run: false,
            ..opts
        },
    )
    .await?;

    let gone = artifacts_gone(&ctx, &config.name).await?;
    let removed = gone.len() as u64;
    mark(&ctx, gone, ArtifactState::Pruned, false).await?;
    tracing::info!(
        configuration = %config.name,
        forgotten = report.forget.len(),
        packs_deleted = report.packs_deleted,
        bytes_freed = report.bytes_freed,
        "prune done"
    );
    Ok(Outcome {
        stats: JobStats {
            artifacts_removed: removed.max(doomed.len() as u64),
            stored_bytes_added: 0,
            ..Default::default()
        },
        artifact: None,
    })
}

/// What a dry run would do, as warnings on the job.
fn report_dry_run(ctx: &JobCtx, selection: &PruneReport, doomed: &[&Artifact], forgotten: usize) {
    for a in doomed {
        ctx.warn(format!(
            "dry run: would remove artifact {} (snapshot {})",
            a.id,
            &a.location[..12.min(a.location.len())]
        ));
    }
    let untracked = forgotten.saturating_sub(doomed.len());
    if untracked > 0 {
        ctx.warn(format!(
            "dry run: would remove {untracked} snapshots that no artifact records"
        ));
    }
    ctx.warn(format!(
        "dry run: would keep {} snapshots and free about {} bytes",
        selection.keep.len(),
        selection.bytes_freed
    ));
}

/// The configuration's artifacts in this repository whose snapshot the
/// repository no longer has: they are no longer available.
async fn artifacts_gone(ctx: &JobCtx, configuration: &str) -> Result<Vec<String>> {
    let repo = ctx.shared.repo.repository.clone();
    let present: HashSet<String> = blocking(move || {
        Ok(repo
            .list_snapshots()?
            .into_iter()
            .map(|s| s.id.to_hex())
            .collect())
    })
    .await?;
    let here = ctx.shared.repo.repository.id().to_owned();
    Ok(list_artifacts(ctx, configuration)
        .await?
        .into_iter()
        .filter(|a| {
            a.labels.get(labels::REPOSITORY) == Some(&here) && !present.contains(&a.location)
        })
        .map(|a| a.id)
        .collect())
}

/// Uploads staged long ago whose job never recorded them go too.
async fn forget_abandoned_uploads(ctx: &JobCtx) -> Result<()> {
    let repo = ctx.shared.repo.repository.clone();
    let grace = ctx.shared.opts.settings.orphan_grace;
    let abandoned = blocking(move || super::upload::forget_abandoned(&repo, grace)).await?;
    if abandoned > 0 {
        tracing::info!(abandoned, "forgot abandoned staged uploads");
    }
    Ok(())
}

async fn prune(ctx: &JobCtx, opts: PruneOptions) -> Result<PruneReport> {
    let repo = ctx.shared.repo.repository.clone();
    blocking(move || repo.prune(&opts).map_err(Error::from)).await
}
