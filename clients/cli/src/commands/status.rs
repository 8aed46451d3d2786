//! `vigil status`: the status report, computed on demand by the server.

use std::time::Duration;

use clap::Args;

use crate::ctx::Ctx;
use vigil_proto::status::v1::Verdict;

use crate::error::{CliError, EXIT_FAILING, EXIT_PARTIALLY_WORKING};
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
    /// For monitoring: exit 0 when HEALTHY, 3 when PARTIALLY_WORKING, 4 when
    /// FAILING (the report is printed all the same).
    #[arg(long)]
    pub check: bool,
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
    if args.check {
        return check(report.verdict());
    }
    Ok(())
}

/// `--check`: the verdict as the exit code.
fn check(verdict: Verdict) -> Result<(), CliError> {
    match verdict {
        Verdict::Healthy => Ok(()),
        Verdict::PartiallyWorking => Err(CliError::Verdict {
            verdict: "PARTIALLY_WORKING",
            code: EXIT_PARTIALLY_WORKING,
        }),
        Verdict::Failing | Verdict::Unspecified => Err(CliError::Verdict {
            verdict: "FAILING",
            code: EXIT_FAILING,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_maps_each_verdict_to_its_exit_code() {
        assert!(check(Verdict::Healthy).is_ok());
        let code = |v| check(v).err().map(|e| e.exit_code());
        assert_eq!(code(Verdict::PartiallyWorking), Some(3));
        assert_eq!(code(Verdict::Failing), Some(4));
    }
}
