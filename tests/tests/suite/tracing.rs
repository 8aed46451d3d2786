//! One manual backup gives one trace across the services: an in-process
//! OTLP receiver collects the spans that `vigil-catalog` and
//! `vigil-executor` export, and spans of both carry the same trace id.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use vigil_tests::{Server, vigil_json, vigil_ok};

/// One span received.
#[derive(Clone, Debug)]
struct Got {
    service: String,
    trace: Vec<u8>,
    name: String,
    /// OTLP status code (2 is ERROR) and message.
    status: (i32, String),
}

type Received = Arc<Mutex<Vec<Got>>>;

#[derive(Clone, Default)]
struct Receiver {
    spans: Received,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for ss in rs.scope_spans {
                for span in ss.spans {
                    let status = span.status.map(|s| (s.code, s.message)).unwrap_or_default();
                    spans.push(Got {
                        service: service.clone(),
                        trace: span.trace_id,
                        name: span.name,
                        status,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[test]
fn one_manual_backup_gives_one_trace_across_catalog_and_executor() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = Receiver::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let otlp = format!("http://{}", listener.local_addr().unwrap());
    let service = TraceServiceServer::new(receiver.clone());
    runtime.spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });

    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("a.txt"), "traced").unwrap();
    let data = dir.path().join("data");
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    let mut catalog = Server::start(
        "vigil-catalog",
        &["--data-dir", data.to_str().unwrap()],
        &env,
        dir.path(),
    );
    let endpoint = catalog.endpoint();
    let mut executor = Server::start(
        "vigil-executor",
        &["--data-dir", data.to_str().unwrap(), "--catalog", &endpoint],
        &env,
        dir.path(),
    );
    let yaml = dir.path().join("c.yaml");
    std::fs::write(
        &yaml,
        format!(
            "configurations:\n  - name: traced\n    kind: FULL\n    source:\n      paths: [{}]\n  - name: traced_broken\n    kind: FULL\n    source:\n      paths: [{}]\n",
            source.display(),
            dir.path().join("missing").display()
        ),
    )
    .unwrap();
    vigil_ok(
        &endpoint,
        &["config", "apply", "-f", yaml.to_str().unwrap()],
    );
    let job = vigil_json(&endpoint, &["backup", "run", "traced", "--wait"]);
    assert_eq!(job["state"], "COMPLETED", "{job}");
    let broken = vigil_tests::vigil(&endpoint, &["backup", "run", "traced_broken", "--wait"]);
    assert!(!broken.status.success());

    // Draining flushes each process's batch exporter.
    assert_eq!(executor.terminate(), Some(0), "{}", executor.log());
    assert_eq!(catalog.terminate(), Some(0), "{}", catalog.log());

    let spans = receiver.spans.lock().unwrap().clone();
    let mut services_by_trace: BTreeMap<Vec<u8>, BTreeSet<String>> = BTreeMap::new();
    for got in &spans {
        services_by_trace
            .entry(got.trace.clone())
            .or_default()
            .insert(got.service.clone());
    }
    let shared = services_by_trace
        .values()
        .any(|services| services.contains("vigil-catalog") && services.contains("vigil-executor"));
    assert!(
        shared,
        "no trace holds spans of both services; received {} spans: {:?}",
        spans.len(),
        spans
            .iter()
            .map(|g| format!("{}:{}", g.service, g.name))
            .collect::<BTreeSet<_>>()
    );

    // The failed job's span is ERROR with the reason; the completed one is OK.
    let jobs: Vec<&Got> = spans
        .iter()
        .filter(|g| g.service == "vigil-executor" && g.name == "job")
        .collect();
    assert!(
        jobs.iter()
            .any(|g| g.status.0 == 2 && g.status.1.contains("missing")),
        "no job span with status ERROR naming the reason: {jobs:?}"
    );
    assert!(
        jobs.iter().any(|g| g.status.0 == 1),
        "no job span with status OK: {jobs:?}"
    );
}
