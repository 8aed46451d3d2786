//! Hosting the executor: options from the settings and the `[executor]`
//! section, the catalog through a channel that carries its credentials (in
//! `vigild`, the in-process transport), its `ExecutorService` and its lease
//! loop.

use anyhow::Context as _;
use tokio::task::JoinHandle;
use vigil_auth::AuthChannel;
use vigil_executor::{Executor, ExecutorOptions, ExecutorSettings};
use vigil_server_common::settings::{LoadedSettings, RepositoryKeySource};
use vigil_server_common::{GrpcServer, Shutdown};

/// Starts an executor against the catalog behind `catalog` (reported as
/// `catalog_endpoint`); it reports `endpoint`, the URL of the port serving its
/// `ExecutorService`, in its heartbeats.
pub async fn start(
    loaded: &LoadedSettings,
    settings: ExecutorSettings,
    catalog_endpoint: &str,
    endpoint: &str,
    catalog: AuthChannel,
    shutdown: &Shutdown,
) -> anyhow::Result<Executor> {
    let s = &loaded.settings;
    let (repository_key_file, repository_passphrase_env) = match s.repository_key() {
        // The executor generates the default key file on first start.
        RepositoryKeySource::File {
            is_default: true, ..
        } => (None, None),
        RepositoryKeySource::File { path, .. } => (Some(path), None),
        RepositoryKeySource::PassphraseEnv(name) => (None, Some(name)),
    };
    let options = ExecutorOptions {
        catalog_endpoint: catalog_endpoint.to_owned(),
        executor_id: super::process_id("executor"),
        data_dir: s.data_dir.clone(),
        repository: s.repository_location(),
        repository_key_file,
        repository_passphrase_env,
        settings,
        endpoint: endpoint.to_owned(),
    };
    Executor::start_with_catalog(options, catalog, shutdown.token())
        .await
        .context("the executor cannot start")
}

/// Adds `ExecutorService` to the server.
pub fn register(server: GrpcServer, executor: &Executor) -> GrpcServer {
    server.add_service(executor.service())
}

/// Waits for the executor's running jobs to stop after shutdown.
pub fn spawn_join(executor: Executor) -> JoinHandle<()> {
    tokio::spawn(executor.join())
}

/// For an executor in the catalog's own process: once `shutdown` starts,
/// waits (up to half its grace period) until the executor has stopped its
/// running jobs and handed them back to the catalog, and only then starts
/// `serving`, the drain of the port and the catalog's streams. The catalog
/// is thus still there to requeue the jobs and tell their watchers.
pub fn spawn_join_then_drain(
    executor: Executor,
    shutdown: &Shutdown,
    serving: &Shutdown,
) -> JoinHandle<()> {
    let (shutdown, serving) = (shutdown.clone(), serving.clone());
    tokio::spawn(async move {
        shutdown.requested().await;
        let limit = shutdown.grace() / 2;
        if tokio::time::timeout(limit, executor.join()).await.is_err() {
            tracing::warn!(
                limit = ?limit,
                "running jobs did not stop in time; draining anyway"
            );
        }
        serving.trigger();
    })
}
