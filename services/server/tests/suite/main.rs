//! One integration-test binary for this crate: each module is one area.

mod support;

mod deploy_files;
mod otlp_export;
mod postgres;
mod single_services;
mod vigild;
