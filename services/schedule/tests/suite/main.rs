//! One integration-test binary for this crate: each module is one area.

mod catch_up;
mod dst_properties;
mod dst_transitions;
mod edit;
