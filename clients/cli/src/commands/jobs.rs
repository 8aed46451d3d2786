//! `vigil jobs`: list, show, logs, cancel.

use clap::Subcommand;
use futures::{StreamExt, TryStreamExt};
use vigil_client::LogUpdate;
use vigil_proto::catalog::v1::{
    BackupJob, JobEvent, ListJobEventsRequest, ListJobEventsResponse, ListJobsRequest,
};

use crate::ctx::Ctx;
use crate::error::CliError;
use crate::output::{self, list_json, to_json};
use crate::render::job as render;
use crate::render::job_event;
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
    /// Show a job's log: phases with their durations, warnings, and files that could not be read.
    Logs {
        /// Job id or readable name.
        id: String,
        /// Keep printing new entries until the job ends.
        #[arg(long, short = 'f')]
        follow: bool,
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
        JobsCmd::Logs { id, follow } => logs(ctx, &id, follow).await,
        JobsCmd::Cancel { id } => {
            let job = ctx.client().await?.cancel_job(&id).await?;
            show(ctx, &job);
            Ok(())
        }
    }
}

/// `jobs logs`: the whole log, or (`--follow`) each entry as it is written
/// until the job ends. `--json` prints the log as one `ListJobEventsResponse`
/// object, or with `--follow` one `JobEvent` object per line.
async fn logs(ctx: &Ctx, id: &str, follow: bool) -> Result<(), CliError> {
    let client = ctx.client().await?;
    if follow {
        let mut updates = client.follow_job_events(id);
        while let Some(update) = updates.try_next().await? {
            match update {
                LogUpdate::Event(e) => print_event(ctx, &e),
                LogUpdate::Ended { state, omitted } => {
                    if !ctx.json && !ctx.quiet() {
                        if let Some(line) = job_event::omitted(omitted) {
                            output::print(line);
                        }
                        output::print(format!(
                            "job ended {}",
                            state.as_str_name().trim_start_matches("JOB_STATE_")
                        ));
                    }
                }
            }
        }
        return Ok(());
    }
    let mut all = ListJobEventsResponse::default();
    let mut token = String::new();
    loop {
        let page = client
            .list_job_events_page(ListJobEventsRequest {
                job: id.to_owned(),
                page_size: 1000,
                page_token: token.clone(),
                ..Default::default()
            })
            .await?;
        all.events.extend(page.events);
        all.job_state = page.job_state;
        all.omitted_count = page.omitted_count;
        if page.next_page_token.is_empty() || page.next_page_token == token {
            break;
        }
        token = page.next_page_token;
    }
    if ctx.json {
        output::print_json(&to_json(&all));
        return Ok(());
    }
    if all.events.is_empty() && !ctx.quiet() {
        output::print("no entries");
    }
    for e in &all.events {
        print_event(ctx, e);
    }
    if let Some(line) = job_event::omitted(all.omitted_count).filter(|_| !ctx.quiet()) {
        output::print(line);
    }
    Ok(())
}

fn print_event(ctx: &Ctx, e: &JobEvent) {
    if ctx.json {
        output::print(to_json(e));
    } else {
        output::print(job_event::line(e));
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
