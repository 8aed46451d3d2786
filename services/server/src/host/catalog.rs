//! Hosting the catalog: open the store from the settings, serve its two
//! services, and run its background work (lease reaping) until shutdown.

use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tracing::info;
use vigil_catalog::{Catalog, CatalogOptions};
use vigil_server_common::settings::{LoadedSettings, SettingsError, duration, redact::redact_url};
use vigil_server_common::{GrpcServer, Shutdown};

/// Name of the catalog's own section in the configuration.
pub const SECTION: &str = "catalog_server";

/// The `[catalog_server]` section of the configuration file: how the
/// catalog itself behaves. (The top-level `catalog` key is the endpoint a
/// scheduler or executor calls, so the section has its own name.)
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogSection {
    /// How often expired job leases are reclaimed.
    #[serde(with = "duration")]
    pub lease_reap_interval: Duration,
    /// A scheduler or executor is alive while its last heartbeat is younger.
    #[serde(with = "duration")]
    pub component_timeout: Duration,
    /// A component without a heartbeat for this long leaves the live view
    /// (`ListComponents`).
    #[serde(with = "duration")]
    pub component_gone_after: Duration,
    /// A component without a heartbeat for this long is deleted.
    #[serde(with = "duration")]
    pub component_delete_after: Duration,
    /// Finished jobs and schedule outcomes are kept this long; each
    /// configuration's newest success and every job an artifact references
    /// are kept regardless.
    #[serde(with = "duration")]
    pub history_retention: Duration,
}

impl Default for CatalogSection {
    fn default() -> Self {
        let defaults = CatalogOptions::new("");
        Self {
            lease_reap_interval: defaults.lease_reap_interval,
            component_timeout: defaults.component_timeout,
            component_gone_after: defaults.component_gone_after,
            component_delete_after: defaults.component_delete_after,
            history_retention: defaults.history_retention,
        }
    }
}

impl CatalogSection {
    /// Extracts and checks the `[catalog_server]` section.
    pub fn from_settings(loaded: &LoadedSettings) -> Result<Self, SettingsError> {
        let section: Self = loaded.section(SECTION)?;
        if section.lease_reap_interval.is_zero() {
            return Err(loaded.invalid(
                "catalog_server.lease_reap_interval",
                "must be longer than zero",
            ));
        }
        if section.component_timeout.is_zero() {
            return Err(loaded.invalid(
                "catalog_server.component_timeout",
                "must be longer than zero",
            ));
        }
        if section.component_gone_after <= section.component_timeout {
            return Err(loaded.invalid(
                "catalog_server.component_gone_after",
                "must be longer than component_timeout",
            ));
        }
        if section.component_delete_after < section.component_gone_after {
            return Err(loaded.invalid(
                "catalog_server.component_delete_after",
                "must be at least component_gone_after",
            ));
        }
        if section.history_retention < Duration::from_secs(86_400) {
            return Err(loaded.invalid(
                "catalog_server.history_retention",
                "must be at least one day",
            ));
        }
        Ok(section)
    }
}

/// Opens the catalog named by the settings: PostgreSQL when `database_url`
/// is set, SQLite in the data dir otherwise.
pub async fn open(loaded: &LoadedSettings, section: &CatalogSection) -> anyhow::Result<Catalog> {
    let settings = &loaded.settings;
    let options = CatalogOptions {
        database_url: settings.database_url.clone(),
        lease_reap_interval: section.lease_reap_interval,
        component_timeout: section.component_timeout,
        component_gone_after: section.component_gone_after,
        component_delete_after: section.component_delete_after,
        history_retention: section.history_retention,
        ..CatalogOptions::new(&settings.data_dir)
    };
    let where_ = match &settings.database_url {
        Some(url) => redact_url(url),
        None => format!("sqlite in {}", settings.data_dir.display()),
    };
    let catalog = Catalog::open(options)
        .await
        .with_context(|| format!("catalog database {where_} cannot be opened"))?;
    info!(database = %where_, "catalog open");
    Ok(catalog)
}

/// Adds the catalog's services (catalog, coordination, access) to the server.
pub fn register(server: GrpcServer, catalog: &Catalog) -> GrpcServer {
    server
        .add_service(catalog.catalog_service())
        .add_service(catalog.coordination_service())
        .add_service(catalog.access_service())
}

/// Adds `SchedulerService` and `ExecutorService`, forwarded to the live
/// schedulers and executors that report an endpoint (a catalog on its own;
/// `vigild` serves both itself).
pub fn register_forwarding(server: GrpcServer, catalog: &Catalog) -> GrpcServer {
    let (scheduler, executor) = catalog.forwarding_services();
    server.add_service(scheduler).add_service(executor)
}

/// Runs the catalog's background work until shutdown; when it starts, ends
/// the catalog's open streams so the server's drain need not wait for them.
pub fn spawn_background(catalog: &Catalog, shutdown: &Shutdown) -> JoinHandle<()> {
    let catalog = catalog.clone();
    let token = shutdown.token();
    tokio::spawn(async move {
        let close = async {
            token.cancelled().await;
            catalog.close_streams();
        };
        tokio::join!(catalog.run_background(token.clone()), close);
    })
}
