//! Integration tests of the scheduler against a real catalog: each module
//! shows one guarantee of the brief (S1-S9) or one part of the API.

#[allow(dead_code)]
mod common;

mod arming;
mod catch_up;
mod detection;
mod dst;
mod edits;
mod firing;
mod heartbeat;
mod incremental;
mod live;
mod receiver;
mod repair;
mod replicas;
mod service;
mod system;
mod webhooks;
