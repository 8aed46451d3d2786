//! Hosting the scheduler: options from the `[scheduler]` section, the
//! catalog through a channel that carries its credentials (in `vigild`, the
//! in-process transport), its `SchedulerService` and its loops.

use anyhow::Context as _;
use tokio::task::JoinHandle;
use vigil_auth::AuthChannel;
use vigil_scheduler::{Catalog, Scheduler, SchedulerOptions, SchedulerSettings};
use vigil_server_common::{GrpcServer, Shutdown, clock};

/// Starts a scheduler replica against the catalog behind `catalog` (reported as
/// `catalog_endpoint`); it reports `endpoint`, the URL of the port serving its
/// `SchedulerService`, in its heartbeats.
pub async fn start(
    settings: SchedulerSettings,
    catalog_endpoint: &str,
    endpoint: &str,
    catalog: AuthChannel,
    shutdown: &Shutdown,
) -> anyhow::Result<Scheduler> {
    let options = SchedulerOptions {
        catalog_endpoint: catalog_endpoint.to_owned(),
        replica_id: super::process_id("scheduler"),
        clock: clock::system(),
        settings,
        endpoint: endpoint.to_owned(),
    };
    Scheduler::start_with_catalog(options, Catalog::from_channel(catalog), shutdown.token())
        .await
        .context("the scheduler cannot start")
}

/// Adds `SchedulerService` to the server.
pub fn register(server: GrpcServer, scheduler: &Scheduler) -> GrpcServer {
    server.add_service(scheduler.service())
}

/// Waits for the scheduler's loops to stop after shutdown.
pub fn spawn_stopped(scheduler: Scheduler) -> JoinHandle<()> {
    tokio::spawn(scheduler.stopped())
}
