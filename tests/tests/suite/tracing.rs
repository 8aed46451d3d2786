//! One manual backup gives one trace across the services: an in-process
//! OTLP receiver collects the spans that `vigil`, `vigil-catalog` and
//! `vigil-executor` export. The CLI command's span is the root of the trace
//! that holds the job's span, the job's phases are children of the job's
//! span, and the catalog's span of CompleteJob (and of FailJob) belongs to
//! the job's trace.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use vigil_tests::{Server, vigil_ok};

/// One span received.
#[derive(Clone, Debug)]
struct Got {
    service: String,
    trace: Vec<u8>,
    id: Vec<u8>,
    parent: Vec<u8>,
    name: String,
    /// String attributes.
    attributes: BTreeMap<String, String>,
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
                    let attributes = span
                        .attributes
                        .iter()
                        .filter_map(
                            |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                                Some(Value::StringValue(s)) => Some((kv.key.clone(), s.clone())),
                                Some(Value::IntValue(i)) => Some((kv.key.clone(), i.to_string())),
                                _ => None,
                            },
                        )
                        .collect();
                    spans.push(Got {
                        service: service.clone(),
                        trace: span.trace_id,
                        id: span.span_id,
                        parent: span.parent_span_id,
                        attributes,
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
    // The quickstart's SQLite database, for a DATABASE backup's dump.
    let app_db = dir.path().join("app.db");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/examples/quickstart/app.db"
        ),
        &app_db,
    )
    .unwrap();
    let yaml = dir.path().join("c.yaml");
    std::fs::write(
        &yaml,
        format!(
            "configurations:\n  - name: traced\n    kind: FULL\n    source:\n      paths: [{}]\n  - name: traced_broken\n    kind: FULL\n    source:\n      paths: [{}]\n  - name: traced_db\n    kind: DATABASE\n    source:\n      database:\n        engine: sqlite\n        url: sqlite://{}\n  - name: traced_export\n    kind: EXPORT\n    source:\n      paths: [{}]\n",
            source.display(),
            dir.path().join("missing").display(),
            app_db.display(),
            source.display(),
        ),
    )
    .unwrap();
    vigil_ok(
        &endpoint,
        &["config", "apply", "-f", yaml.to_str().unwrap()],
    );
    // The CLI traces its command when an OTLP endpoint is configured.
    let run = vigil_tests::vigil_with_env(
        &endpoint,
        &["--json", "backup", "run", "traced", "--wait"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str())],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let job: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(job["state"], "COMPLETED", "{job}");
    for name in ["traced_db", "traced_export"] {
        vigil_ok(&endpoint, &["backup", "run", name, "--wait"]);
    }
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

    // The CLI command and the job it created share one trace.
    let by = |service: &str, name: &str| -> Vec<&Got> {
        spans
            .iter()
            .filter(|g| g.service == service && g.name == name)
            .collect()
    };
    let command = by("vigil-cli", "vigil backup run");
    assert_eq!(command.len(), 1, "{command:?}");
    let command = command[0];
    assert!(command.parent.is_empty(), "the command's span is a root");
    let job = by("vigil-executor", "job")
        .into_iter()
        .find(|g| g.attributes.get("configuration").map(String::as_str) == Some("traced"))
        .expect("the traced job's span");
    assert_eq!(
        job.trace, command.trace,
        "the job is in the command's trace"
    );

    // Its phases are children of the job's span, with their counts.
    let child = |name: &str| {
        spans
            .iter()
            .find(|g| g.name == name && g.parent == job.id)
            .unwrap_or_else(|| {
                panic!(
                    "no {name} span under the job; the job's children: {:?}",
                    spans
                        .iter()
                        .filter(|g| g.parent == job.id)
                        .map(|g| &g.name)
                        .collect::<Vec<_>>()
                )
            })
    };
    for phase in [
        "scan",
        "read_and_chunk",
        "upload",
        "index",
        "snapshot",
        "read_back",
    ] {
        child(phase);
    }
    assert_eq!(
        child("scan").attributes.get("entries").map(String::as_str),
        Some("2")
    );
    // One span per reading thread; together they read the one file.
    let read: Vec<&Got> = spans
        .iter()
        .filter(|g| g.name == "read_and_chunk" && g.parent == job.id)
        .collect();
    let sum = |key: &str| -> u64 {
        read.iter()
            .map(|g| {
                g.attributes
                    .get(key)
                    .map_or(0, |v| v.parse::<u64>().unwrap())
            })
            .sum()
    };
    assert_eq!((sum("files"), sum("bytes_read")), (1, 6), "{read:?}");
    assert_eq!(
        child("snapshot")
            .attributes
            .get("files")
            .map(String::as_str),
        Some("1")
    );

    // CompleteJob is recorded in the job's trace, under the record phase.
    let record = child("record");
    let complete = by(
        "vigil-catalog",
        "vigil.catalog.v1.CoordinationService/CompleteJob",
    );
    assert!(
        complete
            .iter()
            .any(|g| g.trace == job.trace && g.parent == record.id),
        "CompleteJob is not in the job's trace: {complete:?}"
    );
    // And FailJob in the failed job's.
    let failed = jobs
        .iter()
        .find(|g| g.status.0 == 2)
        .expect("the failed job's span");
    assert!(
        by(
            "vigil-catalog",
            "vigil.catalog.v1.CoordinationService/FailJob"
        )
        .iter()
        .any(|g| g.trace == failed.trace),
        "FailJob is not in the failed job's trace"
    );

    // A database backup's dump and an export's rendering are phases too.
    let job_of = |configuration: &str| {
        by("vigil-executor", "job")
            .into_iter()
            .find(|g| g.attributes.get("configuration").map(String::as_str) == Some(configuration))
            .unwrap_or_else(|| panic!("no job span of {configuration}"))
    };
    let db_job = job_of("traced_db");
    let dump = spans
        .iter()
        .find(|g| g.name == "dump" && g.parent == db_job.id)
        .expect("a dump span under the database backup's job");
    let dumped: u64 = dump.attributes["bytes_read"].parse().unwrap();
    assert!(dumped > 0, "{dump:?}");
    let export_job = job_of("traced_export");
    assert!(
        spans
            .iter()
            .any(|g| g.name == "render_export" && g.parent == export_job.id),
        "no render_export span under the export's job"
    );
}
