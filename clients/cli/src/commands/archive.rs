//! `vigil artifacts list`, `vigil upload` and `vigil download`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use vigil_proto::catalog::v1::{Artifact, ListArtifactsRequest};

use crate::commands::browse;
use crate::ctx::Ctx;
use crate::error::CliError;
use crate::output::{self, format, list_json, to_json};
use crate::render::artifact as render;

/// Artifacts: snapshots and archives.
#[derive(Debug, Subcommand)]
pub(crate) enum ArtifactsCmd {
    /// List artifacts, newest first.
    List {
        /// Only artifacts of this configuration.
        #[arg(long)]
        configuration: Option<String>,
        /// Also list pruned artifacts.
        #[arg(long)]
        include_pruned: bool,
    },
    /// What a FULL or DATABASE backup holds under a path: type, mode, size, modification time.
    Ls(browse::LsArgs),
}

/// Arguments of `vigil upload`.
#[derive(Debug, Args)]
pub(crate) struct UploadArgs {
    /// The export archive to upload.
    pub file: PathBuf,
    /// Record the artifact under this configuration (default: the archive's manifest).
    #[arg(long)]
    pub configuration: Option<String>,
}

/// Arguments of `vigil download`.
#[derive(Debug, Args)]
pub(crate) struct DownloadArgs {
    /// Artifact id.
    pub artifact: String,
    /// Where to write the archive; written whole or not at all.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// Runs `artifacts list`.
pub(crate) async fn artifacts(ctx: &Ctx, cmd: ArtifactsCmd) -> Result<(), CliError> {
    let (configuration, include_pruned) = match cmd {
        ArtifactsCmd::List {
            configuration,
            include_pruned,
        } => (configuration, include_pruned),
        ArtifactsCmd::Ls(args) => return browse::ls(ctx, args).await,
    };
    let filter = ListArtifactsRequest {
        configuration: configuration.unwrap_or_default(),
        include_pruned,
        ..Default::default()
    };
    let all: Vec<Artifact> = ctx
        .client()
        .await?
        .list_artifacts(filter)
        .try_collect()
        .await?;
    if ctx.json {
        output::print_json(&list_json(&all));
    } else if ctx.quiet() {
        output::print_ids(all.iter().map(|a| a.id.as_str()));
    } else if all.is_empty() {
        output::print("no artifacts");
    } else {
        output::print(render::list(&all));
    }
    Ok(())
}

fn transfer_bar(ctx: &Ctx, total: u64) -> Option<ProgressBar> {
    if ctx.json || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "[{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    Some(bar)
}

/// Runs `upload`: the archive goes to the executor in 1 MiB chunks.
pub(crate) async fn upload(ctx: &Ctx, args: UploadArgs) -> Result<(), CliError> {
    let meta = std::fs::metadata(&args.file).map_err(|e| {
        CliError::input("file", format!("cannot read {}: {e}", args.file.display()))
    })?;
    if !meta.is_file() {
        return Err(CliError::input(
            "file",
            format!("{} is not a regular file", args.file.display()),
        ));
    }
    let client = ctx.client().await?;
    let bar = transfer_bar(ctx, meta.len());
    let progress = bar.clone();
    let resp = client
        .upload_archive_file(&args.file, args.configuration.as_deref(), move |sent| {
            if let Some(b) = &progress {
                b.set_position(sent);
            }
        })
        .await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let resp = resp?;
    if ctx.json {
        output::print_json(&to_json(&resp));
    } else {
        let job = resp.job.unwrap_or_default();
        let artifact = resp.artifact.unwrap_or_default();
        output::print(format!(
            "uploaded {} ({}): artifact {} of {}, job {}",
            args.file.display(),
            format::bytes(meta.len()),
            artifact.id,
            format::or_none(&artifact.configuration),
            if job.name.is_empty() {
                job.id
            } else {
                job.name
            },
        ));
    }
    Ok(())
}

/// Runs `download`: written to a temporary file, renamed when complete and verified.
pub(crate) async fn download(ctx: &Ctx, args: DownloadArgs) -> Result<(), CliError> {
    if args.output.is_dir() {
        return Err(CliError::input(
            "-o",
            format!("{} is a directory; name the file", args.output.display()),
        ));
    }
    let client = ctx.client().await?;
    let mut bar: Option<ProgressBar> = None;
    let outcome = client
        .download_archive_to(&args.artifact, &args.output, |done, total| {
            let b = bar.get_or_insert_with(|| {
                transfer_bar(ctx, total).unwrap_or_else(ProgressBar::hidden)
            });
            b.set_position(done);
        })
        .await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let outcome = outcome?;
    if ctx.json {
        let mut value = to_json(&outcome.metadata);
        value["path"] = serde_json::json!(outcome.path.display().to_string());
        value["bytes_written"] = serde_json::json!(outcome.bytes);
        value["checksum_verified"] = serde_json::json!(outcome.checksum_verified);
        output::print_json(&value);
    } else {
        let check = if outcome.checksum_verified {
            format!("checksum {} verified", outcome.metadata.checksum)
        } else {
            "no checksum announced, not verified".to_owned()
        };
        output::print(format!(
            "downloaded artifact {} to {} ({}), {check}",
            args.artifact,
            outcome.path.display(),
            format::bytes(outcome.bytes)
        ));
    }
    Ok(())
}
