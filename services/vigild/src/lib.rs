//! Vigil server binaries: vigild and the single-service binaries
#![forbid(unsafe_code)]
