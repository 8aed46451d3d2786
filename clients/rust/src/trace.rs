//! Propagates the caller's OpenTelemetry context to the servers.
//!
//! The interceptor asks the globally installed text-map propagator (for
//! example W3C trace context) to write the current context into the request
//! metadata, so that the server's spans join the caller's trace. With no
//! propagator installed this is a no-op. With `tracing-opentelemetry`, an
//! entered `tracing` span is the current OpenTelemetry context.

use opentelemetry::propagation::Injector;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::service::Interceptor;

/// Writes `opentelemetry::Context::current()` into each request's metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject_current_context(request.metadata_mut());
        Ok(request)
    }
}

/// Injects the current OpenTelemetry context into `metadata` through the global propagator.
pub fn inject_current_context(metadata: &mut MetadataMap) {
    let cx = opentelemetry::Context::current();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&cx, &mut MetadataInjector(metadata));
    });
}

/// Adapts gRPC metadata to the propagator's `Injector`; keys or values that
/// are not valid ASCII metadata are dropped rather than failing the call.
struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(key) = MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes()) else {
            return;
        };
        if let Ok(value) = MetadataValue::try_from(value.as_str()) {
            self.0.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry_sdk::propagation::TraceContextPropagator;

    #[test]
    fn current_span_context_becomes_traceparent_metadata() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let span = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let _guard = opentelemetry::Context::current()
            .with_remote_span_context(span)
            .attach();

        let request = TraceContextInterceptor
            .call(tonic::Request::new(()))
            .unwrap();
        let traceparent = request
            .metadata()
            .get("traceparent")
            .expect("traceparent is set");
        assert_eq!(
            traceparent.to_str().unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
    }
}
