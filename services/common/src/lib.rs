//! Shared server plumbing: configuration layering, signals, health and reflection, telemetry
#![forbid(unsafe_code)]
