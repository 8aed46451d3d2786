//! A trace per command, when an OTLP endpoint is configured with the
//! standard variables (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, OTLP over gRPC).
//!
//! The command's span (`vigil backup run`, service `vigil-cli`) is the
//! current OpenTelemetry context while the command runs, so the client's
//! interceptor sends it as `traceparent` on every call: the servers' spans,
//! and the job a `backup run` queues, join the command's trace. The span is
//! kept in memory and exported once when the command ends, so the
//! single-threaded runtime never waits on a background exporter. Without an
//! endpoint nothing is set up and no `traceparent` is sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{
    SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter as _, SpanProcessor};

/// The trace of one command; inert when no endpoint is configured.
pub(crate) struct CommandTrace {
    inner: Option<Inner>,
}

struct Inner {
    provider: SdkTracerProvider,
    ended: Arc<Mutex<Vec<SpanData>>>,
    cx: Context,
    resource: Resource,
}

/// Keeps ended spans until [`CommandTrace::finish`] exports them.
#[derive(Debug)]
struct Keep(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Keep {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if let Ok(mut ended) = self.0.lock() {
            ended.push(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The configured OTLP traces endpoint, if any.
fn endpoint() -> Option<String> {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .into_iter()
    .filter_map(|name| std::env::var(name).ok())
    .find(|v| !v.trim().is_empty())
}

/// The configured OTLP protocol; the CLI speaks only `grpc`.
fn protocol_is_grpc() -> bool {
    [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .into_iter()
    .filter_map(|name| std::env::var(name).ok())
    .find(|v| !v.trim().is_empty())
    .is_none_or(|p| p.trim() == "grpc")
}

impl CommandTrace {
    /// Starts the trace of `command` (`backup run`) when an endpoint is set.
    pub(crate) fn start(command: &str) -> CommandTrace {
        if endpoint().is_none() {
            return CommandTrace { inner: None };
        }
        if !protocol_is_grpc() {
            eprintln!(
                "warning: vigil exports traces over OTLP/gRPC only; OTEL_EXPORTER_OTLP_PROTOCOL is not grpc, so this command is not traced"
            );
            return CommandTrace { inner: None };
        }
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let resource = Resource::builder()
            .with_service_name("vigil-cli")
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let ended = Arc::new(Mutex::new(Vec::new()));
        let provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_span_processor(Keep(ended.clone()))
            .build();
        let tracer = provider.tracer("vigil-cli");
        let span = tracer
            .span_builder(format!("vigil {command}"))
            .with_kind(SpanKind::Client)
            .start(&tracer);
        CommandTrace {
            inner: Some(Inner {
                provider,
                ended,
                cx: Context::current_with_span(span),
                resource,
            }),
        }
    }

    /// The context to run the command in: its span, or an empty context.
    pub(crate) fn context(&self) -> Context {
        self.inner
            .as_ref()
            .map_or_else(Context::new, |inner| inner.cx.clone())
    }

    /// Ends the command's span, ERROR with the exit code when it failed,
    /// and exports it. A failed export is a warning; the command's outcome
    /// stands.
    pub(crate) async fn finish(self, failed_with: Option<u8>) {
        let Some(inner) = self.inner else {
            return;
        };
        let span = inner.cx.span();
        match failed_with {
            Some(code) => span.set_status(Status::error(format!("exit code {code}"))),
            None => span.set_status(Status::Ok),
        }
        span.end();
        let spans = inner
            .ended
            .lock()
            .map(|mut ended| std::mem::take(&mut *ended))
            .unwrap_or_default();
        let exported = match opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
        {
            Ok(mut exporter) => {
                exporter.set_resource(&inner.resource);
                exporter.export(spans).await.map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = exported {
            eprintln!("warning: cannot export the command's trace: {e}");
        }
        let _ = inner.provider.shutdown();
    }
}
