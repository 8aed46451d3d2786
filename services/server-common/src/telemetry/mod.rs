//! Logging and tracing for a server process, set up once by [`init`],
//! which returns a guard that flushes spans when dropped.
//!
//! - `tracing-subscriber` with an `EnvFilter` (`RUST_LOG`, default `info`)
//!   and text or JSON lines on standard error (JSON: one object per line
//!   with unique keys and plain values, see [`json`]);
//! - an OpenTelemetry tracer provider with the `service.name` and
//!   `service.version` resource, always installed so that trace ids exist
//!   and propagate through this process;
//! - an OTLP batch exporter only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; nothing is exported
//!   otherwise. `OTEL_EXPORTER_OTLP_PROTOCOL` picks `grpc` (the default
//!   here) or `http/protobuf`;
//! - the W3C TraceContext propagator, used by [`propagation`].

mod json;
pub mod propagation;

use anyhow::Context as _;
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, fmt};

use crate::settings::LogFormat;

pub use propagation::{
    TraceContextInterceptor, TracedChannel, context_from_map, context_to_map, continue_from_map,
    current_context_map, extract_context, extract_context_from_headers, inject_current_context,
};

/// Filter used when `RUST_LOG` is unset or invalid.
pub const DEFAULT_FILTER: &str = "info";

/// What identifies this process in traces and logs.
#[derive(Debug, Clone)]
pub struct TelemetryOptions {
    /// `service.name`, e.g. `vigild` or `vigil-catalog`.
    pub service_name: &'static str,
    /// `service.version`.
    pub service_version: &'static str,
    /// Log line format.
    pub log_format: LogFormat,
}

/// Keeps the tracer provider alive; flushes and shuts it down when dropped.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    exporting: bool,
}

impl TelemetryGuard {
    /// True when spans are exported over OTLP.
    pub fn is_exporting(&self) -> bool {
        self.exporting
    }

    /// Flushes pending spans and shuts the provider down.
    pub fn shutdown(&mut self) {
        let Some(provider) = self.provider.take() else {
            return;
        };
        let run = move || {
            if let Err(e) = provider.shutdown() {
                tracing::warn!(error = %e, "telemetry shutdown failed");
            }
        };
        // The exporter may need the runtime to make progress while we wait.
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Installs the global subscriber, tracer provider and propagator. Call
/// once, early in `main`, inside the tokio runtime.
pub fn init(options: &TelemetryOptions) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let resource = Resource::builder()
        .with_service_name(options.service_name)
        .with_attribute(KeyValue::new("service.version", options.service_version))
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    let exporting = match otlp_endpoint() {
        Some(_) => {
            builder = exporter::attach(builder)?;
            true
        }
        None => false,
    };
    let provider = builder.build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer(options.service_name);

    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let (text, json) = match options.log_format {
        LogFormat::Text => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            (
                Some(fmt::layer().with_ansi(ansi).with_writer(std::io::stderr)),
                None,
            )
        }
        LogFormat::Json => (None, Some(json::JsonLayer::new(std::io::stderr))),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()
        .context("a global tracing subscriber is already installed")?;

    Ok(TelemetryGuard {
        provider: Some(provider),
        exporting,
    })
}

/// Prints an error of the process itself (bad settings, a failed start) on
/// standard error, in the log format: `service: message` as text, or one
/// JSON object with `level` `ERROR` and the `fields` beside `message`. It
/// works whether or not the subscriber is installed.
pub fn print_error(format: LogFormat, service: &str, message: &str, fields: &[(&str, &str)]) {
    match format {
        LogFormat::Text => eprintln!("{service}: {message}"),
        LogFormat::Json => eprintln!("{}", json::error_line(service, message, fields)),
    }
}

/// The configured OTLP traces endpoint, if any.
pub fn otlp_endpoint() -> Option<String> {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .into_iter()
    .filter_map(|name| std::env::var(name).ok())
    .find(|v| !v.trim().is_empty())
}

mod exporter {
    //! The OTLP span exporter, chosen by `OTEL_EXPORTER_OTLP_PROTOCOL`.

    use anyhow::{Context as _, bail};
    use opentelemetry_sdk::runtime::Tokio;
    use opentelemetry_sdk::trace::TracerProviderBuilder;
    use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;

    pub(super) fn attach(builder: TracerProviderBuilder) -> anyhow::Result<TracerProviderBuilder> {
        let protocol = [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ]
        .into_iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "grpc".to_owned());
        match protocol.trim() {
            "grpc" => {
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .build()
                    .context("OTLP gRPC span exporter cannot be built")?;
                // The tonic exporter needs the tokio reactor, so its batch
                // processor runs as a tokio task rather than on a plain thread.
                let processor = BatchSpanProcessor::builder(exporter, Tokio).build();
                Ok(builder.with_span_processor(processor))
            }
            "http/protobuf" => {
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .build()
                    .context("OTLP HTTP span exporter cannot be built")?;
                Ok(builder.with_batch_exporter(exporter))
            }
            other => bail!(
                "OTEL_EXPORTER_OTLP_PROTOCOL {other:?} is not supported, use grpc or http/protobuf"
            ),
        }
    }
}
