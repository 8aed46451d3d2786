//! `vigil-scheduler`: the scheduler alone, against a remote catalog.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use vigil_server::cli::SchedulerBinArgs;
use vigil_server::host;
use vigil_server::host::sections::{Hosted, Sections};
use vigil_server::run::{self, Process};
use vigil_server_common::GrpcServer;
use vigil_server_common::settings::{LoadedSettings, SettingsLoader};

const NAME: &str = "vigil-scheduler";

fn main() -> ExitCode {
    let args = SchedulerBinArgs::parse();
    let loader = SettingsLoader::new(&args.common).with_catalog_args(&args.catalog);
    match run::load_settings(NAME, loader, Hosted::Scheduler) {
        Ok((loaded, sections)) => {
            run::block_on(NAME, loaded.settings.log_format, serve(loaded, sections))
        }
        Err(code) => code,
    }
}

async fn serve(loaded: LoadedSettings, sections: Sections) -> anyhow::Result<()> {
    let settings = sections
        .scheduler
        .context("the [scheduler] section is loaded for vigil-scheduler")?;
    let process = Process::start(NAME, &loaded)?;
    let catalog = loaded.settings.catalog_endpoint();
    let access = host::auth::remote_access(&loaded, &sections.auth)?;
    let tls = host::auth::server_tls(&loaded)?;
    // Bound first: the heartbeats carry the port's address, so that a
    // catalog on its own can forward calls here.
    let listener = run::bind(loaded.settings.listen).await?;
    let endpoint = host::advertised_endpoint(listener.local_addr()?);
    let scheduler = host::scheduler::start(
        settings,
        &catalog,
        &endpoint,
        access.channel.clone(),
        &process.shutdown,
    )
    .await?;
    let server = GrpcServer::builder().auth(access.policy).tls(tls);
    let handle =
        host::scheduler::register(server, &scheduler).spawn(listener, &process.shutdown)?;
    run::announce(NAME, handle.local_addr(), &loaded);
    let mut background = vec![host::scheduler::spawn_stopped(scheduler)];
    // The admin port serves the catalog-wide metrics, so any process can be scraped.
    background
        .extend(host::status::spawn_metrics(&loaded, access.channel, &process.shutdown).await?);
    process.finish(handle, background).await
}
