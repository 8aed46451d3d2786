//! Pure schedule arithmetic for Vigil: no I/O, no clock, no async.
//!
//! Both the catalog (to validate configurations) and the scheduler (to fire
//! them) use this crate, so a schedule means the same thing in both.
//!
//! - [`Schedule`] is a [`Recurrence`] (a [`CronExpr`] or a [`Preset`]) in an
//!   IANA [`Zone`]. Construction validates everything and returns a
//!   [`ScheduleError`] naming the field (`schedule.cron`,
//!   `schedule.timezone`, `schedule.preset.*`) and the reason; a schedule
//!   that never fires is rejected.
//! - Fire times ([`Schedule::next_after`], [`Schedule::next_n`],
//!   [`Schedule::fires_between`]) follow guarantee S6: a wall time inside a
//!   DST gap fires at the first instant after the gap, a wall time inside a
//!   repeated hour fires once (its first occurrence), and no instant fires
//!   twice. See [`resolve`].
//! - [`Schedule::expected_interval`] and [`Schedule::grace_period`] feed
//!   "late", "missed" and "age against expected interval".
//! - [`plan_catch_up`] turns the due times between the last processed one
//!   and now into an exhaustive list of outcomes (S4, S5).
//! - [`apply_edit`] decides the next due time after a schedule edit (S7).
//! - [`Schedule::describe`] gives "daily at 02:00 Europe/Berlin".
//!
//! All instants are `DateTime<Utc>`; durations are `std::time::Duration`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod catch_up;
pub mod cron;
mod describe;
pub mod edit;
pub mod error;
pub mod fires;
pub mod interval;
pub mod preset;
pub mod recurrence;
pub mod resolve;
pub mod schedule;
pub mod zone;

pub use catch_up::{
    CatchUpMode, CatchUpPlan, CatchUpPolicy, CatchUpWindow, DueOutcome, MissReason, MissedSpan,
    Outcome, Since, plan_catch_up,
};
pub use cron::CronExpr;
pub use edit::{EditTransition, apply_edit};
pub use error::{ErrorKind, Result, ScheduleError};
pub use fires::Fires;
pub use interval::default_grace;
pub use preset::{Preset, TimeOfDay};
pub use recurrence::{Recurrence, ScheduleSpec};
pub use schedule::Schedule;
pub use zone::Zone;

#[cfg(feature = "proto")]
mod from_proto;
#[cfg(feature = "proto")]
pub use from_proto::schedule_from_proto;
#[cfg(feature = "proto")]
mod catch_up_proto;
#[cfg(feature = "proto")]
pub use catch_up_proto::catch_up_policy_from_proto;
