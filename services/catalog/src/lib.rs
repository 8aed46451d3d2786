//! The Vigil catalog: backup configurations, the job queue and history,
//! schedule state, artifacts, alerts and component heartbeats, stored with
//! sqlx on SQLite (the embedded default) or PostgreSQL (shared by replicas).
//!
//! Everyone else calls the catalog; it calls nobody. It serves three gRPC
//! services: the public `CatalogService`, the internal
//! `CoordinationService` used by schedulers and executors, and
//! `AccessService` (bearer tokens, the caller's identity, the audit trail).
//! [`access`] checks tokens for the auth layer and writes the bootstrap
//! token files.
//!
//! ```no_run
//! # async fn run() -> vigil_catalog::Result<()> {
//! use vigil_catalog::{Catalog, CatalogOptions};
//! let catalog = Catalog::open(CatalogOptions::new("/var/lib/vigil")).await?;
//! let router = tonic::transport::Server::builder()
//!     .add_service(catalog.catalog_service())
//!     .add_service(catalog.coordination_service());
//! # let _ = router; Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod access;
mod background;
pub mod db;
pub mod error;
pub mod events;
mod grpc;
pub mod mask;
pub mod page;
pub mod redact;
mod relay;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod validate;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vigil_proto::catalog::v1::access_service_server::{AccessService, AccessServiceServer};
use vigil_proto::catalog::v1::catalog_service_server::{CatalogService, CatalogServiceServer};
use vigil_proto::catalog::v1::coordination_service_server::{
    CoordinationService, CoordinationServiceServer,
};
use vigil_server_common::auth::TokenCache;
use vigil_server_common::clock::SharedClock;

pub use error::{Error, Result};
pub use grpc::{
    AccessApi, CatalogApi, CoordinationApi, ExecutorTarget, Forward, ForwardTarget, SchedulerTarget,
};
pub use store::Store;

/// How the catalog is opened.
#[derive(Debug, Clone)]
pub struct CatalogOptions {
    /// `postgres://...` for a shared catalog; `None` for `catalog.db` in `data_dir`.
    pub database_url: Option<String>,
    /// Directory of the SQLite catalog (created if missing).
    pub data_dir: PathBuf,
    /// Source of "now" for every stored time.
    pub clock: SharedClock,
    /// How often the background task reclaims expired leases.
    pub lease_reap_interval: Duration,
    /// A component is alive when its last heartbeat is at most this old.
    pub component_timeout: Duration,
    /// A component without a heartbeat for this long leaves `ListComponents`
    /// (unless `include_gone`).
    pub component_gone_after: Duration,
    /// A component without a heartbeat for this long is deleted.
    pub component_delete_after: Duration,
    /// Finished jobs and schedule outcomes older than this are pruned, except
    /// each configuration's newest successful backup and jobs an artifact
    /// still references.
    pub history_retention: Duration,
}

impl CatalogOptions {
    /// SQLite in `data_dir`, the wall clock, and default intervals.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            database_url: None,
            data_dir: data_dir.into(),
            clock: vigil_server_common::clock::system(),
            lease_reap_interval: Duration::from_secs(5),
            component_timeout: Duration::from_secs(30),
            component_gone_after: Duration::from_secs(3600),
            component_delete_after: Duration::from_secs(7 * 86_400),
            history_retention: Duration::from_secs(400 * 86_400),
        }
    }
}

/// An open catalog: the store plus its services. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Catalog {
    store: Store,
    options: CatalogOptions,
    /// Local changes waiting to be relayed to other replicas (PostgreSQL only),
    /// taken by the first `run_background`.
    relay: Arc<Mutex<Option<tokio::sync::mpsc::Receiver<events::Event>>>>,
    /// Recently checked tokens, shared by the authenticator and revocation.
    tokens: Arc<TokenCache>,
}

impl Catalog {
    /// Connects to the database and applies the migrations.
    pub async fn open(options: CatalogOptions) -> Result<Catalog> {
        let db = db::Db::open(options.database_url.as_deref(), &options.data_dir).await?;
        let (events, relay) = match db.dialect() {
            db::Dialect::Postgres => {
                let (events, rx) = events::Events::with_relay();
                (events, Some(rx))
            }
            db::Dialect::Sqlite => (events::Events::new(), None),
        };
        let lifetimes = store::Lifetimes {
            component_timeout: options.component_timeout,
            component_gone_after: options.component_gone_after,
            component_delete_after: options.component_delete_after,
            history_retention: options.history_retention,
        };
        let store = Store::new(db, options.clock.clone(), events, lifetimes);
        Ok(Catalog {
            store,
            options,
            relay: Arc::new(Mutex::new(relay)),
            tokens: Arc::new(TokenCache::new(access::TOKEN_TTL)),
        })
    }

    /// The public `CatalogService`.
    pub fn catalog_service(&self) -> CatalogServiceServer<impl CatalogService> {
        CatalogServiceServer::new(CatalogApi::new(self.store.clone()))
            .max_decoding_message_size(vigil_proto::MAX_REQUEST_BYTES)
    }

    /// The internal `CoordinationService`.
    pub fn coordination_service(&self) -> CoordinationServiceServer<impl CoordinationService> {
        CoordinationServiceServer::new(CoordinationApi::new(self.store.clone()))
            .max_decoding_message_size(vigil_proto::MAX_REQUEST_BYTES)
    }

    /// `AccessService`: tokens, the caller's identity and the audit trail.
    pub fn access_service(&self) -> AccessServiceServer<impl AccessService> {
        AccessServiceServer::new(AccessApi::new(self.store.clone(), self.tokens.clone()))
            .max_decoding_message_size(vigil_proto::MAX_REQUEST_BYTES)
    }

    /// Checks bearer tokens against this catalog's tokens table.
    pub fn authenticator(&self) -> access::CatalogAuthenticator {
        access::CatalogAuthenticator::new(self.store.clone(), self.tokens.clone())
    }

    /// Records audit events in this catalog.
    pub fn audit_sink(&self) -> access::StoreAudit {
        access::StoreAudit::new(self.store.clone())
    }

    /// Creates the bootstrap tokens and their files in `data_dir` when no
    /// token exists yet.
    pub async fn bootstrap_tokens(
        &self,
        data_dir: &std::path::Path,
    ) -> Result<Option<access::BootstrapFiles>> {
        access::bootstrap(&self.store, data_dir).await
    }

    /// `SchedulerService` and `ExecutorService` forwarded to live schedulers
    /// and executors, for a catalog that runs on its own (see `grpc::forward`).
    pub fn forwarding_services(&self) -> (Forward<SchedulerTarget>, Forward<ExecutorTarget>) {
        grpc::forward::services(self.store.clone())
    }

    /// Typed queries, for the status report.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Ends the open `WatchJob` and `WatchEvents` streams with UNAVAILABLE,
    /// so a draining server does not wait for them; call when the server's
    /// drain starts.
    pub fn close_streams(&self) {
        self.store.events().close();
    }

    /// Runs the lease reaper, the catalog's own heartbeat and, on PostgreSQL,
    /// the relay of changes between replicas, until `shutdown`.
    pub async fn run_background(&self, shutdown: CancellationToken) {
        let relay = self.relay.lock().unwrap_or_else(|e| e.into_inner()).take();
        let relay = async {
            if let (Some(rx), Some(url)) = (relay, self.options.database_url.clone()) {
                relay::run(url, self.store.events().clone(), rx, shutdown.clone()).await;
            }
        };
        let reaper = background::run(
            self.store.clone(),
            self.options.lease_reap_interval,
            shutdown.clone(),
        );
        tokio::join!(relay, reaper);
    }
}
