//! One integration-test binary for this crate: each module is one area.

mod support;

mod config;
mod errors;
mod jobs;
mod status;
