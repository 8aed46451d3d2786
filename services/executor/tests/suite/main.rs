//! One integration-test binary for this crate: each module is one area.

mod common;

mod archive_format;
mod databases;
mod engines;
mod files;
mod lifecycle;
mod policy;
mod secrets;
mod uploads;
