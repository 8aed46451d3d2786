//! Assembles the report from its sections.

use std::collections::HashMap;

use vigil_proto::catalog::v1::{ScheduleOutcome, ScheduleState};
use vigil_proto::status::v1::{
    AdherenceEntry, BackupFreshness, ConfigurationSummary, JobHistory, Liveness,
    ScheduleHealthEntry, StatusReport, Verdict,
};

use crate::Inputs;
use crate::recommend::{Findings, recommend};
use crate::schedules::{Facts, broken, judge};
use crate::sections;
use crate::time::{human, instant, stamp};
use crate::verdict;

/// Missed ranges shown per schedule; `missed_in_window` counts them all.
const MISSED_SHOWN: usize = 5;

/// The MISSED outcomes of each schedule, newest first as the inputs hold them.
fn missed_by_schedule(missed: &[ScheduleOutcome]) -> HashMap<&str, Vec<&ScheduleOutcome>> {
    let mut by: HashMap<&str, Vec<&ScheduleOutcome>> = HashMap::new();
    for o in missed {
        by.entry(o.schedule.as_str()).or_default().push(o);
    }
    by
}

/// Computes the status report from its inputs. Pure: the same inputs give the same report.
pub fn build_report(inputs: &Inputs) -> StatusReport {
    let facts: Vec<Facts<'_>> = inputs.configurations.iter().map(Facts::of).collect();
    let configurations = sections::configurations(&facts);
    let jobs = sections::history(inputs);
    let freshness = sections::freshness(inputs, &facts);
    let adherence = sections::adherence(inputs, &facts);
    let liveness = sections::liveness(inputs);
    let retention = sections::retention(inputs, &facts);
    let schedules = schedule_entries(inputs, &facts);
    let judgement = verdict::judge(inputs, &facts, &schedules, &freshness, &jobs, &liveness);
    let recommendations = recommend(&Findings {
        inputs,
        schedules: &schedules,
        freshness: &freshness,
        configurations: &configurations,
        liveness: &liveness,
        retention: &retention,
    });
    let mut working = working(&configurations, &jobs, &liveness, &schedules);
    if judgement.verdict == Verdict::Healthy && working.is_empty() {
        working.push("nothing is configured yet".to_owned());
    }
    let not_working = not_working(&jobs, &liveness, &schedules, &freshness, &adherence);

    StatusReport {
        generate_time: Some(stamp(inputs.now)),
        verdict: judgement.verdict as i32,
        headline: judgement.headline,
        risk: judgement.risk as i32,
        risk_reasons: judgement.risk_reasons,
        configurations: Some(configurations),
        jobs: Some(jobs),
        freshness,
        adherence,
        schedules,
        liveness: Some(liveness),
        retention,
        open_alerts: inputs.open_alerts.clone(),
        recommendations,
        working,
        not_working,
    }
}

/// The health of each active schedule, with its missed runs of the window.
fn schedule_entries(inputs: &Inputs, facts: &[Facts<'_>]) -> Vec<ScheduleHealthEntry> {
    let states: HashMap<&str, &ScheduleState> = inputs
        .schedule_states
        .iter()
        .map(|s| (s.schedule.as_str(), s))
        .collect();
    let missed = missed_by_schedule(&inputs.missed);
    facts
        .iter()
        .filter(|f| f.scheduled_active())
        .map(|f| {
            let key = f.config.name.as_str();
            let state = states.get(key).copied();
            let mut entry = judge(f, state, &inputs.active, inputs.now);
            if let Some(ranges) = missed.get(key) {
                entry.missed_in_window = ranges.iter().map(|o| o.count.max(1)).sum();
                entry.missed = ranges
                    .iter()
                    .take(MISSED_SHOWN)
                    .map(|o| (*o).clone())
                    .collect();
            }
            entry
        })
        .collect()
}

/// What works: configurations, runs that complete, live processes, schedules on time.
fn working(
    configurations: &ConfigurationSummary,
    jobs: &JobHistory,
    liveness: &Liveness,
    schedules: &[ScheduleHealthEntry],
) -> Vec<String> {
    let mut working = Vec::new();
    if configurations.total > 0 {
        working.push(format!(
            "{} configurations registered",
            configurations.total
        ));
    }
    if jobs.manual > 0 && jobs.completed > 0 {
        working.push(format!(
            "backups run and complete when triggered ({} completed in the window)",
            jobs.completed
        ));
    }
    if liveness.scheduler_alive {
        working.push(format!(
            "scheduler alive ({} replicas)",
            liveness.schedulers
        ));
    }
    if liveness.executors > 0 {
        working.push(format!("executors alive ({})", liveness.executors));
    }
    let on_time = schedules
        .iter()
        .filter(|s| !broken(s.health()) && !s.never_fired)
        .count();
    if on_time > 0 {
        working.push(format!("{on_time} schedules fire on time"));
    }
    working
}

/// What does not: missing processes, broken schedules, stale configurations,
/// late starts and failed jobs.
fn not_working(
    jobs: &JobHistory,
    liveness: &Liveness,
    schedules: &[ScheduleHealthEntry],
    freshness: &[BackupFreshness],
    adherence: &[AdherenceEntry],
) -> Vec<String> {
    let mut not_working = Vec::new();
    if !liveness.scheduler_alive && !schedules.is_empty() {
        let since = instant(&liveness.scheduler_down_since)
            .map(|t| format!("scheduler down since {}", t.to_rfc3339()))
            .unwrap_or_else(|| "no scheduler has ever reported".to_owned());
        not_working.push(since);
    }
    if liveness.executors == 0 && !schedules.is_empty() {
        not_working.push("no executor alive".to_owned());
    }
    for s in schedules.iter().filter(|s| broken(s.health())) {
        not_working.push(format!(
            "schedule {} ({}): {}",
            s.schedule, s.description, s.reason
        ));
    }
    for f in freshness.iter().filter(|f| f.state == "STALE") {
        if let (Some(age), Some(interval)) = (&f.age, &f.expected_interval) {
            not_working.push(format!(
                "{}: last success {} ago, expected every {} (a gap of {})",
                f.configuration,
                human(chrono::Duration::seconds(age.seconds)),
                human(chrono::Duration::seconds(interval.seconds)),
                human(chrono::Duration::seconds(
                    f.gap.map(|g| g.seconds).unwrap_or(0)
                ))
            ));
        }
    }
    let off_schedule = adherence.iter().filter(|a| !a.on_schedule).count();
    if off_schedule > 0 {
        not_working.push(format!(
            "{off_schedule} scheduled backups started later than their due time plus grace"
        ));
    }
    for o in jobs.operations.iter().filter(|o| o.failed > 0) {
        not_working.push(format!(
            "{} of {} {} jobs failed in the window (newest: {})",
            o.failed,
            o.total,
            o.kind()
                .as_str_name()
                .trim_start_matches("JOB_KIND_")
                .to_lowercase(),
            o.last_failed_job
        ));
    }
    not_working
}
