//! Pure schedule arithmetic for Vigil.
#![forbid(unsafe_code)]
