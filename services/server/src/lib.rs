//! The Vigil server binaries, kept thin: each parses its flags, loads the
//! layered settings, and hands over to [`run`].
//!
//! - `vigild` runs every service in one process on one port;
//! - `vigil-catalog`, `vigil-scheduler` and `vigil-executor` run one each.
//!
//! The wiring of each service into a process lives in [`host`], one module
//! per service, so that `vigild` and the single-service binaries share it.
#![forbid(unsafe_code)]

pub mod cli;
pub mod host;
pub mod run;
