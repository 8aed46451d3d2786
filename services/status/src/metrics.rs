//! Prometheus metrics computed from the catalog at scrape time.
//!
//! Every series comes from the catalog's current content, so a schedule's
//! series exist from the moment its configuration is created: a schedule
//! that never fired exports `vigil_backup_last_success_timestamp_seconds 0`
//! rather than nothing, and no alert rule needs `absent()`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use vigil_proto::catalog::v1::{JobKind, JobState, ScheduleHealth};
use vigil_proto::status::v1::StatusReport;

use crate::Inputs;
use crate::build_report;
use crate::time::instant;

/// The window of the `*_in_window` families, in hours (their help says so).
pub const WINDOW_HOURS: i64 = 24;

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScheduleLabels {
    schedule: String,
    configuration: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    schedule: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConfigLabels {
    configuration: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    kind: String,
    state: String,
}

const HEALTHS: [ScheduleHealth; 6] = [
    ScheduleHealth::Armed,
    ScheduleHealth::Unarmed,
    ScheduleHealth::Paused,
    ScheduleHealth::Late,
    ScheduleHealth::Down,
    ScheduleHealth::Missed,
];

/// Renders the metrics for `inputs` in the OpenMetrics text format.
pub fn render(inputs: &Inputs) -> String {
    let report = build_report(inputs);
    let mut root = Registry::default();
    vigil_server_common::metrics::register(&mut root);
    let registry = root.sub_registry_with_prefix("vigil");
    register_schedules(registry, &report);
    register_freshness(registry, &report);
    register_jobs(registry, inputs);
    register_liveness(registry, &report, inputs);
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &root);
    out
}

/// Each schedule's next due time, last fire and health.
fn register_schedules(registry: &mut Registry, report: &StatusReport) {
    let next_due = Family::<ScheduleLabels, FloatGauge>::default();
    let last_fire = Family::<ScheduleLabels, FloatGauge>::default();
    let state = Family::<StateLabels, Gauge>::default();
    for s in &report.schedules {
        let labels = ScheduleLabels {
            schedule: s.schedule.clone(),
            configuration: s.configuration.clone(),
        };
        next_due
            .get_or_create(&labels)
            .set(seconds(&s.next_fire_time));
        last_fire
            .get_or_create(&labels)
            .set(seconds(&s.last_fire_time));
        for h in HEALTHS {
            let name = h
                .as_str_name()
                .trim_start_matches("SCHEDULE_HEALTH_")
                .to_owned();
            let value = i64::from(s.health() == h);
            state
                .get_or_create(&StateLabels {
                    schedule: s.schedule.clone(),
                    state: name,
                })
                .set(value);
        }
    }
    registry.register(
        "schedule_next_due_timestamp_seconds",
        "Next due time of each enabled schedule; 0 when unarmed",
        next_due,
    );
    registry.register(
        "schedule_last_fire_timestamp_seconds",
        "When each schedule last enqueued a job; 0 when it never fired",
        last_fire,
    );
    registry.register(
        "schedule_state",
        "1 for the schedule's current health, 0 for the others",
        state,
    );
}

/// Each configuration's newest success, expected interval and overdue flag.
fn register_freshness(registry: &mut Registry, report: &StatusReport) {
    let last_success = Family::<ConfigLabels, FloatGauge>::default();
    let expected = Family::<ConfigLabels, FloatGauge>::default();
    let last_due = Family::<ConfigLabels, FloatGauge>::default();
    let overdue = Family::<ConfigLabels, Gauge>::default();
    for f in &report.freshness {
        let labels = ConfigLabels {
            configuration: f.configuration.clone(),
        };
        last_success
            .get_or_create(&labels)
            .set(seconds(&f.last_success_time));
        if f.state != "ON_DEMAND" {
            last_due.get_or_create(&labels).set(seconds(&f.due_time));
            overdue.get_or_create(&labels).set(i64::from(f.overdue));
        }
        if let Some(i) = &f.expected_interval {
            expected.get_or_create(&labels).set(i.seconds as f64);
        }
    }
    registry.register(
        "backup_last_success_timestamp_seconds",
        "When the configuration's newest successful backup finished; 0 when never",
        last_success,
    );
    registry.register(
        "backup_expected_interval_seconds",
        "Most common time between due times of a scheduled configuration",
        expected,
    );
    registry.register(
        "backup_last_due_timestamp_seconds",
        "The most recent due time whose grace has passed; 0 before the first",
        last_due,
    );
    registry.register(
        "backup_overdue",
        "1 when the most recent due time past its grace has no successful backup after it and none is running",
        overdue,
    );
}

/// Job outcomes of the window, bytes read, queue depth and lease expiries.
fn register_jobs(registry: &mut Registry, inputs: &Inputs) {
    let jobs = Family::<OutcomeLabels, Gauge>::default();
    let mut bytes = 0u64;
    let mut lost = 0i64;
    for c in &inputs.counts {
        let kind = c
            .kind()
            .as_str_name()
            .trim_start_matches("JOB_KIND_")
            .to_owned();
        let st = c
            .state()
            .as_str_name()
            .trim_start_matches("JOB_STATE_")
            .to_owned();
        let n = i64::try_from(c.count).unwrap_or(i64::MAX);
        jobs.get_or_create(&OutcomeLabels { kind, state: st })
            .inc_by(n);
        if c.kind() == JobKind::Backup && c.state() == JobState::Completed {
            bytes += c.bytes_read;
        }
        lost += i64::try_from(c.lease_expiries).unwrap_or(i64::MAX);
    }
    let queued = inputs
        .active
        .iter()
        .filter(|j| j.state() == JobState::Queued)
        .count() as i64;
    registry.register(
        "jobs_in_window",
        "Jobs created in the last 24 hours, by kind and state",
        jobs,
    );
    let bytes_gauge = FloatGauge::default();
    bytes_gauge.set(bytes as f64);
    registry.register(
        "backup_bytes_read_in_window",
        "Bytes read by backups completed in the last 24 hours",
        bytes_gauge,
    );
    let queue = Gauge::<i64>::default();
    queue.set(queued);
    registry.register(
        "queue_depth",
        "Jobs waiting for an executor (at most 1000 counted)",
        queue,
    );
    let expiries = Gauge::<i64>::default();
    expiries.set(lost);
    registry.register(
        "lease_expiries_in_window",
        "Jobs of the last 24 hours whose lease expired at least once",
        expiries,
    );
}

/// Live schedulers and executors, and open alerts.
fn register_liveness(registry: &mut Registry, report: &StatusReport, inputs: &Inputs) {
    let live = report.liveness.clone().unwrap_or_default();
    let schedulers = Gauge::<i64>::default();
    schedulers.set(i64::from(live.schedulers));
    registry.register(
        "schedulers_alive",
        "Scheduler replicas with a recent heartbeat",
        schedulers,
    );
    let executors = Gauge::<i64>::default();
    executors.set(i64::from(live.executors));
    registry.register(
        "executors_alive",
        "Executors with a recent heartbeat",
        executors,
    );
    let alerts = Gauge::<i64>::default();
    alerts.set(inputs.open_alerts.len() as i64);
    registry.register("alerts_open", "Open alerts", alerts);
}

/// OpenMetrics text as the classic Prometheus text format (0.0.4): a
/// counter's `HELP` and `TYPE` name its `_total` series, and the `# EOF`
/// and `# UNIT` lines go.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

fn seconds(ts: &Option<prost_types::Timestamp>) -> f64 {
    instant(ts).map(|t| t.timestamp() as f64).unwrap_or(0.0)
}
