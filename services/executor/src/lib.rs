//! The Vigil executor: leases jobs from the catalog and runs them: backups
//! (FULL, DATABASE, EXPORT), restores, verifies, prunes and archive uploads,
//! writing to a deduplicated, compressed, encrypted repository
//! (`vigil-repository`). It also serves `vigil.executor.v1.ExecutorService`:
//! its description, and streamed uploads and downloads of export archives.
//!
//! # Hosting
//!
//! ```no_run
//! # async fn host(listener: tokio::net::TcpListener) -> anyhow::Result<()> {
//! use tokio_util::sync::CancellationToken;
//! use vigil_executor::{Executor, ExecutorOptions};
//!
//! let shutdown = CancellationToken::new();
//! let opts = ExecutorOptions::new("http://127.0.0.1:50051", "/var/lib/vigil");
//! let executor = Executor::start(opts, shutdown.clone()).await?;
//! tonic::transport::Server::builder()
//!     .add_service(executor.service())
//!     .serve_with_incoming_shutdown(
//!         tokio_stream::wrappers::TcpListenerStream::new(listener),
//!         shutdown.clone().cancelled_owned(),
//!     )
//!     .await?;
//! executor.join().await;
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! - **E1**: the repository writes data, then index, then snapshot; the
//!   executor reads the snapshot's tree back and only then reports the
//!   artifact to the catalog (`jobs::backup`).
//! - **E2**: a killed executor leaves a valid repository (the repository's
//!   write order); its lease expires and the catalog retries or fails the
//!   job. A heartbeat that finds the lease lost stops the work (`lease`).
//! - **E4**: restores refuse conflicts before writing, never write through
//!   symlinks, and never overwrite without the flag (`archive::extract`,
//!   `jobs::restore`, and the repository's restore).
//! - **E5**: passwords reach the dump tools only through their environment;
//!   tool output is scrubbed; [`secret::Secret`] never prints its value.
#![forbid(unsafe_code)]

pub mod archive;
mod browse;
pub mod dburl;
pub mod download;
pub mod engines;
pub mod error;
mod executor;
pub mod joblog;
pub mod jobs;
pub mod lease;
mod pipe;
pub mod policy;
pub mod progress;
pub mod repo;
pub mod report;
pub mod runner;
pub mod secret;
pub mod service;
pub mod settings;
pub mod state;

pub use error::{Error, Result};
pub use executor::Executor;
pub use settings::{ExecutorOptions, ExecutorSettings};
