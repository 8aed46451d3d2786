//! One module per command group.

pub(crate) mod about;
pub(crate) mod alerts;
pub(crate) mod archive;
pub(crate) mod backup;
pub(crate) mod browse;
pub(crate) mod config;
pub(crate) mod jobs;
pub(crate) mod restore;
pub(crate) mod schedules;
pub(crate) mod status;
