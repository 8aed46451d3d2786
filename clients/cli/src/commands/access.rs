//! `vigil tokens` and `vigil audit`: bearer tokens and the audit trail.

use clap::{Args, Subcommand, ValueEnum};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use vigil_proto::catalog::v1::{AuditEvent, Role, TokenInfo};

use crate::ctx::Ctx;
use crate::error::CliError;
use crate::output::{self, format, list_json};

/// `vigil tokens ...`
#[derive(Debug, Subcommand)]
pub(crate) enum TokensCmd {
    /// Create a token; prints the token alone (shown once, never again).
    Create {
        /// Unique name: letters, digits, '-', '_' and '.'.
        name: String,
        /// What its bearer may do.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List tokens: names, roles, creation and last use (never the tokens).
    List,
    /// Revoke a token by name; takes effect on the next call.
    Revoke {
        /// Name of the token.
        name: String,
    },
}

/// A role on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    /// Reads: lists, gets, status, alerts, previews.
    Viewer,
    /// Also runs backups, verifies, prunes, triggers, pauses and cancels.
    Operator,
    /// Also changes configurations, restores, uploads, downloads and manages tokens.
    Admin,
    /// For schedulers and executors: the only role allowed on CoordinationService.
    Component,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Operator => Role::Operator,
            RoleArg::Admin => Role::Admin,
            RoleArg::Component => Role::Component,
        }
    }
}

/// Arguments of `vigil audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Show at most this many events.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// Runs `tokens ...`.
pub(crate) async fn tokens(ctx: &Ctx, cmd: TokensCmd) -> Result<(), CliError> {
    let client = ctx.client().await?;
    match cmd {
        TokensCmd::Create { name, role } => {
            let created = client.create_token(&name, role.into()).await?;
            if ctx.json {
                let info = created.info.as_ref().map(output::to_json);
                output::print_json(&json!({ "token": created.token, "info": info }));
            } else {
                output::print(created.token);
            }
        }
        TokensCmd::List => {
            let tokens = client.list_tokens().await?;
            if ctx.json {
                output::print_json(&list_json(&tokens));
            } else if tokens.is_empty() {
                output::print("no tokens");
            } else {
                output::print(token_table(&tokens));
            }
        }
        TokensCmd::Revoke { name } => {
            client.revoke_token(&name).await?;
            if ctx.json {
                output::print_json(&json!({ "revoked": name }));
            } else {
                output::print(format!("token {name} revoked"));
            }
        }
    }
    Ok(())
}

/// Runs `audit`.
pub(crate) async fn audit(ctx: &Ctx, args: AuditArgs) -> Result<(), CliError> {
    let events: Vec<AuditEvent> = ctx
        .client()
        .await?
        .list_audit_events()
        .take(args.limit)
        .try_collect()
        .await?;
    if ctx.json {
        output::print_json(&list_json(&events));
    } else if events.is_empty() {
        output::print("no audit events");
    } else {
        let mut table = output::table(["TIME", "CALLER", "ROLE", "METHOD", "TARGET", "OUTCOME"]);
        for e in &events {
            table.add_row(vec![
                format::time(e.time.as_ref()),
                e.caller.clone(),
                role_name(e.role).to_owned(),
                e.method.rsplit('/').next().unwrap_or(&e.method).to_owned(),
                format::or_none(&e.target).to_owned(),
                e.outcome.clone(),
            ]);
        }
        output::print(table);
    }
    Ok(())
}

fn token_table(tokens: &[TokenInfo]) -> comfy_table::Table {
    let mut table = output::table(["NAME", "ROLE", "CREATED", "LAST USED"]);
    for t in tokens {
        table.add_row(vec![
            t.name.clone(),
            role_name(t.role).to_owned(),
            format::time(t.create_time.as_ref()),
            t.last_use_time
                .as_ref()
                .map(|ts| format::ago(Some(ts)))
                .unwrap_or_else(|| "never".to_owned()),
        ]);
    }
    table
}

fn role_name(role: i32) -> &'static str {
    match Role::try_from(role) {
        Ok(Role::Viewer) => "viewer",
        Ok(Role::Operator) => "operator",
        Ok(Role::Admin) => "admin",
        Ok(Role::Component) => "component",
        _ => "-",
    }
}
