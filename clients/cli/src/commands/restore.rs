//! `vigil restore`: restore an artifact into a directory and/or a database.

use std::path::PathBuf;

use clap::Args;
use vigil_proto::catalog::v1::RestoreParams;

use crate::commands::backup::finish;
use crate::ctx::Ctx;
use crate::error::CliError;
use crate::yaml::{check_url_has_no_password, secret};

/// Arguments of `vigil restore`.
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// Artifact id.
    pub artifact: String,
    /// Directory to restore files into (absolute, or made absolute here).
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
    /// Database to restore into: postgres://…, mysql://… or sqlite:///path, without a password.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Environment variable of the executor holding the target database's password.
    #[arg(long, value_name = "NAME")]
    pub password_env: Option<String>,
    /// File readable by the executor holding the target database's password.
    #[arg(long, value_name = "PATH", conflicts_with = "password_env")]
    pub password_file: Option<String>,
    /// Replace existing files or a non-empty database.
    #[arg(long)]
    pub overwrite: bool,
    /// Restore only this path of the snapshot; repeat for several.
    #[arg(long = "path", value_name = "P")]
    pub paths: Vec<String>,
    /// Wait for the job to finish; exit non-zero if it fails or is cancelled.
    #[arg(long)]
    pub wait: bool,
}

/// Runs `restore`.
pub(crate) async fn run(ctx: &Ctx, args: RestoreArgs) -> Result<(), CliError> {
    if args.to.is_none() && args.database_url.is_none() {
        return Err(CliError::input(
            "--to",
            "give --to DIR and/or --database-url URL",
        ));
    }
    if let Some(url) = &args.database_url {
        check_url_has_no_password("--database-url", url)?;
    }
    let target_dir = match &args.to {
        Some(dir) => std::path::absolute(dir)
            .map_err(|e| CliError::input("--to", format!("cannot resolve {}: {e}", dir.display())))?
            .to_str()
            .ok_or_else(|| CliError::input("--to", "must be valid UTF-8"))?
            .to_owned(),
        None => String::new(),
    };
    let params = RestoreParams {
        artifact: args.artifact.clone(),
        target_dir,
        database_url: args.database_url.clone().unwrap_or_default(),
        database_password: secret(
            "--password-env",
            args.password_env.as_deref(),
            args.password_file.as_deref(),
        )?,
        overwrite: args.overwrite,
        paths: args.paths.clone(),
    };
    let job = ctx.client().await?.restore(params).await?;
    finish(ctx, job, args.wait).await
}
