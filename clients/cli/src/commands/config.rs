//! `vigil config`: list, get, create, update, delete, enable, disable, apply.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use futures::TryStreamExt;
use vigil_proto::catalog::v1::{BackupConfiguration, ListConfigurationsRequest};

use crate::ctx::Ctx;
use crate::error::CliError;
use crate::flags::ConfigFlags;
use crate::output::{self, list_json, to_json};
use crate::render::configuration as render;
use crate::vocab::PurposeWord;
use crate::yaml;

/// Backup configurations.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCmd {
    /// List configurations.
    List {
        /// Only this purpose: production, test or temporary.
        #[arg(long, value_parser = PurposeWord::parse_flag)]
        purpose: Option<PurposeWord>,
        /// Only configurations with this label KEY=VALUE; repeat for several.
        #[arg(long = "label", value_name = "KEY=VALUE")]
        labels: Vec<String>,
    },
    /// Show one configuration.
    Get {
        /// Configuration name.
        name: String,
    },
    /// Create a configuration from a file (-f) or from flags.
    Create(CreateArgs),
    /// Change fields of a configuration: the flags given, or every field from a file (-f).
    Update(UpdateArgs),
    /// Delete a configuration (its jobs and artifacts stay in the history).
    Delete {
        /// Configuration name.
        name: String,
        /// Refuse unless the stored etag matches.
        #[arg(long)]
        etag: Option<String>,
    },
    /// Enable a configuration, arming its schedule.
    Enable {
        /// Configuration name.
        name: String,
    },
    /// Disable a configuration, disarming its schedule.
    Disable {
        /// Configuration name.
        name: String,
    },
    /// Create or update every configuration in a YAML file, atomically and idempotently.
    Apply {
        /// The YAML file with a top-level `configurations:` list.
        #[arg(short = 'f', long = "file", value_name = "FILE.yaml")]
        file: PathBuf,
        /// Only report what would change.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Arguments of `config create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Configuration name (required with flags; optional with -f, where it must match).
    pub name: Option<String>,
    /// A YAML file holding one configuration.
    #[arg(short = 'f', long = "file", value_name = "FILE.yaml")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub flags: ConfigFlags,
}

/// Arguments of `config update`.
#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// Configuration name.
    pub name: String,
    /// A YAML file holding the whole new configuration.
    #[arg(short = 'f', long = "file", value_name = "FILE.yaml")]
    pub file: Option<PathBuf>,
    /// Refuse unless the stored etag matches.
    #[arg(long)]
    pub etag: Option<String>,
    #[command(flatten)]
    pub flags: ConfigFlags,
}

/// Runs a `config` subcommand.
pub(crate) async fn run(ctx: &Ctx, cmd: ConfigCmd) -> Result<(), CliError> {
    match cmd {
        ConfigCmd::List { purpose, labels } => list(ctx, purpose, labels).await,
        ConfigCmd::Get { name } => {
            let c = ctx.client().await?.get_configuration(&name).await?;
            show(ctx, &c);
            Ok(())
        }
        ConfigCmd::Create(args) => create(ctx, args).await,
        ConfigCmd::Update(args) => update(ctx, args).await,
        ConfigCmd::Delete { name, etag } => {
            ctx.client()
                .await?
                .delete_configuration(&name, etag.as_deref().unwrap_or(""))
                .await?;
            if ctx.json {
                output::print_json(&serde_json::json!({ "name": name, "deleted": true }));
            } else {
                output::print(format!("deleted configuration {name}"));
            }
            Ok(())
        }
        ConfigCmd::Enable { name } => {
            let c = ctx.client().await?.enable_configuration(&name).await?;
            show(ctx, &c);
            Ok(())
        }
        ConfigCmd::Disable { name } => {
            let c = ctx.client().await?.disable_configuration(&name).await?;
            show(ctx, &c);
            Ok(())
        }
        ConfigCmd::Apply { file, dry_run } => apply(ctx, file, dry_run).await,
    }
}

fn show(ctx: &Ctx, c: &BackupConfiguration) {
    if ctx.json {
        output::print_json(&to_json(c));
    } else {
        output::print(render::detail(c));
    }
}

async fn list(
    ctx: &Ctx,
    purpose: Option<PurposeWord>,
    labels: Vec<String>,
) -> Result<(), CliError> {
    let mut filter = ListConfigurationsRequest {
        purpose: purpose.map_or(0, |p| p.proto() as i32),
        ..Default::default()
    };
    for label in labels {
        let (k, v) = label
            .split_once('=')
            .ok_or_else(|| CliError::input("--label", format!("{label:?} is not KEY=VALUE")))?;
        filter.labels.insert(k.to_owned(), v.to_owned());
    }
    let all: Vec<BackupConfiguration> = ctx
        .client()
        .await?
        .list_configurations(filter)
        .try_collect()
        .await?;
    if ctx.json {
        output::print_json(&list_json(&all));
    } else if ctx.quiet() {
        output::print_ids(all.iter().map(|c| c.name.as_str()));
    } else if all.is_empty() {
        output::print("no configurations");
    } else {
        output::print(render::list(&all));
    }
    Ok(())
}

async fn create(ctx: &Ctx, args: CreateArgs) -> Result<(), CliError> {
    let (_, touched) = args.flags.to_update()?;
    let configuration = match (&args.file, &args.name) {
        (Some(file), name) => {
            if !touched.is_empty() {
                return Err(CliError::input(
                    "-f",
                    "give either -f FILE or field flags, not both",
                ));
            }
            let c = yaml::load_single(file)?;
            if let Some(name) = name.as_ref().filter(|n| **n != c.name) {
                return Err(CliError::input(
                    "name",
                    format!("the file names {:?} but the command names {name:?}", c.name),
                ));
            }
            c
        }
        (None, Some(name)) => args.flags.to_create(name)?,
        (None, None) => {
            return Err(CliError::input(
                "name",
                "give a NAME with flags, or -f FILE",
            ));
        }
    };
    let stored = ctx
        .client()
        .await?
        .create_configuration(configuration)
        .await?;
    show(ctx, &stored);
    Ok(())
}

async fn update(ctx: &Ctx, args: UpdateArgs) -> Result<(), CliError> {
    let (mut configuration, mask) = args.flags.to_update()?;
    let mask = match &args.file {
        Some(file) => {
            if !mask.is_empty() {
                return Err(CliError::input(
                    "-f",
                    "give either -f FILE or field flags, not both",
                ));
            }
            configuration = yaml::load_single(file)?;
            if configuration.name != args.name {
                return Err(CliError::input(
                    "name",
                    format!(
                        "the file names {:?} but the command names {:?}",
                        configuration.name, args.name
                    ),
                ));
            }
            // The file is the whole configuration: fields it leaves out are cleared.
            vec![vigil_client::REPLACE_ALL.to_owned()]
        }
        None if mask.is_empty() => {
            return Err(CliError::input(
                "flags",
                "nothing to change: give field flags or -f FILE",
            ));
        }
        None => mask,
    };
    configuration.name = args.name.clone();
    configuration.etag = args.etag.unwrap_or_default();
    let stored = ctx
        .client()
        .await?
        .update_configuration(configuration, mask)
        .await?;
    show(ctx, &stored);
    Ok(())
}

/// Configurations sent per `ApplyConfigurations` call (the catalog takes up
/// to 1000); each call is all-or-nothing on its own.
const APPLY_BATCH: usize = 500;

async fn apply(ctx: &Ctx, file: PathBuf, dry_run: bool) -> Result<(), CliError> {
    let configurations = yaml::load_configurations(&file)?;
    let mut seen = std::collections::HashMap::new();
    for (i, c) in configurations.iter().enumerate() {
        if let Some(first) = seen.insert(c.name.as_str(), i) {
            return Err(CliError::input(
                format!("{}: configurations[{i}].name", file.display()),
                format!(
                    "{:?} appears twice in the file (also configurations[{first}])",
                    c.name
                ),
            ));
        }
    }
    let total = configurations.len();
    let batches = total.div_ceil(APPLY_BATCH).max(1);
    let client = ctx.client().await?;
    let mut results = Vec::with_capacity(total);
    for (n, batch) in configurations.chunks(APPLY_BATCH).enumerate() {
        let first = n * APPLY_BATCH;
        match client.apply_configurations(batch.to_vec(), dry_run).await {
            Ok(done) => results.extend(done),
            Err(e) => {
                eprintln!(
                    "{}",
                    render::apply_stopped(first, batch.len(), total, dry_run)
                );
                return Err(e.into());
            }
        }
        if batches > 1 && !ctx.json {
            eprintln!(
                "batch {}/{batches}: configurations {}-{} {}",
                n + 1,
                first + 1,
                first + batch.len(),
                if dry_run { "checked" } else { "applied" }
            );
        }
    }
    if ctx.json {
        output::print_json(&list_json(&results));
    } else {
        output::print(render::apply_results(&results));
        output::print(render::apply_summary(&results, dry_run));
    }
    Ok(())
}
