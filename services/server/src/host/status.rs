//! Hosting the status report and the metrics endpoint beside the catalog.
//! Both read the catalog over gRPC through a channel with the process's
//! credentials, so they work the same whether the catalog is in this
//! process or elsewhere.

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{info, warn};
use vigil_auth::AuthChannel;
use vigil_server_common::settings::LoadedSettings;
use vigil_server_common::{GrpcServer, Shutdown, clock};
use vigil_status::StatusServer;

/// Adds `StatusService` to the server.
pub fn register(server: GrpcServer, catalog: AuthChannel) -> GrpcServer {
    server.add_service(StatusServer::new(catalog, clock::system()).into_service())
}

/// Serves `/metrics` on `--admin-listen`, when it is set.
pub async fn spawn_metrics(
    loaded: &LoadedSettings,
    catalog: AuthChannel,
    shutdown: &Shutdown,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    let Some(addr) = loaded.settings.admin_listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("admin_listen {addr} cannot be bound"))?;
    let bound = listener.local_addr()?;
    info!(%bound, "metrics on http://{bound}/metrics");
    println!("admin listening on {bound}");
    let token = shutdown.token();
    Ok(Some(tokio::spawn(async move {
        if let Err(e) = vigil_status::serve_metrics(listener, catalog, clock::system(), token).await
        {
            warn!(error = %e, "metrics endpoint stopped");
        }
    })))
}
