//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, `vigild` exports its RPC spans
//! over OTLP/gRPC, continuing the caller's W3C trace, and flushes them when
//! it stops. The collector is a stand-in served by this test.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use support::{command, start, vigild};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use vigil_proto::catalog::v1::ListConfigurationsRequest;
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;

#[derive(Debug, Clone, Default)]
struct Collector {
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.received.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn service_names(requests: &[ExportTraceServiceRequest]) -> Vec<String> {
    requests
        .iter()
        .flat_map(|r| &r.resource_spans)
        .filter_map(|rs| rs.resource.as_ref())
        .flat_map(|r| &r.attributes)
        .filter(|kv| kv.key == "service.name")
        .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn spans(requests: &[ExportTraceServiceRequest]) -> Vec<Span> {
    requests
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| ss.spans.clone())
        .collect()
}

fn int_attribute(span: &Span, key: &str) -> Option<i64> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::IntValue(i) => Some(*i),
            Value::StringValue(s) => s.parse().ok(),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn rpc_spans_are_exported_and_continue_the_callers_trace() {
    let collector = Collector::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = listener.local_addr().unwrap();
    let serve = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(collector.clone()))
        .serve_with_incoming(TcpListenerStream::new(listener));
    let collector_task = tokio::spawn(serve);

    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = command(vigild(), scratch.path());
    cmd.args(["--listen", "127.0.0.1:0", "--shutdown-grace", "10s"])
        .arg("--data-dir")
        .arg(scratch.path().join("data"))
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{collector_addr}"),
        );
    let mut server = start(cmd, scratch.path()).unwrap_or_else(|e| panic!("{e:?}"));

    // The caller's trace, as a W3C traceparent header.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_span = "00f067aa0ba902b7";
    let mut request = tonic::Request::new(ListConfigurationsRequest::default());
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{parent_span}-01").parse().unwrap(),
    );
    CatalogServiceClient::new(server.admin_channel(&scratch.path().join("data")).await)
        .list_configurations(request)
        .await
        .unwrap();

    // Stopping flushes the batch exporter.
    server.signal("TERM");
    let status = tokio::task::block_in_place(|| server.wait_exit(Duration::from_secs(20)));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "stderr: {}",
        server.stderr()
    );

    let received = collector.received.lock().unwrap().clone();
    assert!(
        !received.is_empty(),
        "nothing exported; stderr: {}",
        server.stderr()
    );
    assert!(
        service_names(&received).iter().any(|s| s == "vigild"),
        "resource names the service"
    );
    let all = spans(&received);
    let name = "vigil.catalog.v1.CatalogService/ListConfigurations";
    let calls: Vec<&Span> = all.iter().filter(|s| s.name == name).collect();
    assert!(
        !calls.is_empty(),
        "no {name} span among {:?}",
        all.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    // The scheduler inside vigild calls the catalog too, in traces of its
    // own; exactly one span belongs to the caller's trace.
    let ours: Vec<&&Span> = calls
        .iter()
        .filter(|s| hex(&s.trace_id) == trace_id)
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "the server span joins the caller's trace; traces seen: {:?}",
        calls.iter().map(|s| hex(&s.trace_id)).collect::<Vec<_>>()
    );
    let rpc = ours[0];
    assert_eq!(
        hex(&rpc.parent_span_id),
        parent_span,
        "its parent is the caller's span"
    );
    assert_eq!(
        int_attribute(rpc, "rpc.grpc.status_code"),
        Some(0),
        "status code recorded"
    );
    collector_task.abort();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
