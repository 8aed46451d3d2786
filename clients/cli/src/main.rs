//! `vigil`, the command-line client of the Vigil backup suite.
//!
//! Parsing lives in `cli`, each command group in `commands`, renderings in
//! `render` and `output`, and the configuration file format in `yaml`.
//! See `vigil --help` for the exit codes and the JSON mapping.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod ctx;
mod error;
mod flags;
mod output;
mod progress;
mod render;
mod trace;
mod vocab;
mod yaml;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};
use opentelemetry::context::FutureExt as _;

use crate::cli::{Cli, Command};
use crate::commands::{
    about, access, alerts, archive, backup, browse, config, jobs, restore, schedules, status,
};
use crate::ctx::{Ctx, Verbosity};
use crate::error::CliError;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.format(&mut Cli::command()).exit(),
    };
    let command_name = subcommand_path(&matches);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(error::EXIT_FAILURE);
        }
    };
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let ctx = Ctx::new(cli.endpoint.clone(), cli.json, cli.timeout, verbosity);
    let ctx = match ctx.with_credentials(&cli) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(error::EXIT_BAD_INPUT);
        }
    };
    let service = cli.command.service();
    let trace = trace::CommandTrace::start(&command_name);
    let outcome = runtime.block_on(async {
        let outcome = dispatch(&ctx, cli.command)
            .with_context(trace.context())
            .await;
        trace
            .finish(outcome.as_ref().err().map(CliError::exit_code))
            .await;
        outcome
    });
    match outcome {
        Ok(()) => ExitCode::from(error::EXIT_OK),
        Err(e) => {
            for line in e.render(service, &ctx.endpoint) {
                eprintln!("{line}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

async fn dispatch(ctx: &Ctx, command: Command) -> Result<(), CliError> {
    match command {
        Command::Config(cmd) => config::run(ctx, cmd).await,
        Command::Backup(cmd) => backup::run(ctx, cmd).await,
        Command::Jobs(cmd) => jobs::run(ctx, cmd).await,
        Command::Artifacts(cmd) => archive::artifacts(ctx, cmd).await,
        Command::Restore(args) => restore::run(ctx, args).await,
        Command::Verify(args) => backup::verify(ctx, args).await,
        Command::Prune(args) => backup::prune(ctx, args).await,
        Command::Upload(args) => archive::upload(ctx, args).await,
        Command::Download(args) => archive::download(ctx, args).await,
        Command::Find(args) => browse::find(ctx, args).await,
        Command::Diff(args) => browse::diff(ctx, args).await,
        Command::Dump(args) => browse::dump(ctx, args).await,
        Command::Schedules(cmd) => schedules::run(ctx, cmd).await,
        Command::Status(args) => status::run(ctx, args).await,
        Command::Alerts(args) => alerts::run(ctx, args).await,
        Command::Version => about::version(ctx).await,
        Command::Completions(args) => {
            about::completions(&args);
            Ok(())
        }
        Command::Man(args) => about::man(ctx, &args),
        Command::Tokens(cmd) => access::tokens(ctx, cmd).await,
        Command::Audit(args) => access::audit(ctx, args).await,
    }
}

/// The subcommand words of the command line: `backup run`.
fn subcommand_path(matches: &clap::ArgMatches) -> String {
    let mut words = Vec::new();
    let mut current = matches;
    while let Some((name, sub)) = current.subcommand() {
        words.push(name);
        current = sub;
    }
    words.join(" ")
}
