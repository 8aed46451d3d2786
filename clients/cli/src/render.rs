//! Human renderings of the API's messages: tables and detail views.

pub(crate) mod about;
pub(crate) mod alert;
pub(crate) mod artifact;
pub(crate) mod blocks;
pub(crate) mod configuration;
pub(crate) mod entry;
pub(crate) mod job;
pub(crate) mod job_event;
pub(crate) mod schedule;
pub(crate) mod status;
