//! One module per command group.

pub mod alerts;
pub mod archive;
pub mod backup;
pub mod config;
pub mod jobs;
pub mod restore;
pub mod schedules;
pub mod status;
