//! What every part of a running executor shares.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use vigil_catalog_client::CatalogClient;
use vigil_proto::catalog::v1::{Artifact, BackupJob};

use crate::engines::Engines;
use crate::repo::Repo;
use crate::settings::ExecutorOptions;

/// How a job ended, for whoever waits on it (an upload RPC).
pub type Finished = std::result::Result<(BackupJob, Option<Artifact>), tonic::Status>;

/// State shared by the job loop, the running jobs and the gRPC service.
#[derive(Debug)]
pub struct Shared {
    /// The options the executor started with.
    pub opts: ExecutorOptions,
    /// The repository.
    pub repo: Repo,
    /// Engines found at start.
    pub engines: Engines,
    /// Capabilities advertised and leased with.
    pub capabilities: Vec<String>,
    /// The capability only this executor has (uploads staged here run here).
    pub own_capability: String,
    /// The catalog. Its calls carry the current span's trace context, so
    /// that a job's HeartbeatJob, CompleteJob and FailJob belong to the
    /// job's trace.
    pub catalog: CatalogClient,
    /// What jobs may read, write and send as passwords.
    pub policy: crate::policy::Policy,
    /// Where uploads and rendered archives are staged.
    pub staging: PathBuf,
    /// When the executor started.
    pub start_time: SystemTime,
    /// Jobs running now: id to their stop token.
    pub running: Mutex<BTreeMap<String, CancellationToken>>,
    /// Upload RPCs waiting for their job, by staging path.
    pub waiters: Mutex<HashMap<String, oneshot::Sender<Finished>>>,
    /// Stops everything.
    pub shutdown: CancellationToken,
}

impl Shared {
    /// Ids of the jobs running now.
    pub fn running_jobs(&self) -> Vec<String> {
        self.running
            .lock()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Hands the end of a job to the upload RPC waiting on it, if any.
    pub fn notify(&self, staging_path: &str, finished: Finished) {
        let waiter = self
            .waiters
            .lock()
            .ok()
            .and_then(|mut w| w.remove(staging_path));
        if let Some(tx) = waiter {
            let _ = tx.send(finished);
        }
    }
}
