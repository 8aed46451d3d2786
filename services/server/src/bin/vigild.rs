//! `vigild`: catalog, scheduler and executor in one process, on one port.

use std::process::ExitCode;

use clap::Parser;
use vigil_server::cli::VigildArgs;
use vigil_server::host;
use vigil_server::host::sections::{Hosted, Sections};
use vigil_server::run::{self, Process};
use vigil_server_common::settings::{LoadedSettings, SettingsLoader};
use vigil_server_common::{GrpcServer, Shutdown};

const NAME: &str = "vigild";

fn main() -> ExitCode {
    let args = VigildArgs::parse();
    match run::load_settings(NAME, SettingsLoader::new(&args.common), Hosted::All) {
        Ok((loaded, sections)) => {
            run::block_on(NAME, loaded.settings.log_format, serve(loaded, sections))
        }
        Err(code) => code,
    }
}

async fn serve(loaded: LoadedSettings, sections: Sections) -> anyhow::Result<()> {
    let Sections {
        auth,
        catalog: Some(catalog_section),
        scheduler: Some(scheduler_settings),
        executor: Some(executor_settings),
    } = sections
    else {
        anyhow::bail!("vigild hosts every service, so every section is loaded");
    };
    let process = Process::start(NAME, &loaded)?;
    let catalog = host::catalog::open(&loaded, &catalog_section).await?;
    let access = host::auth::catalog_access(&loaded, &auth, &catalog, NAME).await?;
    let tls = host::auth::server_tls(&loaded)?;
    let listener = run::bind(loaded.settings.listen).await?;
    let self_endpoint = vigil_server_common::server::endpoint_for(listener.local_addr()?);
    let advertised = host::advertised_endpoint(listener.local_addr()?);
    let server = GrpcServer::builder()
        .auth(access.policy.clone())
        .tls(tls)
        .local(&access.local);
    let server = host::catalog::register(server, &catalog);
    let server = host::status::register(server, access.channel.clone());

    // The scheduler and the executor reach the catalog through the
    // in-process transport, served by the same router and auth layer as the
    // port; their connections are lazy, so they start before the server.
    let scheduler = host::scheduler::start(
        scheduler_settings,
        &self_endpoint,
        &advertised,
        access.channel.clone(),
        &process.shutdown,
    )
    .await?;
    let server = host::scheduler::register(server, &scheduler);
    let executor = host::executor::start(
        &loaded,
        executor_settings,
        &self_endpoint,
        &advertised,
        access.channel.clone(),
        &process.shutdown,
    )
    .await?;
    let server = host::executor::register(server, &executor);

    // The port and the catalog drain only after the executor has handed
    // its running jobs back (see `spawn_join_then_drain`).
    let serving = Shutdown::new(process.shutdown.grace());
    let handle = server.spawn(listener, &serving)?;
    run::announce(NAME, handle.local_addr(), &loaded);
    let mut background = vec![
        host::catalog::spawn_background(&catalog, &serving),
        host::executor::spawn_join_then_drain(executor, &process.shutdown, &serving),
        host::scheduler::spawn_stopped(scheduler),
    ];
    background
        .extend(host::status::spawn_metrics(&loaded, access.channel, &process.shutdown).await?);
    process.finish(handle, background).await
}
