//! The Vigil repository: deduplicated, compressed, encrypted snapshot storage
#![forbid(unsafe_code)]

pub mod crypto;
pub mod error;
pub mod id;

pub use error::{Error, Result};
