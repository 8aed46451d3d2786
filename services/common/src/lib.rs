//! Shared server plumbing for the Vigil services: configuration layering,
//! signals, health and reflection, telemetry, and an injectable clock.
#![forbid(unsafe_code)]

pub mod clock;
