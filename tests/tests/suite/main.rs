//! One integration-test binary for this crate: each module is one area.

mod access;
mod browse;
mod embedded;
mod examples;
mod job_logs;
mod json_logs;
mod kill9;
mod live_schedule;
mod metrics;
mod random_requests;
mod readme;
mod replicas;
mod split;
mod stopping;
mod tracing;
