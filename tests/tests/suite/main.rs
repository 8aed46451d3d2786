//! One integration-test binary for this crate: each module is one area.

mod embedded;
mod kill9;
mod live_schedule;
mod replicas;
mod split;
mod tracing;
