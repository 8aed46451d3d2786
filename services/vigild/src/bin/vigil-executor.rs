//! `vigil-executor`: the executor alone, against a remote catalog.

use std::process::ExitCode;

use clap::Parser;
use vigil_server::cli::ExecutorBinArgs;
use vigil_server::host;
use vigil_server::run;
use vigil_server_common::settings::SettingsLoader;

const NAME: &str = "vigil-executor";

fn main() -> ExitCode {
    let args = ExecutorBinArgs::parse();
    let loader = SettingsLoader::new(&args.common).with_catalog_args(&args.catalog);
    if let Err(code) = run::load_settings(NAME, loader) {
        return code;
    }
    // The lead wires the executor through `host::executor`.
    eprintln!("{NAME}: {}", host::executor::NOT_AVAILABLE);
    ExitCode::from(run::EXIT_UNAVAILABLE)
}
