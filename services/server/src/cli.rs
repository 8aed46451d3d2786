//! Command-line flags of each binary. The shared flags come from
//! [`vigil_server_common::settings::CommonArgs`]; the scheduler and the
//! executor add `--catalog`.

use clap::Parser;
use vigil_server_common::settings::{CatalogArgs, CommonArgs};

/// `vigild`: catalog, scheduler and executor in one process, on one port.
#[derive(Debug, Parser)]
#[command(
    name = "vigild",
    version,
    about = "Vigil: catalog, scheduler and executor in one process"
)]
pub struct VigildArgs {
    /// Flags shared by every server.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `vigil-catalog`: the catalog alone.
#[derive(Debug, Parser)]
#[command(name = "vigil-catalog", version, about = "Vigil catalog service")]
pub struct CatalogBinArgs {
    /// Flags shared by every server.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `vigil-scheduler`: the scheduler alone, against a remote catalog.
#[derive(Debug, Parser)]
#[command(name = "vigil-scheduler", version, about = "Vigil scheduler service")]
pub struct SchedulerBinArgs {
    /// Flags shared by every server.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Where the catalog is.
    #[command(flatten)]
    pub catalog: CatalogArgs,
}

/// `vigil-executor`: the executor alone, against a remote catalog.
#[derive(Debug, Parser)]
#[command(name = "vigil-executor", version, about = "Vigil executor service")]
pub struct ExecutorBinArgs {
    /// Flags shared by every server.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Where the catalog is.
    #[command(flatten)]
    pub catalog: CatalogArgs,
}
