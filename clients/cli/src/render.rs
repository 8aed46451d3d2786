//! Human renderings of the API's messages: tables and detail views.

pub mod alert;
pub mod artifact;
pub mod blocks;
pub mod configuration;
pub mod job;
pub mod schedule;
pub mod status;
