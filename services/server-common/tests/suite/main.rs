//! One integration-test binary for this crate: each module is one area.

mod server;
mod trace_propagation;
