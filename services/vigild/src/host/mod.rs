//! How each service is hosted in a process: opened from the settings,
//! registered on the gRPC server, and its background work started.
//!
//! `vigild` hosts all of them on one listener. The catalog is in-process;
//! the scheduler and the executor reach it over gRPC at the bound address,
//! exactly as they do when they run on their own, so they start after the
//! listener is bound.

pub mod catalog;
pub mod data_dir;
pub mod executor;
pub mod scheduler;
pub mod status;
