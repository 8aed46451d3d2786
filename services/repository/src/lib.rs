//! The Vigil repository: deduplicated, compressed, encrypted snapshot storage
#![forbid(unsafe_code)]
