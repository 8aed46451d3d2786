//! TLS on every server port, reloaded without a restart, plus an
//! in-process transport.
//!
//! - [`ServerTls`] holds the current rustls configuration built from
//!   `tls_cert`, `tls_key` and optionally `tls_client_ca` (then client
//!   certificates are required and verified). [`ServerTls::watch`] rebuilds
//!   it when one of the files changes or on SIGHUP; each new connection
//!   takes the configuration current at its handshake.
//! - [`Conn`] is a connection of any kind: plain TCP, TLS over TCP, or an
//!   in-process pipe made by a [`LocalTransport`]. Its [`ConnInfo`] goes
//!   into every request's extensions, with the verified client
//!   certificate's names for the auth layer.
//! - [`LocalTransport`] lets `vigild`'s own scheduler and executor call the
//!   catalog inside the process, through the same router and auth layer,
//!   whatever the port demands of outside callers.

mod conn;
mod incoming;
mod local;
mod peer;
mod reload;

pub use conn::{Conn, ConnInfo};
pub use incoming::incoming;
pub use local::LocalTransport;
pub use reload::{ServerTls, TlsError, TlsFiles};
