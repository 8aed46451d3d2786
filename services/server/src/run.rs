//! What every server binary does around its services: load settings, set
//! up telemetry and signals, bind, announce, serve, drain, exit.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{info, warn};
use vigil_server_common::settings::{LoadedSettings, LogFormat, SettingsError, SettingsLoader};
use vigil_server_common::telemetry::{self, TelemetryGuard, TelemetryOptions};
use vigil_server_common::{ServerHandle, Shutdown};

use crate::host;
use crate::host::sections::{Hosted, Sections};

/// Exit code for bad flags or settings.
pub const EXIT_USAGE: u8 = 2;

/// Loads and validates the settings and every section the binary uses,
/// before anything starts; on failure prints `name: reason` on standard
/// error and returns the usage exit code.
pub fn load_settings(
    name: &str,
    loader: SettingsLoader,
    hosted: Hosted,
) -> Result<(LoadedSettings, Sections), ExitCode> {
    let format = loader.requested_log_format();
    let loaded = loader.load().map_err(|e| usage_error(name, format, &e))?;
    let sections = Sections::load(&loaded, hosted).map_err(|e| usage_error(name, format, &e))?;
    Ok((loaded, sections))
}

/// Prints a settings error (as `name: reason`, or a JSON line naming the
/// setting) and returns the usage exit code.
pub fn usage_error(name: &str, format: LogFormat, error: &SettingsError) -> ExitCode {
    let message = error.to_string();
    let fields: Vec<(&str, &str)> = error
        .setting()
        .map(|s| ("setting", s))
        .into_iter()
        .collect();
    telemetry::print_error(format, name, &message, &fields);
    ExitCode::from(EXIT_USAGE)
}

/// Runs `work` on a multi-threaded runtime; an error is printed with its
/// causes (in the log `format`) and exits 1. Caps the malloc arenas first,
/// before any thread starts ([`vigil_server_common::memory`]).
pub fn block_on<F>(name: &str, format: LogFormat, work: F) -> ExitCode
where
    F: Future<Output = anyhow::Result<()>>,
{
    vigil_server_common::memory::limit_malloc_arenas();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let message = format!("tokio runtime cannot start: {e}");
            telemetry::print_error(format, name, &message, &[]);
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            telemetry::print_error(format, name, &format!("{e:#}"), &[]);
            ExitCode::FAILURE
        }
    }
}

/// Process-wide state of a running server binary.
#[derive(Debug)]
pub struct Process {
    /// The shutdown every task of the process watches.
    pub shutdown: Shutdown,
    telemetry: TelemetryGuard,
}

impl Process {
    /// Sets up telemetry, logs the (redacted) settings, creates the data
    /// dir and installs the signal handlers. Call inside the runtime.
    pub fn start(service_name: &'static str, loaded: &LoadedSettings) -> anyhow::Result<Self> {
        let settings = &loaded.settings;
        let telemetry = telemetry::init(&TelemetryOptions {
            service_name,
            service_version: env!("CARGO_PKG_VERSION"),
            log_format: settings.log_format,
        })?;
        info!(
            service = service_name,
            config_file = ?loaded.config_file,
            otlp_export = telemetry.is_exporting(),
            settings = %settings.redacted(),
            "starting"
        );
        host::data_dir::ensure(&settings.data_dir)?;
        let shutdown = Shutdown::new(settings.shutdown_grace);
        shutdown
            .listen_for_signals()
            .context("signal handlers cannot be installed")?;
        Ok(Self {
            shutdown,
            telemetry,
        })
    }

    /// Waits for the server to drain after a signal, then for the
    /// background tasks, all within the grace period; flushes telemetry.
    pub async fn finish(
        self,
        server: ServerHandle,
        background: Vec<JoinHandle<()>>,
    ) -> anyhow::Result<()> {
        let addr = server.local_addr();
        server.wait().await.context("grpc server failed")?;
        anyhow::ensure!(
            self.shutdown.is_requested(),
            "grpc server on {addr} stopped unexpectedly"
        );
        let all = futures_join(background);
        if self.shutdown.drain(all).await.is_none() {
            warn!("background tasks still running at the end of the grace period");
        }
        info!("stopped");
        drop(self.telemetry);
        Ok(())
    }
}

async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        if let Err(e) = task.await {
            warn!(error = %e, "background task ended abnormally");
        }
    }
}

/// Binds the gRPC listener.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("listen {addr} cannot be bound"))
}

/// Announces the bound address: a log event, and one plain line on
/// standard output (`listening on ADDR`) for scripts and tests.
pub fn announce(service_name: &str, addr: SocketAddr, loaded: &LoadedSettings) {
    info!(service = service_name, %addr, data_dir = %loaded.settings.data_dir.display(), "listening");
    println!("listening on {addr}");
}
