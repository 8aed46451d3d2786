//! One integration-test binary for this crate: each module is one area.

mod support;

mod admin_port;
mod auth;
mod bad_settings;
mod deploy_files;
mod otlp_export;
mod postgres;
mod single_services;
mod tls;
mod vigild;
