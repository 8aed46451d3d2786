//! `vigil-scheduler`: the scheduler alone, against a remote catalog.

use std::process::ExitCode;

use clap::Parser;
use vigil_server::cli::SchedulerBinArgs;
use vigil_server::host;
use vigil_server::run;
use vigil_server_common::settings::SettingsLoader;

const NAME: &str = "vigil-scheduler";

fn main() -> ExitCode {
    let args = SchedulerBinArgs::parse();
    let loader = SettingsLoader::new(&args.common).with_catalog_args(&args.catalog);
    if let Err(code) = run::load_settings(NAME, loader) {
        return code;
    }
    // The lead wires the scheduler through `host::scheduler`.
    eprintln!("{NAME}: {}", host::scheduler::NOT_AVAILABLE);
    ExitCode::from(run::EXIT_UNAVAILABLE)
}
