//! The gRPC services: thin wrappers that turn requests into [`Store`] calls
//! and errors into statuses.
//!
//! [`Store`]: crate::store::Store

mod access;
mod catalog;
mod coordination;
pub(crate) mod forward;
mod watch;

pub use access::AccessApi;
pub use catalog::CatalogApi;
pub use coordination::CoordinationApi;
pub use forward::{ExecutorTarget, Forward, ForwardTarget, SchedulerTarget};

use std::collections::HashMap;

/// The W3C trace context stored on a job this request creates, so the
/// executor continues the same trace: the context of the current RPC span
/// (a child of the caller's trace when the caller sent one, or a new trace
/// started here), or, when no tracer is installed, the caller's headers.
fn trace_context<T>(req: &tonic::Request<T>) -> HashMap<String, String> {
    let current = vigil_server_common::telemetry::propagation::current_context_map();
    if current.contains_key("traceparent") {
        return current;
    }
    ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|key| {
            let value = req.metadata().get(key)?.to_str().ok()?;
            (value.len() <= 512).then(|| (key.to_owned(), value.to_owned()))
        })
        .collect()
}
