//! The catalog's storage suite: every test body takes `CatalogOptions` and
//! runs once on SQLite and once on PostgreSQL (which skips loudly without
//! `VIGIL_TEST_POSTGRES_URL`), through the real gRPC services on an
//! ephemeral port.

#[macro_use]
mod common;

mod alerts;
mod configurations;
mod events;
mod housekeeping;
mod jobs;
mod queue;
mod schedules;
