//! Every settings section a binary uses, extracted into typed values and
//! validated before anything starts: no data dir created, no database
//! migrated, no port bound. A bad value fails with the dotted setting and
//! the layer it came from, and the binary exits 2.

use vigil_executor::ExecutorSettings;
use vigil_scheduler::SchedulerSettings;
use vigil_scheduler::settings::AlertSection;
use vigil_server_common::settings::{LoadedSettings, SettingsError};

use super::auth::AuthSection;
use super::catalog::CatalogSection;

/// Which services a binary hosts, and so which sections it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosted {
    /// `vigild`: the catalog, the scheduler and the executor.
    All,
    /// `vigil-catalog`.
    Catalog,
    /// `vigil-scheduler`.
    Scheduler,
    /// `vigil-executor`.
    Executor,
}

/// The checked sections of a binary; `None` for services it does not host.
#[derive(Debug, Clone)]
pub struct Sections {
    /// `[auth]`.
    pub auth: AuthSection,
    /// `[catalog_server]`.
    pub catalog: Option<CatalogSection>,
    /// `[scheduler]` with the webhook keys of `[alerts]`.
    pub scheduler: Option<SchedulerSettings>,
    /// `[executor]`.
    pub executor: Option<ExecutorSettings>,
}

impl Sections {
    /// Extracts and validates the sections the hosted services use.
    pub fn load(loaded: &LoadedSettings, hosted: Hosted) -> Result<Self, SettingsError> {
        let (catalog, scheduler, executor) = match hosted {
            Hosted::All => (true, true, true),
            Hosted::Catalog => (true, false, false),
            Hosted::Scheduler => (false, true, false),
            Hosted::Executor => (false, false, true),
        };
        Ok(Self {
            auth: AuthSection::from_settings(loaded)?,
            catalog: catalog
                .then(|| CatalogSection::from_settings(loaded))
                .transpose()?,
            scheduler: scheduler.then(|| scheduler_section(loaded)).transpose()?,
            executor: executor.then(|| executor_section(loaded)).transpose()?,
        })
    }
}

fn scheduler_section(loaded: &LoadedSettings) -> Result<SchedulerSettings, SettingsError> {
    let scheduler: SchedulerSettings = loaded.section("scheduler")?;
    let alerts: AlertSection = loaded.section("alerts")?;
    scheduler.with_alerts(alerts).map_err(|e| match e {
        vigil_scheduler::Error::Settings { setting, reason } => loaded.invalid(setting, reason),
        other => loaded.invalid("scheduler", other.to_string()),
    })
}

fn executor_section(loaded: &LoadedSettings) -> Result<ExecutorSettings, SettingsError> {
    let executor: ExecutorSettings = loaded.section("executor")?;
    executor.validate().map_err(|e| match e {
        vigil_executor::Error::InvalidArgument { field, reason } => loaded.invalid(field, reason),
        other => loaded.invalid("executor", other.to_string()),
    })?;
    Ok(executor)
}
