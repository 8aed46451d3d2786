//! W3C trace context across process boundaries: gRPC metadata on the way
//! out and in, and a string map stored on jobs (`trace_context`) so that an
//! executor continues the trace of whoever queued the job.

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::propagation::{Extractor, Injector};
use tonic::metadata::{KeyRef, MetadataKey, MetadataMap, MetadataValue};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Writes propagation fields into gRPC metadata.
pub struct MetadataInjector<'a>(pub &'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(key) = MetadataKey::from_bytes(key.as_bytes()) else {
            return;
        };
        if let Ok(value) = MetadataValue::try_from(value.as_str()) {
            self.0.insert(key, value);
        }
    }
}

/// Reads propagation fields from gRPC metadata.
pub struct MetadataExtractor<'a>(pub &'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|k| match k {
                KeyRef::Ascii(k) => Some(k.as_str()),
                KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// Reads propagation fields from HTTP headers (what a tower layer sees).
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Injects the current span's trace context into outgoing metadata.
pub fn inject_current_context(metadata: &mut MetadataMap) {
    let cx = Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut MetadataInjector(metadata)));
}

/// The remote trace context carried by incoming metadata.
pub fn extract_context(metadata: &MetadataMap) -> Context {
    global::get_text_map_propagator(|p| p.extract(&MetadataExtractor(metadata)))
}

/// The remote trace context carried by incoming HTTP headers.
pub fn extract_context_from_headers(headers: &http::HeaderMap) -> Context {
    global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// A tonic client interceptor that sends the current trace context:
/// `XServiceClient::with_interceptor(channel, TraceContextInterceptor)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject_current_context(request.metadata_mut());
        Ok(request)
    }
}

/// A channel whose requests carry the caller's trace context.
pub type TracedChannel = tonic::service::interceptor::InterceptedService<
    tonic::transport::Channel,
    TraceContextInterceptor,
>;

/// Serialises the current span's trace context (e.g. `traceparent`) into a
/// map, for `BackupJob.trace_context`. Empty when there is no active trace.
pub fn current_context_map() -> HashMap<String, String> {
    context_to_map(&Span::current().context())
}

/// Serialises a trace context into a map.
pub fn context_to_map(cx: &Context) -> HashMap<String, String> {
    let mut map = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(cx, &mut map));
    map
}

/// The trace context stored in a map by [`current_context_map`].
pub fn context_from_map(map: &HashMap<String, String>) -> Context {
    global::get_text_map_propagator(|p| p.extract(map))
}

/// Makes `span` a child of the trace stored in `map`. Does nothing when the
/// map holds no valid context or no OpenTelemetry layer is installed.
pub fn continue_from_map(span: &Span, map: &HashMap<String, String>) {
    let cx = context_from_map(map);
    if opentelemetry::trace::TraceContextExt::has_active_span(&cx) {
        let _ = span.set_parent(cx);
    }
}
