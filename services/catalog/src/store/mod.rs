//! Typed queries over the catalog database.
//!
//! The gRPC services are thin wrappers over [`Store`]; the status report calls
//! it directly. Every write happens in one transaction and publishes its
//! events only after the commit.

mod access;
mod alerts;
mod apply;
mod artifacts;
mod combine;
mod complete_fast;
mod components;
mod configurations;
mod consistency;
mod delivery;
mod finish;
mod holder;
mod job_events;
mod jobs;
mod lease;
mod queue;
mod reclaim;
mod retention;
mod schedules;
mod summary;
mod tick;
mod tick_check;

use std::sync::Arc;
use std::time::Duration;

use vigil_server_common::clock::SharedClock;

use crate::db::Db;
use crate::events::{Event, Events};
use vigil_proto::catalog::v1::EventKind;

pub use access::{TokenRecord, check_token_name};
pub(crate) use delivery::from_legacy_text as delivery_from_legacy_text;
pub use job_events::{MAX_APPEND_BATCH, MAX_EVENT_MESSAGE, MAX_JOB_EVENTS, MAX_JOB_WARNINGS};
pub use jobs::is_final;
pub use lease::Leased;
pub use queue::{DEFAULT_LEASE, DEFAULT_MAX_ATTEMPTS, EnqueueOutcome};
pub use reclaim::{EXECUTOR_LOST, Reclaimed};
pub use retention::HistoryPruned;
pub use tick::TickResult;

/// Longest lease a caller may ask for; heartbeats renew it (A2).
pub const MAX_LEASE: Duration = Duration::from_secs(600);

/// Typed access to everything the catalog stores.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    clock: SharedClock,
    events: Events,
    lifetimes: Arc<Lifetimes>,
    /// Leases and waits are bounded so a bad request cannot pin a row forever.
    limits: Arc<Limits>,
    /// The hot queue calls, combined across concurrent callers.
    combined: Arc<Combined>,
    /// Jobs leased here, so their completion need not read them again.
    recent_leases: Arc<complete_fast::RecentLeases>,
}

/// Batches of at most this many calls run as one statement.
const MAX_COMBINED: usize = 64;
/// At most this many statements of one kind run at once; more callers wait
/// for the next batch. Two made batches smaller and each statement slower
/// in the queue benchmark (README, "Combined queue calls").
const COMBINED_RUNNERS: usize = 1;

/// The combiners of the queue's hot paths.
#[derive(Debug)]
struct Combined {
    leases: combine::Combiner<lease::LeaseAsk, Option<lease::LeasedRow>>,
    heartbeats: combine::Combiner<lease::Beat, Option<vigil_proto::catalog::v1::BackupJob>>,
    completions: combine::Combiner<
        vigil_proto::catalog::v1::CompleteJobRequest,
        Option<complete_fast::Completed>,
    >,
}

/// How long records of processes and history live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifetimes {
    /// A component is alive while its last heartbeat is at most this old.
    pub component_timeout: Duration,
    /// A component without a heartbeat for this long leaves the live view.
    pub component_gone_after: Duration,
    /// A component without a heartbeat for this long is deleted.
    pub component_delete_after: Duration,
    /// Finished jobs and schedule outcomes older than this are pruned.
    pub history_retention: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            component_timeout: Duration::from_secs(30),
            component_gone_after: Duration::from_secs(3600),
            component_delete_after: Duration::from_secs(7 * 86_400),
            history_retention: Duration::from_secs(400 * 86_400),
        }
    }
}

/// Bounds on client-chosen durations.
#[derive(Debug)]
struct Limits {
    max_lease: Duration,
    max_wait: Duration,
}

impl Store {
    /// A store over `db`, reading the time from `clock`.
    pub fn new(db: Db, clock: SharedClock, events: Events, lifetimes: Lifetimes) -> Self {
        Self {
            db,
            clock,
            events,
            lifetimes: Arc::new(lifetimes),
            limits: Arc::new(Limits {
                max_lease: MAX_LEASE,
                max_wait: Duration::from_secs(300),
            }),
            combined: Arc::new(Combined {
                leases: combine::Combiner::new(COMBINED_RUNNERS, MAX_COMBINED),
                heartbeats: combine::Combiner::new(COMBINED_RUNNERS, MAX_COMBINED),
                completions: combine::Combiner::new(COMBINED_RUNNERS, MAX_COMBINED),
            }),
            recent_leases: Arc::default(),
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
