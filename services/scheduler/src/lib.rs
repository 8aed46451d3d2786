//! The Vigil scheduler: turns enabled configurations into due runs, exactly
//! once per (schedule, due time), and makes noise when anything is off.
//!
//! The scheduler keeps no state of its own. Everything lives in the
//! catalog, reached over gRPC only: schedule states (next due time, health,
//! counters), outcomes, jobs and alerts. Any number of replicas run the
//! same [`Engine::tick`]; compare-and-set commits and the catalog's unique
//! (schedule, due time) key make each due run fire once (S3).
//!
//! One tick:
//! 1. reads schedule states, configurations and active jobs, or, while the
//!    catalog's event stream is followed, applies the changes it announced
//!    to the snapshot kept from the previous tick (`changes`);
//! 2. arms new and edited schedules and removes stale ones ([`arm`], S1, S7);
//! 3. fires every ready schedule: catch-up, overlap, jitter, one outcome per
//!    due run ([`plan`], [`fire`], S4, S5);
//! 4. assesses health and raises or resolves alerts, with webhooks
//!    ([`health`], [`detect`], [`webhook`], S2, S8).
//!
//! Steps 2 and 4 cover every schedule after a full read and every
//! `reconcile_interval`; in between, only the schedules a change touched.
//!
//! [`Scheduler::start`] runs ticks in a loop woken by due times, catalog
//! events and a reconcile interval, reports a heartbeat (S9) and serves
//! `vigil.scheduler.v1.SchedulerService`. Time comes from an injected
//! clock, so tests drive `tick` with a manual clock.
//!
//! DST and time zones (S6) are `vigil-schedule`'s; this crate never does
//! calendar arithmetic of its own.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod arm;
pub mod capable;
pub mod catalog;
mod changes;
pub mod detect;
pub mod engine;
pub mod error;
pub mod events;
pub mod fire;
pub mod health;
pub mod heartbeat;
pub mod jitter;
pub mod key;
pub mod plan;
pub mod repair;
pub mod runtime;
pub mod service;
pub mod settings;
pub mod spec;
pub mod webhook;

pub use catalog::Catalog;
pub use engine::{Engine, TickReport};
pub use error::{Error, Result};
pub use key::{Role, ScheduleKey};
pub use runtime::{Scheduler, SchedulerOptions};
pub use settings::SchedulerSettings;
