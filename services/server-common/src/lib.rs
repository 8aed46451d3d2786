//! Shared server plumbing for the Vigil services.
//!
//! - [`settings`]: layered configuration (defaults, TOML file, `VIGIL_`
//!   environment, flags) with validation that names the bad setting;
//! - [`signals`]: SIGINT/SIGTERM start a drain bounded by a grace period;
//! - [`server`]: a gRPC server on an already-bound listener with health,
//!   reflection and the shared tracing layer;
//! - [`telemetry`]: logs, OpenTelemetry traces and trace-context propagation;
//! - [`auth`]: the credential check every call passes;
//! - [`tls`]: TLS with certificates reloaded on change, and an in-process transport;
//! - [`clock`]: an injectable clock;
//! - [`host`]: the host name every component reports;
//! - [`build_info`]: the version and build a server reports;
//! - [`metrics`]: per-process Prometheus metrics (RPCs, build info);
//! - [`status`]: INVALID_ARGUMENT and NOT_FOUND with the field as a BadRequest detail;
//! - [`memory`]: the allocator settings every server binary starts with.
//!
//! Unsafe code is denied except for the one `mallopt` call in [`memory`].
#![deny(unsafe_code)]

pub mod auth;
pub mod build_info;
pub mod clock;
pub mod host;
pub mod memory;
pub mod metrics;
pub mod server;
pub mod settings;
pub mod signals;
pub mod status;
pub mod telemetry;
pub mod tls;

pub use server::{GrpcServer, ServerError, ServerHandle};
pub use settings::{CatalogArgs, CommonArgs, LoadedSettings, LogFormat, Settings, SettingsLoader};
pub use signals::Shutdown;
pub use telemetry::{TelemetryGuard, TelemetryOptions};
