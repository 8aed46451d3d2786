//! One trace crosses a real gRPC hop: the client interceptor injects the
//! W3C context, the server's trace layer continues it, and a job's stored
//! `trace_context` map continues it again. This file owns its process's
//! global subscriber, so it lives in its own test binary.

use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::net::TcpListener;
use tonic::transport::Channel;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use vigil_proto::status::v1::status_service_client::StatusServiceClient;
use vigil_proto::status::v1::status_service_server::{StatusService, StatusServiceServer};
use vigil_proto::status::v1::{GetStatusReportRequest, GetStatusReportResponse};
use vigil_server_common::telemetry::{
    TraceContextInterceptor, continue_from_map, current_context_map,
};
use vigil_server_common::{GrpcServer, Shutdown};

fn install_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let tracer = provider.tracer("trace-propagation-test");
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

fn trace_id_of(span: &tracing::Span) -> TraceId {
    span.context().span().span_context().trace_id()
}

#[derive(Debug, Default, Clone)]
struct RecordingStatus {
    seen: Arc<Mutex<Vec<TraceId>>>,
}

#[tonic::async_trait]
impl StatusService for RecordingStatus {
    async fn get_status_report(
        &self,
        _request: tonic::Request<GetStatusReportRequest>,
    ) -> Result<tonic::Response<GetStatusReportResponse>, tonic::Status> {
        let id = trace_id_of(&tracing::Span::current());
        self.seen.lock().unwrap().push(id);
        Ok(tonic::Response::new(GetStatusReportResponse::default()))
    }
}

#[tokio::test]
async fn client_trace_continues_in_the_server_handler() {
    install_tracing();
    let service = RecordingStatus::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = Shutdown::new(Duration::from_secs(5));
    let handle = GrpcServer::builder()
        .add_service(StatusServiceServer::new(service.clone()))
        .spawn(listener, &shutdown)
        .unwrap();
    let channel = Channel::from_shared(handle.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();

    // With the interceptor, the server continues the caller's trace.
    let mut traced =
        StatusServiceClient::with_interceptor(channel.clone(), TraceContextInterceptor);
    let span = tracing::info_span!("cli.status");
    let client_trace = trace_id_of(&span);
    assert_ne!(
        client_trace,
        TraceId::INVALID,
        "the client span has a trace id"
    );
    traced
        .get_status_report(GetStatusReportRequest::default())
        .instrument(span)
        .await
        .unwrap();

    // Without it, the server starts a trace of its own.
    let mut plain = StatusServiceClient::new(channel);
    let other_span = tracing::info_span!("cli.other");
    plain
        .get_status_report(GetStatusReportRequest::default())
        .instrument(other_span)
        .await
        .unwrap();

    let seen = service.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0], client_trace,
        "the server handler continues the client's trace"
    );
    assert_ne!(
        seen[1], client_trace,
        "an uninstrumented call does not join the trace"
    );
    assert_ne!(seen[1], TraceId::INVALID);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn stored_context_map_continues_the_trace() {
    install_tracing();
    let enqueue = tracing::info_span!("catalog.enqueue");
    let expected = trace_id_of(&enqueue);
    let map = enqueue.in_scope(current_context_map);
    assert!(map.contains_key("traceparent"), "{map:?}");
    assert!(
        map["traceparent"].contains(&expected.to_string()),
        "{map:?}"
    );

    let run = tracing::info_span!("executor.run");
    continue_from_map(&run, &map);
    assert_eq!(trace_id_of(&run), expected);

    let unrelated = tracing::info_span!("executor.run");
    continue_from_map(&unrelated, &Default::default());
    assert_ne!(
        trace_id_of(&unrelated),
        expected,
        "an empty map starts a new trace"
    );
}
