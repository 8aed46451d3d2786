//! `vigil jobs`: list, show, cancel.

use clap::Subcommand;
use futures::{StreamExt, TryStreamExt};
use vigil_proto::catalog::v1::{BackupJob, ListJobsRequest};

use crate::ctx::Ctx;
use crate::error::CliError;
use crate::output::{self, list_json, to_json};
use crate::render::job as render;
use crate::vocab::StateWord;

/// Default number of jobs listed.
const DEFAULT_LIMIT: usize = 50;

/// Jobs: the queue and the history.
#[derive(Debug, Subcommand)]
pub(crate) enum JobsCmd {
    /// List jobs, newest first.
    List {
        /// Only jobs of this configuration.
        #[arg(long)]
        configuration: Option<String>,
        /// Only jobs in this state (queued, running, completed, failed, cancelled); repeat for several.
        #[arg(long = "state", value_parser = StateWord::parse_flag)]
        states: Vec<StateWord>,
        /// At most this many jobs; 0 lists all.
        #[arg(long, default_value_t = DEFAULT_LIMIT)]
        limit: usize,
    },
    /// Show one job by id or name.
    Show {
        /// Job id or readable name.
        id: String,
    },
    /// Cancel a queued job, or ask a running one to stop.
    Cancel {
        /// Job id or readable name.
        id: String,
    },
}

/// Runs a `jobs` subcommand.
pub(crate) async fn run(ctx: &Ctx, cmd: JobsCmd) -> Result<(), CliError> {
    match cmd {
        JobsCmd::List {
            configuration,
            states,
            limit,
        } => {
            let filter = ListJobsRequest {
                page_size: if limit == 0 {
                    0
                } else {
                    limit.min(1000) as i32
                },
                configuration: configuration.unwrap_or_default(),
                states: states.iter().map(|s| s.proto() as i32).collect(),
                ..Default::default()
            };
            let stream = ctx.client().await?.list_jobs(filter);
            let jobs: Vec<BackupJob> = if limit == 0 {
                stream.try_collect().await?
            } else {
                stream.take(limit).try_collect().await?
            };
            if ctx.json {
                output::print_json(&list_json(&jobs));
            } else if ctx.quiet() {
                output::print_ids(jobs.iter().map(|j| j.id.as_str()));
            } else if jobs.is_empty() {
                output::print("no jobs");
            } else {
                output::print(render::list(&jobs));
            }
            Ok(())
        }
        JobsCmd::Show { id } => {
            let job = ctx.client().await?.get_job(&id).await?;
            show(ctx, &job);
            Ok(())
        }
        JobsCmd::Cancel { id } => {
            let job = ctx.client().await?.cancel_job(&id).await?;
            show(ctx, &job);
            Ok(())
        }
    }
}

/// Prints one job as JSON or as a detail table.
pub(crate) fn show(ctx: &Ctx, job: &BackupJob) {
    if ctx.json {
        output::print_json(&to_json(job));
    } else if ctx.quiet() {
        output::print(if job.artifact.is_empty() {
            &job.id
        } else {
            &job.artifact
        });
    } else {
        output::print(render::detail(job));
    }
}
