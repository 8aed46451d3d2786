//! How each service is hosted in a process: opened from the settings,
//! registered on the gRPC server, and its background work started.
//!
//! `vigild` hosts all of them on one listener. The catalog is in-process;
//! the scheduler and the executor reach it over gRPC through an in-process
//! transport served by the same router and auth layer ([`auth`]), so they
//! work whatever TLS and client certificates the port demands.

pub mod auth;
pub mod catalog;
pub mod data_dir;
pub mod executor;
pub mod scheduler;
pub mod sections;
pub mod status;

/// `ROLE-HOST-PID`: an id unique among live processes and readable in job
/// records, the component list and schedule owners.
pub fn process_id(role: &str) -> String {
    let host = vigil_server_common::host::host_name();
    format!("{role}-{host}-{}", std::process::id())
}

/// The URL a scheduler or executor reports for its gRPC port: the bound
/// address as it is. An unspecified host (`0.0.0.0`, `[::]`) is replaced by
/// the catalog with the address the heartbeat comes from.
pub fn advertised_endpoint(bound: std::net::SocketAddr) -> String {
    format!("http://{bound}")
}
