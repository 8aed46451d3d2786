//! One integration-test binary for this crate: each module is one area.

mod support;

mod archives;
mod real_catalog;
mod retries;
mod tracing;
mod waiting;
