//! `vigil-catalog`: the catalog alone.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use vigil_server::cli::CatalogBinArgs;
use vigil_server::host;
use vigil_server::host::catalog::CatalogSection;
use vigil_server::host::sections::{Hosted, Sections};
use vigil_server::run::{self, Process};
use vigil_server_common::GrpcServer;
use vigil_server_common::settings::{LoadedSettings, SettingsLoader};

const NAME: &str = "vigil-catalog";

fn main() -> ExitCode {
    let args = CatalogBinArgs::parse();
    match run::load_settings(NAME, SettingsLoader::new(&args.common), Hosted::Catalog) {
        Ok((loaded, sections)) => {
            run::block_on(NAME, loaded.settings.log_format, serve(loaded, sections))
        }
        Err(code) => code,
    }
}

async fn serve(loaded: LoadedSettings, sections: Sections) -> anyhow::Result<()> {
    let section: CatalogSection = sections
        .catalog
        .context("the catalog section is loaded for vigil-catalog")?;
    let process = Process::start(NAME, &loaded)?;
    let catalog = host::catalog::open(&loaded, &section).await?;
    let access = host::auth::catalog_access(&loaded, &sections.auth, &catalog, NAME).await?;
    let tls = host::auth::server_tls(&loaded)?;
    let listener = run::bind(loaded.settings.listen).await?;
    let server = GrpcServer::builder()
        .auth(access.policy.clone())
        .tls(tls)
        .local(&access.local);
    // On its own, the catalog's port also answers SchedulerService and
    // ExecutorService calls by forwarding them to live components.
    let server = host::catalog::register(server, &catalog);
    let server = host::catalog::register_forwarding(server, &catalog);
    let handle = host::status::register(server, access.channel.clone())
        .spawn(listener, &process.shutdown)?;
    run::announce(NAME, handle.local_addr(), &loaded);
    let mut background = vec![host::catalog::spawn_background(&catalog, &process.shutdown)];
    background
        .extend(host::status::spawn_metrics(&loaded, access.channel, &process.shutdown).await?);
    process.finish(handle, background).await
}
