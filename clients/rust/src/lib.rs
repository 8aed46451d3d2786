//! Typed Rust client for the Vigil gRPC API.
//!
//! [`VigilClient`] wraps the generated stubs of the catalog, scheduler,
//! executor and status services:
//!
//! - one endpoint for an all-in-one `vigild` ([`VigilClient::connect`]), or
//!   one per service ([`VigilClient::builder`]);
//! - a connect timeout and a per-request timeout (5 s and 30 s by default;
//!   streams are only bounded while they start);
//! - retries with exponential backoff on UNAVAILABLE and DEADLINE_EXCEEDED,
//!   for idempotent calls only (see [`retry::classify`]);
//! - credentials: a bearer token ([`ClientBuilder::token`]) and TLS for
//!   `https://` endpoints ([`ClientBuilder::tls`]), or both from the
//!   environment ([`ClientBuilder::credentials_from_env`]);
//! - the caller's OpenTelemetry context injected into every request
//!   ([`TraceContextInterceptor`]);
//! - a typed [`Error`] that carries the status code and the server's field
//!   violations, displayed as `field: reason`;
//! - conveniences: [`VigilClient::apply_configurations`],
//!   [`VigilClient::run_backup_and_wait`], paginating streams such as
//!   [`VigilClient::list_jobs`], [`VigilClient::status_report`], and archive
//!   upload and download ([`VigilClient::upload_archive_file`],
//!   [`VigilClient::download_archive_to`]).
//!
//! ```no_run
//! # async fn demo() -> vigil_client::Result<()> {
//! use futures::{StreamExt, TryStreamExt};
//! let client = vigil_client::VigilClient::connect("http://127.0.0.1:50051").await?;
//! // No timeout: wait as long as the backup takes.
//! let job = client.run_backup_and_wait("daily_full_backup", None, |job| {
//!     println!("{:?}", job.state());
//! }).await?;
//! println!("finished: {:?}", job.state());
//! let recent: Vec<_> = client.list_jobs(Default::default()).take(10).try_collect().await?;
//! # let _ = recent;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod access;
mod archive;
mod artifacts;
mod browse;
mod builder;
pub mod checksum;
mod client;
mod configurations;
mod error;
mod job_events;
mod jobs;
mod pagination;
pub mod retry;
mod schedules;
mod status;
mod trace;
mod wait;

pub use archive::{ArchiveDownload, DownloadOutcome, UPLOAD_CHUNK_BYTES};
pub use builder::{
    ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_ENDPOINT, DEFAULT_POLL_INTERVAL,
    DEFAULT_REQUEST_TIMEOUT, parse_endpoint,
};
pub use client::{Transport, VigilClient};
pub use configurations::REPLACE_ALL;
pub use error::{Error, FieldViolation, Result, ServerError, code_name};
pub use job_events::LogUpdate;
pub use jobs::{is_final, new_request_id};
pub use retry::RetryPolicy;
pub use trace::{TraceContextInterceptor, inject_current_context};
pub use wait::handed_back;

/// Roles, tokens and client credentials, re-exported.
pub use vigil_auth as auth;
pub use vigil_auth::{ClientCredentials, ClientTls};

/// The generated API, re-exported so callers need no direct dependency.
pub use vigil_proto as proto;
