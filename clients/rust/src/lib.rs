//! Typed Rust client for the Vigil gRPC API
#![forbid(unsafe_code)]
