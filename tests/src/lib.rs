//! End-to-end tests that run the real Vigil servers on ephemeral ports
#![forbid(unsafe_code)]
