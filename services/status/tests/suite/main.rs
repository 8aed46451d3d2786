//! One integration-test binary for this crate: each module is one area.

mod common;
mod fresh_install;
mod missed;
mod seed_catalog;
mod seed_report;
mod staleness;
