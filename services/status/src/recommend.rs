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
    let mut out = Vec::new();
    let broken_schedules: Vec<String> = f
        .schedules
        .iter()
        .filter(|s| broken(s.health()))
        .map(|s| s.schedule.clone())
        .collect();
    if !broken_schedules.is_empty() {
        let cause = if !f.liveness.scheduler_alive {
            "no scheduler is alive: start vigil-scheduler (or vigild) and check its log".to_owned()
        } else if f.liveness.executors == 0 {
            "no executor is alive to run the queued jobs: start vigil-executor (or vigild)"
                .to_owned()
        } else {
            "run `vigil schedules show NAME` for each to see its outcomes, and check `vigil alerts`"
                .to_owned()
        };
        out.push(Recommendation {
            priority: 1,
            title: "fix scheduled backups".to_owned(),
            detail: format!("{} are not firing; {cause}", broken_schedules.join(", ")),
            command: "vigil schedules list".to_owned(),
            subjects: broken_schedules,
        });
    }

    let stale: Vec<String> = f
        .freshness
        .iter()
        .filter(|x| x.state == "STALE" || x.state == "NEVER")
        .map(|x| x.configuration.clone())
        .collect();
    if !stale.is_empty() {
        out.push(Recommendation {
            priority: 1,
            title: "take a backup now".to_owned(),
            detail: format!(
                "{} have no recent successful backup; run them by hand until the schedules work",
                stale.join(", ")
            ),
            command: format!("vigil backup run {} --wait", stale[0]),
            subjects: stale,
        });
    }

    let failed: Vec<String> = f
        .inputs
        .failed
        .iter()
        .filter(|j| j.state() == JobState::Failed)
        .map(|j| j.name.clone())
        .collect();
    if !failed.is_empty() {
        out.push(Recommendation {
            priority: 2,
            title: "investigate failed jobs".to_owned(),
            detail: format!("{} failed in the window", failed.join(", ")),
            command: format!("vigil jobs show {}", failed[0]),
            subjects: failed,
        });
    }

    let temporary: Vec<String> = names(f, Purpose::Temporary);
    let test: Vec<String> = names(f, Purpose::Test);
    if !temporary.is_empty() || !test.is_empty() {
        let mut detail = String::new();
        if !temporary.is_empty() {
            detail.push_str(&format!(
                "remove the temporary configurations {}",
                temporary.join(", ")
            ));
        }
        if !test.is_empty() {
            if !detail.is_empty() {
                detail.push_str(", and ");
            } else {
                detail.push_str("remove ");
            }
            detail.push_str(&format!("the test configurations {}", test.join(", ")));
        }
        detail.push_str("; they clutter the catalog and the report");
        let subjects: Vec<String> = temporary.into_iter().chain(test).collect();
        out.push(Recommendation {
            priority: 3,
            title: "clean up configurations".to_owned(),
            detail,
            command: format!("vigil config delete {}", subjects[0]),
            subjects,
        });
    }

    // Prune is due only once an artifact is older than every rule keeps:
    // before that, a prune that never ran has had nothing to do.
    for r in f.retention.iter().filter(|r| r.overdue) {
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
        out.push(Recommendation {
            priority: 3,
            title: "verify retention".to_owned(),
            detail,
            command,
            subjects: vec![r.configuration.clone()],
        });
    }

    if !f.inputs.open_alerts.is_empty() {
        out.push(Recommendation {
            priority: 2,
            title: "review open alerts".to_owned(),
            detail: format!("{} alerts are open", f.inputs.open_alerts.len()),
            command: "vigil alerts".to_owned(),
            subjects: f
                .inputs
                .open_alerts
                .iter()
                .map(|a| a.dedup_key.clone())
                .collect(),
        });
    }

    out.sort_by_key(|r| r.priority);
    out
}

fn names(f: &Findings<'_>, purpose: Purpose) -> Vec<String> {
    f.configurations
        .leftovers
        .iter()
        .filter(|c| c.purpose() == purpose)
        .map(|c| c.name.clone())
        .collect()
}
