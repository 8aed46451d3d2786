//! One integration-test binary for this crate: each module is one area.

#[macro_use]
mod common;

mod concurrency;
mod crash;
mod dedup;
mod integrity;
mod options;
mod retention;
mod roundtrip;
mod safety;
