//! `vigil alerts`: open alerts, or all of them.

use clap::Args;
use futures::TryStreamExt;
use vigil_proto::catalog::v1::{Alert, ListAlertsRequest};

use crate::ctx::Ctx;
use crate::error::CliError;
use crate::output::{self, list_json};
use crate::render::alert as render;

/// Arguments of `vigil alerts`.
#[derive(Debug, Args)]
pub(crate) struct AlertsArgs {
    /// Include resolved alerts.
    #[arg(long)]
    pub all: bool,
    /// Only alerts of this configuration.
    #[arg(long)]
    pub configuration: Option<String>,
}

/// Runs `alerts`.
pub(crate) async fn run(ctx: &Ctx, args: AlertsArgs) -> Result<(), CliError> {
    let filter = ListAlertsRequest {
        include_resolved: args.all,
        configuration: args.configuration.unwrap_or_default(),
        ..Default::default()
    };
    let alerts: Vec<Alert> = ctx
        .client()
        .await?
        .list_alerts(filter)
        .try_collect()
        .await?;
    if ctx.json {
        output::print_json(&list_json(&alerts));
    } else if alerts.is_empty() {
        output::print(if args.all {
            "no alerts"
        } else {
            "no open alerts"
        });
    } else {
        output::print(render::list(&alerts));
    }
    Ok(())
}
