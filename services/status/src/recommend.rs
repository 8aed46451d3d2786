//! Recommended actions, most urgent first. Each names what it is about.

use vigil_proto::catalog::v1::{JobState, Purpose};
use vigil_proto::status::v1::{
    BackupFreshness, ConfigurationSummary, Liveness, Recommendation, RetentionEntry,
    ScheduleHealthEntry,
};

use crate::Inputs;
use crate::schedules::broken;

/// Everything the recommendations are derived from.
#[derive(Debug)]
pub(crate) struct Findings<'a> {
    /// The inputs.
    pub inputs: &'a Inputs,
    /// Schedule health.
    pub schedules: &'a [ScheduleHealthEntry],
    /// Freshness per configuration.
    pub freshness: &'a [BackupFreshness],
    /// Configurations by category.
    pub configurations: &'a ConfigurationSummary,
    /// Liveness.
    pub liveness: &'a Liveness,
    /// Retention per configuration.
    pub retention: &'a [RetentionEntry],
}

/// Derives the recommendations.
pub(crate) fn recommend(f: &Findings<'_>) -> Vec<Recommendation> {
    let mut out: Vec<Recommendation> = [
        fix_schedules(f),
        take_backup(f),
        investigate_failed(f),
        clean_up(f),
    ]
    .into_iter()
    .flatten()
    .collect();
    out.extend(check_retention(f));
    out.extend(review_alerts(f));
    out.sort_by_key(|r| r.priority);
    out
}

/// Schedules that are not firing, with the likeliest cause.
fn fix_schedules(f: &Findings<'_>) -> Option<Recommendation> {
    let broken_schedules: Vec<String> = f
        .schedules
        .iter()
        .filter(|s| broken(s.health()))
        .map(|s| s.schedule.clone())
        .collect();
    if broken_schedules.is_empty() {
        return None;
    }
    let cause = if !f.liveness.scheduler_alive {
        "no scheduler is alive: start vigil-scheduler (or vigild) and check its log".to_owned()
    } else if f.liveness.executors == 0 {
        "no executor is alive to run the queued jobs: start vigil-executor (or vigild)".to_owned()
    } else {
        "run `vigil schedules show NAME` for each to see its outcomes, and check `vigil alerts`"
            .to_owned()
    };
    Some(Recommendation {
        priority: 1,
        title: "fix scheduled backups".to_owned(),
        detail: format!("{} are not firing; {cause}", broken_schedules.join(", ")),
        command: "vigil schedules list".to_owned(),
        subjects: broken_schedules,
    })
}

/// Configurations with no recent successful backup.
fn take_backup(f: &Findings<'_>) -> Option<Recommendation> {
    let stale: Vec<String> = f
        .freshness
        .iter()
        .filter(|x| x.state == "STALE" || x.state == "NEVER")
        .map(|x| x.configuration.clone())
        .collect();
    let first = stale.first()?.clone();
    Some(Recommendation {
        priority: 1,
        title: "take a backup now".to_owned(),
        detail: format!(
            "{} have no recent successful backup; run them by hand until the schedules work",
            stale.join(", ")
        ),
        command: format!("vigil backup run {first} --wait"),
        subjects: stale,
    })
}

/// Jobs that failed in the window.
fn investigate_failed(f: &Findings<'_>) -> Option<Recommendation> {
    let failed: Vec<String> = f
        .inputs
        .failed
        .iter()
        .filter(|j| j.state() == JobState::Failed)
        .map(|j| j.name.clone())
        .collect();
    let first = failed.first()?.clone();
    Some(Recommendation {
        priority: 2,
        title: "investigate failed jobs".to_owned(),
        detail: format!("{} failed in the window", failed.join(", ")),
        command: format!("vigil jobs show {first}"),
        subjects: failed,
    })
}

/// Temporary and test configurations left behind.
fn clean_up(f: &Findings<'_>) -> Option<Recommendation> {
    let temporary: Vec<String> = names(f, Purpose::Temporary);
    let test: Vec<String> = names(f, Purpose::Test);
    let mut parts = Vec::new();
    if !temporary.is_empty() {
        parts.push(format!(
            "remove the temporary configurations {}",
            temporary.join(", ")
        ));
    }
    if !test.is_empty() {
        let verb = if parts.is_empty() { "remove " } else { "" };
        parts.push(format!("{verb}the test configurations {}", test.join(", ")));
    }
    let subjects: Vec<String> = temporary.into_iter().chain(test).collect();
    let first = subjects.first()?.clone();
    Some(Recommendation {
        priority: 3,
        title: "clean up configurations".to_owned(),
        detail: format!(
            "{}; they clutter the catalog and the report",
            parts.join(", and ")
        ),
        command: format!("vigil config delete {first}"),
        subjects,
    })
}

/// Configurations keeping artifacts older than their policy allows.
///
/// Prune is due only once an artifact is older than every rule keeps:
/// before that, a prune that never ran has had nothing to do.
fn check_retention<'a>(f: &'a Findings<'_>) -> impl Iterator<Item = Recommendation> + 'a {
    f.retention.iter().filter(|r| r.overdue).map(|r| {
        let (detail, command) = if r.last_prune_time.is_none() {
            (
                format!(
                    "prune has never run for {}, and it keeps artifacts older than its policy allows",
                    r.configuration
                ),
                format!("vigil prune {} --dry-run", r.configuration),
            )
        } else {
            (
                format!(
                    "{} keeps artifacts older than its policy allows; check its prune schedule",
                    r.configuration
                ),
                format!("vigil schedules show {}#prune", r.configuration),
            )
        };
        Recommendation {
            priority: 3,
            title: "verify retention".to_owned(),
            detail,
            command,
            subjects: vec![r.configuration.clone()],
        }
    })
}

/// Open alerts.
fn review_alerts(f: &Findings<'_>) -> Option<Recommendation> {
    let alerts = &f.inputs.open_alerts;
    if alerts.is_empty() {
        return None;
    }
    Some(Recommendation {
        priority: 2,
        title: "review open alerts".to_owned(),
        detail: format!("{} alerts are open", alerts.len()),
        command: "vigil alerts".to_owned(),
        subjects: alerts.iter().map(|a| a.dedup_key.clone()).collect(),
    })
}

fn names(f: &Findings<'_>, purpose: Purpose) -> Vec<String> {
    f.configurations
        .leftovers
        .iter()
        .filter(|c| c.purpose() == purpose)
        .map(|c| c.name.clone())
        .collect()
}
