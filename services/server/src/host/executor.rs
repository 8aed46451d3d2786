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
