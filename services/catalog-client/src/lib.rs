//! The one internal client through which the scheduler, the status service
//! and the executor reach the catalog's `CatalogService` and
//! `CoordinationService`.
//!
//! - [`ChannelSettings`]: the one channel setup (connect timeout, HTTP/2
//!   keepalive, `TCP_NODELAY`) over the credentials' endpoint, so the bearer
//!   token and TLS are carried as [`vigil_auth::ClientCredentials`] says;
//!   the stubs on it take messages of up to 64 MiB either way.
//! - [`CatalogClient::call`]: every call has a deadline ([`CallSettings`]);
//!   a long poll names its own limit ([`CatalogClient::call_within`]), and a
//!   watch stream has a deadline only for opening it.
//! - [`CatalogClient::all`]: one page loop for every List RPC, which stops
//!   with [`Error::RepeatedPageToken`] when the catalog hands out a token it
//!   already gave.
//! - [`Error`]: one rule for a failed call; it keeps the RPC's name and the
//!   catalog's code, and sorts the code into an [`ErrorKind`] (a lost
//!   compare-and-set is [`ErrorKind::Conflict`]).
//! - Retries with jittered backoff ([`RetryPolicy`], `vigil-backoff`) for
//!   calls the RPC table marks as safe to repeat ([`Repeat`]), on
//!   UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED only, a bounded
//!   number of times. Other writes are sent once.
//!
//! Every call also carries the current span's trace context.
#![forbid(unsafe_code)]

mod channel;
mod client;
mod error;
mod page;
mod retry;
mod rpc;

pub use channel::ChannelSettings;
pub use client::{CallSettings, CatalogClient};
pub use error::{Error, ErrorKind, Result};
pub use retry::RetryPolicy;
pub use rpc::{Paged, Repeat, Rpc};
