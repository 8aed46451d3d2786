//! Typed queries over the catalog database.
//!
//! The gRPC services are thin wrappers over [`Store`]; the status report calls
//! it directly. Every write happens in one transaction and publishes its
//! events only after the commit.

mod alerts;
mod apply;
mod artifacts;
mod components;
mod configurations;
mod consistency;
mod finish;
mod holder;
mod jobs;
mod lease;
mod queue;
mod reclaim;
mod schedules;
mod tick;
mod tick_check;

use std::sync::Arc;
use std::time::Duration;

use vigil_server_common::clock::SharedClock;

use crate::db::Db;
use crate::events::{Event, Events};
use vigil_proto::catalog::v1::EventKind;

pub use jobs::is_final;
pub use lease::Leased;
pub use queue::{DEFAULT_LEASE, DEFAULT_MAX_ATTEMPTS, EnqueueOutcome};
pub use reclaim::{EXECUTOR_LOST, Reclaimed};

/// Longest lease a caller may ask for; heartbeats renew it (A2).
pub const MAX_LEASE: Duration = Duration::from_secs(600);

/// Typed access to everything the catalog stores.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    clock: SharedClock,
    events: Events,
    component_timeout: Duration,
    /// Leases and waits are bounded so a bad request cannot pin a row forever.
    limits: Arc<Limits>,
}

/// Bounds on client-chosen durations.
#[derive(Debug)]
struct Limits {
    max_lease: Duration,
    max_wait: Duration,
}

impl Store {
    /// A store over `db`, reading the time from `clock`.
    pub fn new(db: Db, clock: SharedClock, events: Events, component_timeout: Duration) -> Self {
        Self {
            db,
            clock,
            events,
            component_timeout,
            limits: Arc::new(Limits {
                max_lease: MAX_LEASE,
                max_wait: Duration::from_secs(300),
            }),
        }
    }

    /// The current time in microseconds since the epoch, from the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now().timestamp_micros()
    }

    /// The change publisher.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    fn event(&self, kind: EventKind, name: &str, id: &str) -> Event {
        Event {
            kind,
            name: name.to_owned(),
            id: id.to_owned(),
            time: self.now(),
        }
    }
}
