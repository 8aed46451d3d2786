//! The catalog's storage suite: every test body takes `CatalogOptions` and
//! runs once on SQLite and once on PostgreSQL (`needs_postgres`: it fails
//! without `VIGIL_TEST_POSTGRES_URL`, and nextest's default profile leaves it
//! out), through the real gRPC services on an ephemeral port.

#[macro_use]
mod common;

mod access;
mod alerts;
mod configurations;
mod events;
mod field_behavior;
mod holders;
mod housekeeping;
mod job_events;
mod jobs;
mod queue;
mod schedules;
