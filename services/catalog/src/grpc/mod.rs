//! The gRPC services: thin wrappers that turn requests into [`Store`] calls
//! and errors into statuses.
//!
//! [`Store`]: crate::store::Store

mod catalog;
mod coordination;
mod watch;

pub use catalog::CatalogApi;
pub use coordination::CoordinationApi;

use std::collections::HashMap;

/// W3C trace-context headers copied from a request onto the job it creates,
/// so the executor continues the same trace.
fn trace_context<T>(req: &tonic::Request<T>) -> HashMap<String, String> {
    ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|key| {
            let value = req.metadata().get(key)?.to_str().ok()?;
            (value.len() <= 512).then(|| (key.to_owned(), value.to_owned()))
        })
        .collect()
}
