//! The Vigil executor: runs backup, restore, verify and prune jobs
#![forbid(unsafe_code)]

pub mod archive;
pub mod dburl;
pub mod engines;
pub mod error;
pub mod secret;
pub mod settings;

pub use error::{Error, Result};
pub use settings::{ExecutorOptions, ExecutorSettings};
