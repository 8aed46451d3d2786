//! `vigil schedules`: list, show, pause, resume, trigger, preview.

use clap::Subcommand;
use futures::TryStreamExt;
use vigil_proto::catalog::v1::{Schedule, schedule};
use vigil_proto::scheduler::v1::ScheduleView;

use crate::commands::jobs;
use crate::ctx::Ctx;
use crate::error::CliError;
use crate::output::{self, list_json, to_json};
use crate::render::schedule as render;

/// Schedules, as the scheduler sees them.
#[derive(Debug, Subcommand)]
pub(crate) enum SchedulesCmd {
    /// List every schedule with its health and next due time.
    List {
        /// Next due times per schedule (JSON shows them all).
        #[arg(long, default_value_t = 1)]
        next: i32,
    },
    /// Show a schedule: state, next due times, counters and recent outcomes.
    Show {
        /// A configuration name, or NAME#prune / NAME#verify.
        name: String,
        /// How many next due times.
        #[arg(long, default_value_t = 5)]
        next: i32,
        /// How many recent outcomes.
        #[arg(long, default_value_t = 10)]
        outcomes: i32,
    },
    /// Pause a schedule: due runs are recorded as PAUSED.
    Pause {
        /// Schedule key.
        name: String,
    },
    /// Resume a paused schedule from its next due time.
    Resume {
        /// Schedule key.
        name: String,
    },
    /// Queue a run now, outside the schedule.
    Trigger {
        /// Schedule key.
        name: String,
    },
    /// Compute the next fire times of a cron expression without storing anything.
    Preview {
        /// Cron expression: 5 fields, or 6 with seconds first.
        #[arg(long)]
        cron: String,
        /// IANA time zone such as Europe/Berlin (UTC when left out).
        #[arg(long)]
        timezone: Option<String>,
        /// How many fire times.
        #[arg(long, default_value_t = 5)]
        count: i32,
    },
}

/// Runs a `schedules` subcommand.
pub(crate) async fn run(ctx: &Ctx, cmd: SchedulesCmd) -> Result<(), CliError> {
    let client = ctx.client().await?;
    match cmd {
        SchedulesCmd::List { next } => {
            let views: Vec<ScheduleView> = client.list_schedules(next).try_collect().await?;
            if ctx.json {
                output::print_json(&list_json(&views));
            } else if views.is_empty() {
                output::print("no schedules");
            } else {
                output::print(render::list(&views));
            }
        }
        SchedulesCmd::Show {
            name,
            next,
            outcomes,
        } => show(ctx, &client.get_schedule(&name, next, outcomes).await?),
        SchedulesCmd::Pause { name } => show(ctx, &client.pause_schedule(&name).await?),
        SchedulesCmd::Resume { name } => show(ctx, &client.resume_schedule(&name).await?),
        SchedulesCmd::Trigger { name } => jobs::show(ctx, &client.trigger_schedule(&name).await?),
        SchedulesCmd::Preview {
            cron,
            timezone,
            count,
        } => {
            let schedule = Schedule {
                spec: Some(schedule::Spec::Cron(cron)),
                timezone: timezone.unwrap_or_default(),
                ..Default::default()
            };
            let preview = client.preview_schedule(schedule, count, None).await?;
            if ctx.json {
                output::print_json(&to_json(&preview));
            } else {
                output::print(render::preview(&preview));
            }
        }
    }
    Ok(())
}

fn show(ctx: &Ctx, view: &ScheduleView) {
    if ctx.json {
        output::print_json(&to_json(view));
    } else {
        output::print(render::detail(view));
    }
}
