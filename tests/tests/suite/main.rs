//! One integration-test binary for this crate: each module is one area.

mod access;
mod browse;
mod embedded;
mod examples;
mod kill9;
mod live_schedule;
mod random_requests;
mod readme;
mod replicas;
mod split;
mod tracing;
