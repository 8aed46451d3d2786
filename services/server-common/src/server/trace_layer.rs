//! The shared per-RPC tracing layer: one span per call, named after the
//! method, child of the caller's trace when the request carries one, with
//! the final gRPC status code recorded on it; the same layer counts each
//! finished RPC and its latency in [`crate::metrics`].

use std::time::{Duration, Instant};

use http::HeaderMap;
use tower_http::classify::{
    ClassifiedResponse, ClassifyEos, ClassifyResponse, GrpcEosErrorsAsFailures,
    GrpcErrorsAsFailures, GrpcFailureClass, MakeClassifier,
};
use tower_http::trace::{MakeSpan, OnEos, OnResponse, TraceLayer};
use tracing::{Span, debug, field, info, warn};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::telemetry::extract_context_from_headers;

/// The tower layer every Vigil server applies.
pub type RpcTraceLayer =
    TraceLayer<MakeRpcClassifier, MakeRpcSpan, (), RecordStatus, (), RecordStatus, ()>;

/// Builds the shared per-RPC tracing layer.
pub fn rpc_trace_layer() -> RpcTraceLayer {
    TraceLayer::new(MakeRpcClassifier)
        .make_span_with(MakeRpcSpan)
        .on_request(())
        .on_response(RecordStatus)
        .on_body_chunk(())
        .on_eos(RecordStatus)
        .on_failure(())
}

/// Classifies each RPC like `GrpcErrorsAsFailures` and records its final
/// status code and latency in the process metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeRpcClassifier;

impl MakeClassifier for MakeRpcClassifier {
    type Classifier = RpcClassifier<GrpcErrorsAsFailures>;
    type FailureClass = GrpcFailureClass;
    type ClassifyEos = RpcClassifier<GrpcEosErrorsAsFailures>;

    fn make_classifier<B>(&self, request: &http::Request<B>) -> Self::Classifier {
        let (service, method) = split_path(request.uri().path());
        RpcClassifier {
            inner: GrpcErrorsAsFailures::new(),
            service: service.to_owned(),
            method: method.to_owned(),
            start: Instant::now(),
        }
    }
}

/// The classifier of one RPC: the inner gRPC classifier, plus what the
/// metrics need.
#[derive(Debug, Clone)]
pub struct RpcClassifier<C> {
    inner: C,
    service: String,
    method: String,
    start: Instant,
}

impl<C> RpcClassifier<C> {
    fn record(&self, code: tonic::Code) {
        let seconds = self.start.elapsed().as_secs_f64();
        crate::metrics::record_rpc(&self.service, &self.method, code, seconds);
    }
}

impl ClassifyResponse for RpcClassifier<GrpcErrorsAsFailures> {
    type FailureClass = GrpcFailureClass;
    type ClassifyEos = RpcClassifier<GrpcEosErrorsAsFailures>;

    fn classify_response<B>(
        self,
        res: &http::Response<B>,
    ) -> ClassifiedResponse<Self::FailureClass, Self::ClassifyEos> {
        if let Some(code) = grpc_status(res.headers()) {
            self.record(code);
        }
        match self.inner.classify_response(res) {
            ClassifiedResponse::Ready(result) => ClassifiedResponse::Ready(result),
            ClassifiedResponse::RequiresEos(inner) => {
                ClassifiedResponse::RequiresEos(RpcClassifier {
                    inner,
                    service: self.service,
                    method: self.method,
                    start: self.start,
                })
            }
        }
    }

    fn classify_error<E: std::fmt::Display + 'static>(self, error: &E) -> Self::FailureClass {
        self.record(tonic::Code::Unknown);
        self.inner.classify_error(error)
    }
}

impl ClassifyEos for RpcClassifier<GrpcEosErrorsAsFailures> {
    type FailureClass = GrpcFailureClass;

    fn classify_eos(self, trailers: Option<&HeaderMap>) -> Result<(), Self::FailureClass> {
        // A stream that ends without a status ended OK as far as gRPC says.
        self.record(trailers.and_then(grpc_status).unwrap_or(tonic::Code::Ok));
        self.inner.classify_eos(trailers)
    }

    fn classify_error<E: std::fmt::Display + 'static>(self, error: &E) -> Self::FailureClass {
        self.record(tonic::Code::Unknown);
        self.inner.classify_error(error)
    }
}

/// Makes the span of one RPC.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeRpcSpan;

impl<B> MakeSpan<B> for MakeRpcSpan {
    fn make_span(&mut self, request: &http::Request<B>) -> Span {
        let path = request.uri().path();
        let (service, method) = split_path(path);
        let span = tracing::info_span!(
            "rpc",
            otel.name = %path.trim_start_matches('/'),
            otel.kind = "server",
            otel.status_code = field::Empty,
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = field::Empty,
        );
        let parent = extract_context_from_headers(request.headers());
        if opentelemetry::trace::TraceContextExt::has_active_span(&parent) {
            // Fails only when no OpenTelemetry layer is installed.
            let _ = span.set_parent(parent);
        }
        span
    }
}

/// Splits `/pkg.Service/Method` into its service and method.
pub fn split_path(path: &str) -> (&str, &str) {
    let trimmed = path.trim_start_matches('/');
    trimmed.rsplit_once('/').unwrap_or((trimmed, ""))
}

/// Records the gRPC status, found in the response headers of a
/// trailers-only response or in the trailers at the end of the stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordStatus;

impl<B> OnResponse<B> for RecordStatus {
    fn on_response(self, response: &http::Response<B>, latency: Duration, span: &Span) {
        if let Some(code) = grpc_status(response.headers()) {
            finish(code, latency, span);
        }
    }
}

impl OnEos for RecordStatus {
    fn on_eos(self, trailers: Option<&HeaderMap>, stream_duration: Duration, span: &Span) {
        if let Some(code) = trailers.and_then(grpc_status) {
            finish(code, stream_duration, span);
        }
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<tonic::Code> {
    let raw = headers.get("grpc-status")?.to_str().ok()?;
    raw.parse::<i32>().ok().map(tonic::Code::from)
}

fn finish(code: tonic::Code, latency: Duration, span: &Span) {
    span.record("rpc.grpc.status_code", code as i32);
    let latency_ms = latency.as_secs_f64() * 1000.0;
    let _entered = span.enter();
    match classify(code) {
        Outcome::Ok => {
            span.record("otel.status_code", "OK");
            debug!(code = ?code, latency_ms, "rpc finished");
        }
        Outcome::CallerError => info!(code = ?code, latency_ms, "rpc refused"),
        Outcome::ServerError => {
            span.record("otel.status_code", "ERROR");
            warn!(code = ?code, latency_ms, "rpc failed");
        }
    }
}

enum Outcome {
    Ok,
    CallerError,
    ServerError,
}

fn classify(code: tonic::Code) -> Outcome {
    use tonic::Code::*;
    match code {
        Ok => Outcome::Ok,
        Cancelled | InvalidArgument | NotFound | AlreadyExists | PermissionDenied
        | ResourceExhausted | FailedPrecondition | Aborted | OutOfRange | Unimplemented
        | Unauthenticated => Outcome::CallerError,
        Unknown | DeadlineExceeded | Internal | Unavailable | DataLoss => Outcome::ServerError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/vigil.catalog.v1.CatalogService/GetJob"),
            ("vigil.catalog.v1.CatalogService", "GetJob")
        );
        assert_eq!(split_path("/odd"), ("odd", ""));
    }

    #[test]
    fn status_is_read_from_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(grpc_status(&headers), None);
        headers.insert("grpc-status", "5".parse().unwrap());
        assert_eq!(grpc_status(&headers), Some(tonic::Code::NotFound));
    }
}
