//! The Vigil status report: what a person once had to investigate by hand,
//! computed from the catalog on demand.
//!
//! [`gather`] reads everything the report needs from the catalog over gRPC
//! into [`Inputs`]; [`build_report`] is a pure function from those inputs to
//! the report, so the rules (documented in `docs/STATUS-RULES.md`) are tested
//! without a server; [`StatusServer`] serves `vigil.status.v1.StatusService`.
//!
//! The report does not trust the scheduler's own view of its schedules: it
//! recomputes from the configurations, the persisted schedule state and the
//! jobs whether each schedule has ever fired and whether it is overdue, so a
//! broken scheduler cannot report itself healthy.
#![forbid(unsafe_code)]

mod admin;
mod build;
mod error;
mod gather;
pub mod metrics;
mod recommend;
mod schedules;
mod sections;
mod service;
mod time;
mod verdict;

pub use admin::serve_metrics;
pub use build::build_report;
pub use error::{Error, Result};
pub use gather::{Inputs, gather};
pub use service::StatusServer;
