//! `vigild`: catalog, scheduler and executor in one process, on one port.

use std::process::ExitCode;

use clap::Parser;
use vigil_server::cli::VigildArgs;
use vigil_server::host;
use vigil_server::host::catalog::CatalogSection;
use vigil_server::run::{self, Process};
use vigil_server_common::GrpcServer;
use vigil_server_common::settings::{LoadedSettings, SettingsLoader};

const NAME: &str = "vigild";

fn main() -> ExitCode {
    let args = VigildArgs::parse();
    let loaded = match run::load_settings(NAME, SettingsLoader::new(&args.common)) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let section = match CatalogSection::from_settings(&loaded) {
        Ok(section) => section,
        Err(e) => return run::usage_error(NAME, &e),
    };
    run::block_on(NAME, serve(loaded, section))
}

async fn serve(loaded: LoadedSettings, section: CatalogSection) -> anyhow::Result<()> {
    let process = Process::start(NAME, &loaded)?;
    let catalog = host::catalog::open(&loaded, &section).await?;
    let listener = run::bind(loaded.settings.listen).await?;
    let self_endpoint = vigil_server_common::server::endpoint_for(listener.local_addr()?);
    let advertised = host::advertised_endpoint(listener.local_addr()?);
    let catalog_channel = host::status::catalog_channel(&self_endpoint)?;
    let server = host::catalog::register(GrpcServer::builder(), &catalog);
    let server = host::status::register(server, catalog_channel.clone());

    // The scheduler and the executor reach the catalog through this
    // process's own port, exactly as they would from another machine; their
    // connections are lazy, so they start before the server accepts.
    let scheduler =
        host::scheduler::start(&loaded, &self_endpoint, &advertised, &process.shutdown).await?;
    let server = host::scheduler::register(server, &scheduler);
    let executor =
        host::executor::start(&loaded, &self_endpoint, &advertised, &process.shutdown).await?;
    let server = host::executor::register(server, &executor);

    let handle = server.spawn(listener, &process.shutdown)?;
    run::announce(NAME, handle.local_addr(), &loaded);
    let mut background = vec![
        host::catalog::spawn_background(&catalog, &process.shutdown),
        host::executor::spawn_join(executor),
        host::scheduler::spawn_stopped(scheduler),
    ];
    background
        .extend(host::status::spawn_metrics(&loaded, catalog_channel, &process.shutdown).await?);
    process.finish(handle, background).await
}
