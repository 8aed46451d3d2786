//! `vigil backup run`, `vigil verify` and `vigil prune`: jobs that act on a
//! configuration's backups, optionally waited for.

use clap::{Args, Subcommand};
use vigil_proto::catalog::v1::{BackupJob, VerifyParams};

use crate::commands::jobs::show;
use crate::ctx::Ctx;
use crate::error::CliError;
use crate::progress;

/// Backups.
#[derive(Debug, Subcommand)]
pub(crate) enum BackupCmd {
    /// Queue a manual backup of a configuration.
    Run {
        /// Configuration name.
        name: String,
        /// Wait for the job to finish; exit non-zero if it fails or is cancelled.
        #[arg(long)]
        wait: bool,
    },
}

/// Arguments of `vigil verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Artifact id; leave out to verify a configuration's artifacts, or the whole repository.
    pub artifact: Option<String>,
    /// Verify the artifacts of this configuration.
    #[arg(long)]
    pub configuration: Option<String>,
    /// Fraction of packs to read back, in (0, 1]; all when left out.
    #[arg(long, value_name = "F")]
    pub sample: Option<f64>,
    /// Also restore into a scratch place and compare (a restore drill).
    #[arg(long)]
    pub drill: bool,
    /// Wait for the job to finish; exit non-zero if it fails or is cancelled.
    #[arg(long)]
    pub wait: bool,
}

/// Arguments of `vigil prune`.
#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Configuration name.
    pub configuration: String,
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
    /// Wait for the job to finish; exit non-zero if it fails or is cancelled.
    #[arg(long)]
    pub wait: bool,
}

/// Runs `backup run`.
pub(crate) async fn run(ctx: &Ctx, cmd: BackupCmd) -> Result<(), CliError> {
    match cmd {
        BackupCmd::Run { name, wait } => {
            let job = ctx.client().await?.run_backup(&name).await?;
            finish(ctx, job, wait).await
        }
    }
}

/// Runs `verify`.
pub(crate) async fn verify(ctx: &Ctx, args: VerifyArgs) -> Result<(), CliError> {
    if let Some(f) = args.sample
        && !(f > 0.0 && f <= 1.0)
    {
        return Err(CliError::input(
            "--sample",
            format!("must be greater than 0 and at most 1, got {f}"),
        ));
    }
    let params = VerifyParams {
        artifact: args.artifact.unwrap_or_default(),
        sample_fraction: args.sample.unwrap_or(0.0),
        drill: args.drill,
    };
    let job = ctx
        .client()
        .await?
        .verify(args.configuration.as_deref().unwrap_or(""), params)
        .await?;
    finish(ctx, job, args.wait).await
}

/// Runs `prune`.
pub(crate) async fn prune(ctx: &Ctx, args: PruneArgs) -> Result<(), CliError> {
    let job = ctx
        .client()
        .await?
        .prune(&args.configuration, args.dry_run)
        .await?;
    finish(ctx, job, args.wait).await
}

/// Prints the queued job, or waits for it and prints the final state; a
/// failed or cancelled job becomes an error (exit 1).
pub(crate) async fn finish(ctx: &Ctx, job: BackupJob, wait: bool) -> Result<(), CliError> {
    if !wait {
        show(ctx, &job);
        return Ok(());
    }
    let done = progress::wait(ctx, &job).await?;
    show(ctx, &done);
    progress::outcome(&done)
}
