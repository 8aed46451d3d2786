//! The Vigil executor: runs backup, restore, verify and prune jobs
#![forbid(unsafe_code)]
