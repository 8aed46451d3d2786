//! Per-process Prometheus metrics, shared by every server of the process
//! and added to each `/metrics` scrape with [`register`]:
//!
//! - `grpc_server_handled_total{grpc_service,grpc_method,grpc_code}`:
//!   finished RPCs, counted by the shared server layer;
//! - `grpc_server_handling_seconds{grpc_service,grpc_method}`: their latency;
//! - `vigil_build_info{version,commit,profile}`: always 1;
//! - executors: `vigil_executor_job_duration_seconds{kind,outcome}` and
//!   `vigil_executor_bytes_{read,new,stored}_total` (of completed jobs);
//! - schedulers: `vigil_scheduler_tick_duration_seconds` (one evaluation of
//!   the due schedules) and `vigil_scheduler_enqueue_duration_seconds` (one
//!   commit of due runs to the catalog).
//!
//! The families are process-wide (prometheus-client metrics share their
//! state when cloned), so an in-process test server and the admin port of
//! the same process see the same numbers.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of a finished RPC.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandledLabels {
    grpc_service: String,
    grpc_method: String,
    grpc_code: String,
}

/// Labels of an RPC's latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    grpc_service: String,
    grpc_method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
    commit: String,
    profile: String,
}

/// Latency buckets from 1 ms to about 65 s.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 17,
    ))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    outcome: String,
}

struct Process {
    handled: Family<HandledLabels, Counter>,
    handling: Family<MethodLabels, Histogram, fn() -> Histogram>,
    job_duration: Family<JobLabels, Histogram, fn() -> Histogram>,
    bytes_read: Counter,
    bytes_new: Counter,
    bytes_stored: Counter,
    tick: Histogram,
    enqueue: Histogram,
}

/// Job durations from 0.1 s to about 1.8 h.
fn job_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.1, 2.0, 17,
    ))
}

fn process() -> &'static Process {
    static PROCESS: OnceLock<Process> = OnceLock::new();
    PROCESS.get_or_init(|| Process {
        handled: Family::default(),
        handling: Family::new_with_constructor(latency_histogram),
        job_duration: Family::new_with_constructor(job_histogram),
        bytes_read: Counter::default(),
        bytes_new: Counter::default(),
        bytes_stored: Counter::default(),
        tick: latency_histogram(),
        enqueue: latency_histogram(),
    })
}

/// Counts one finished RPC of `/service/method` with its status `code`.
pub(crate) fn record_rpc(service: &str, method: &str, code: tonic::Code, seconds: f64) {
    let p = process();
    p.handled
        .get_or_create(&HandledLabels {
            grpc_service: service.to_owned(),
            grpc_method: method.to_owned(),
            grpc_code: crate::status::code_name(code).to_owned(),
        })
        .inc();
    p.handling
        .get_or_create(&MethodLabels {
            grpc_service: service.to_owned(),
            grpc_method: method.to_owned(),
        })
        .observe(seconds);
}

/// Records a job an executor ran: its kind (`BACKUP`), outcome
/// (`completed`, `failed`, `cancelled`) and duration.
pub fn record_job(kind: &str, outcome: &str, seconds: f64) {
    process()
        .job_duration
        .get_or_create(&JobLabels {
            kind: kind.to_owned(),
            outcome: outcome.to_owned(),
        })
        .observe(seconds);
}

/// Adds the bytes a completed job read, found new and stored.
pub fn record_bytes(read: u64, new: u64, stored: u64) {
    let p = process();
    p.bytes_read.inc_by(read);
    p.bytes_new.inc_by(new);
    p.bytes_stored.inc_by(stored);
}

/// Records one scheduler tick's duration.
pub fn record_tick(seconds: f64) {
    process().tick.observe(seconds);
}

/// Records one commit of due runs to the catalog.
pub fn record_enqueue(seconds: f64) {
    process().enqueue.observe(seconds);
}

/// Adds the process's families to `registry` (give it no prefix).
pub fn register(registry: &mut Registry) {
    let p = process();
    registry.register(
        "grpc_server_handled",
        "RPCs finished on this process's servers, by method and status code",
        p.handled.clone(),
    );
    registry.register(
        "grpc_server_handling_seconds",
        "Time from request to final status of RPCs on this process's servers",
        p.handling.clone(),
    );
    registry.register(
        "vigil_executor_job_duration_seconds",
        "Run time of jobs this executor ran, by kind and outcome",
        p.job_duration.clone(),
    );
    for (name, help, counter) in [
        (
            "vigil_executor_bytes_read",
            "Bytes read by jobs this executor completed",
            &p.bytes_read,
        ),
        (
            "vigil_executor_bytes_new",
            "Bytes not already in the repository, of jobs this executor completed",
            &p.bytes_new,
        ),
        (
            "vigil_executor_bytes_stored",
            "Bytes added to the repository (after compression and encryption) by jobs this executor completed",
            &p.bytes_stored,
        ),
    ] {
        registry.register(name, help, counter.clone());
    }
    registry.register(
        "vigil_scheduler_tick_duration_seconds",
        "Time of one scheduler tick over the due schedules",
        p.tick.clone(),
    );
    registry.register(
        "vigil_scheduler_enqueue_duration_seconds",
        "Time of one commit of due runs to the catalog",
        p.enqueue.clone(),
    );
    let build = Family::<BuildLabels, Gauge>::default();
    let mut parts = crate::build_info::build()
        .split(' ')
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into_iter();
    build
        .get_or_create(&BuildLabels {
            version: crate::build_info::VERSION.to_owned(),
            commit: parts.next().unwrap_or_default(),
            profile: parts.next().unwrap_or_default(),
        })
        .set(1);
    registry.register(
        "vigil_build_info",
        "Version and build of this process; always 1",
        build,
    );
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    #[test]
    fn rpcs_and_build_info_are_exported() {
        record_rpc("vigil.test.v1.T", "Get", tonic::Code::NotFound, 0.002);
        let mut registry = Registry::default();
        register(&mut registry);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(
                "grpc_server_handled_total{grpc_service=\"vigil.test.v1.T\",grpc_method=\"Get\",grpc_code=\"NOT_FOUND\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("grpc_server_handling_seconds_count{grpc_service=\"vigil.test.v1.T\",grpc_method=\"Get\"} 1"), "{text}");
        assert!(text.contains("vigil_build_info{version=\""), "{text}");
    }
}
