//! Who may call what in Vigil, shared by every client and server.
//!
//! - [`Role`] and [`Access`]: the four roles and what a method asks of its caller;
//! - [`methods`]: the one table mapping every RPC to the access it needs;
//! - [`token`]: generating bearer tokens and hashing them for storage;
//! - [`client`]: how a client finds its credentials (`--token-file`,
//!   `VIGIL_TOKEN_FILE`, `VIGIL_TOKEN`, a fallback file) and its TLS settings,
//!   and the channel that sends them.
#![forbid(unsafe_code)]

pub mod client;
pub mod methods;
mod role;
pub mod token;

pub use client::{AuthChannel, Bearer, ClientCredentials, ClientTls, CredentialError, Token};
pub use methods::access_for;
pub use role::{Access, Caller, Role, UnknownRole};
