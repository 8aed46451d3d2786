//! `vigil status`: the status report, computed on demand by the server.

use std::time::Duration;

use clap::Args;

use crate::ctx::Ctx;
use crate::error::CliError;
use crate::output::{self, to_json};
use crate::render::blocks;
use crate::render::status as render;

/// Arguments of `vigil status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Print the report as Markdown (`--json` takes precedence).
    #[arg(long)]
    pub markdown: bool,
    /// How far back the job history goes, such as 7d (default 30 days).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub window: Option<Duration>,
}

/// Runs `status`.
///
/// With `--json` the report is printed as JSON; `verdict` is one of
/// `"HEALTHY"`, `"PARTIALLY_WORKING"`, `"FAILING"` (`"UNSPECIFIED"` if the
/// server left it unset) and `risk` one of `"LOW"`, `"MEDIUM"`, `"HIGH"`.
pub(crate) async fn run(ctx: &Ctx, args: StatusArgs) -> Result<(), CliError> {
    let report = ctx.client().await?.status_report(args.window).await?;
    if ctx.json {
        output::print_json(&to_json(&report));
    } else if args.markdown {
        output::print(blocks::markdown(&render::blocks(&report, true)).trim_end());
    } else {
        output::print(blocks::terminal(&render::blocks(&report, false)).trim_end());
    }
    Ok(())
}
