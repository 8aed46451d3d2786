//! Starting and stopping an executor.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vigil_auth::{AuthChannel, ClientCredentials};
use vigil_catalog_client::{CatalogClient, ChannelSettings};
use vigil_proto::executor::v1::executor_service_server::{ExecutorService, ExecutorServiceServer};

use crate::engines::Engines;
use crate::error::{Error, Result};
use crate::service::ExecutorApi;
use crate::settings::ExecutorOptions;
use crate::state::Shared;
use crate::{repo, report, runner};

/// Prefixes of staging leftovers that no job can still need after a restart.
const TEMPORARY: [&str; 5] = ["render-", "archive-", "drill-", "sqlite-copy-", ".tmp"];

/// A running executor: its job loop, its heartbeat to the catalog, and the
/// state its gRPC service serves from.
#[derive(Debug)]
pub struct Executor {
    shared: Arc<Shared>,
    tasks: TaskTracker,
}

impl Executor {
    /// Opens (or creates) the repository, probes the dump tools, and starts
    /// leasing jobs from the catalog at `opts.catalog_endpoint`. The catalog
    /// may come up later: the connection is made lazily and retried.
    /// Everything stops when `shutdown` is cancelled; see [`Executor::join`].
    pub async fn start(opts: ExecutorOptions, shutdown: CancellationToken) -> Result<Executor> {
        let channel = ChannelSettings::default()
            .connect_lazy(&ClientCredentials::default(), &opts.catalog_endpoint)
            .map_err(|e| Error::invalid("catalog", e.to_string()))?;
        Self::start_with_catalog(opts, channel, shutdown).await
    }

    /// Like [`Executor::start`], with the catalog reached through `channel`
    /// (which carries the executor's credentials); `opts.catalog_endpoint`
    /// is then only reported.
    pub async fn start_with_catalog(
        opts: ExecutorOptions,
        channel: AuthChannel,
        shutdown: CancellationToken,
    ) -> Result<Executor> {
        opts.validate()?;
        let staging = opts.staging_dir();
        std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        clean_staging(&staging);
        let repo = {
            let opts = opts.clone();
            tokio::task::spawn_blocking(move || repo::open_or_create(&opts))
                .await
                .map_err(|e| Error::Internal(format!("opening the repository: {e}")))??
        };
        let engines = Engines::probe(None).await;
        let own_capability = format!(
            "executor:{}",
            &blake3::hash(opts.executor_id.as_bytes()).to_hex()[..16]
        );
        let mut capabilities = engines.capabilities();
        capabilities.push(own_capability.clone());
        // Executors sharing a repository share this one: any of them may run
        // a job staged in it.
        capabilities.push(vigil_proto::capabilities::repository(repo.repository.id()));
        let own_paths: Vec<std::path::PathBuf> = [
            Some(opts.data_dir.clone()),
            // A local repository's directory; an object store has none here.
            (!opts.is_object_store()).then(|| opts.repository_location().into()),
            opts.repository_key_file.clone(),
            Some(staging.clone()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let policy = crate::policy::Policy::new(&opts, &own_paths)?;
        let shared = Arc::new(Shared {
            policy,
            opts,
            repo,
            engines,
            capabilities,
            own_capability,
            catalog: CatalogClient::new(channel),
            staging,
            start_time: SystemTime::now(),
            running: Mutex::new(BTreeMap::new()),
            waiters: Mutex::new(HashMap::new()),
            shutdown,
        });
        tracing::info!(
            executor = %shared.opts.executor_id,
            repository = %shared.repo.location,
            capabilities = ?shared.capabilities,
            concurrency = shared.opts.settings.concurrency,
            "executor started"
        );
        let tasks = TaskTracker::new();
        tasks.spawn(report::report_loop(shared.clone()));
        tasks.spawn(runner::lease_loop(shared.clone()));
        tasks.close();
        Ok(Executor { shared, tasks })
    }

    /// The gRPC service to add to a server.
    pub fn service(&self) -> ExecutorServiceServer<impl ExecutorService> {
        ExecutorServiceServer::new(ExecutorApi::new(self.shared.clone()))
            .max_decoding_message_size(vigil_proto::MAX_REQUEST_BYTES)
            .max_encoding_message_size(8 << 20)
    }

    /// This executor's id.
    pub fn id(&self) -> &str {
        &self.shared.opts.executor_id
    }

    /// The capabilities it advertises.
    pub fn capabilities(&self) -> &[String] {
        &self.shared.capabilities
    }

    /// Waits until the job loop and the heartbeat have stopped (after the
    /// shutdown token was cancelled). Running jobs end first: each stops at
    /// its next check and is put back in the queue for another executor.
    pub async fn join(self) {
        self.tasks.wait().await;
    }
}

fn clean_staging(staging: &std::path::Path) {
    let Ok(dir) = std::fs::read_dir(staging) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if TEMPORARY.iter().any(|p| name.starts_with(p)) {
            let path = entry.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if removed.is_ok() {
                tracing::info!(path = %path.display(), "removed a staging leftover");
            }
        }
    }
}
