//! One integration-test binary for this crate: each module is one area.

mod support;

mod auth;
mod bad_settings;
mod deploy_files;
mod otlp_export;
mod postgres;
mod single_services;
mod tls;
mod vigild;
