//! Hosting the scheduler.
//!
//! TO WIRE (lead): once `vigil-scheduler` exposes its host API, this module
//! opens it from `LoadedSettings::section("scheduler")`, connects it to the
//! catalog at the given endpoint (in `vigild`, the bound address of this
//! process; alone, `--catalog`), registers `SchedulerService` on the server
//! and spawns its loop with the shutdown token. Until then the
//! `vigil-scheduler` binary reports that it is not available.

/// Why the scheduler is not hosted yet.
pub const NOT_AVAILABLE: &str = "the scheduler is not yet available in this build";
