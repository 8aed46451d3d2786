//! Vigil v1 protobuf API.
#![forbid(unsafe_code)]
