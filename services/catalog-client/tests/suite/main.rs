//! The catalog client against a real catalog on an ephemeral port.

mod common;
mod deadline;
mod errors;
mod paging;
mod retry;
