//! The verdict and the risk level. The rules are documented in
//! `docs/STATUS-RULES.md`; each rule that applies adds a reason.

use chrono::Duration;
use vigil_proto::catalog::v1::{AlertSeverity, JobKind, ScheduleHealth};
use vigil_proto::status::v1::{
    BackupFreshness, JobHistory, Liveness, RiskLevel, ScheduleHealthEntry, Verdict,
};

use crate::Inputs;
use crate::schedules::{Facts, broken};
use crate::time::{human, instant};

/// The findings the verdict and risk are decided from.
#[derive(Debug)]
pub(crate) struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// One line saying why.
    pub headline: String,
    /// The risk.
    pub risk: RiskLevel,
    /// Why the risk is what it is.
    pub risk_reasons: Vec<String>,
}

/// Decides the verdict and the risk.
pub(crate) fn judge(
    inputs: &Inputs,
    facts: &[Facts<'_>],
    schedules: &[ScheduleHealthEntry],
    freshness: &[BackupFreshness],
    history: &JobHistory,
    liveness: &Liveness,
) -> Judgement {
    let scheduled: Vec<&Facts<'_>> = facts.iter().filter(|f| f.scheduled_active()).collect();
    // Schedules whose first run has been due: only these can be failing to back up.
    let due = scheduled
        .iter()
        .filter(|f| f.has_been_due(inputs.now))
        .count();
    let broken_schedules: Vec<&ScheduleHealthEntry> =
        schedules.iter().filter(|s| broken(s.health())).collect();
    let any_success = history.last_success_time.is_some();

    let failing = failing_reasons(!scheduled.is_empty(), due, history, liveness);
    let partial = partial_reasons(
        inputs,
        !scheduled.is_empty(),
        &broken_schedules,
        freshness,
        history,
        liveness,
    );
    let (verdict, headline) = if let Some(first) = failing.first() {
        (
            Verdict::Failing,
            format!("backups are not being made: {first}"),
        )
    } else if let Some(first) = partial.first() {
        (Verdict::PartiallyWorking, first.clone())
    } else if due < scheduled.len() && !any_success {
        (
            Verdict::Healthy,
            "schedules are armed; their first runs are not yet due".to_owned(),
        )
    } else {
        (
            Verdict::Healthy,
            "schedules fire on time and backups succeed".to_owned(),
        )
    };
    let high = overdue_production(inputs, &scheduled);
    let (risk, risk_reasons) = if verdict == Verdict::Failing || !high.is_empty() {
        (RiskLevel::High, [failing, high].concat())
    } else if verdict == Verdict::PartiallyWorking {
        (RiskLevel::Medium, partial)
    } else {
        (
            RiskLevel::Low,
            vec![
                "every scheduled configuration has a successful backup within its interval"
                    .to_owned(),
            ],
        )
    };
    let mut judgement = Judgement {
        verdict,
        headline,
        risk,
        risk_reasons,
    };
    if risk != RiskLevel::Low {
        add_mitigations(
            &mut judgement.risk_reasons,
            inputs,
            history,
            &broken_schedules,
        );
    }
    judgement
}

/// FAILING: backups are not being made at all.
fn failing_reasons(
    any_scheduled: bool,
    due: usize,
    history: &JobHistory,
    liveness: &Liveness,
) -> Vec<String> {
    let finished = history.completed + history.failed;
    let mut failing = Vec::new();
    if due > 0 && history.last_success_time.is_none() {
        failing.push("no backup succeeded in the window".to_owned());
    }
    if finished > 0 && history.completed == 0 {
        failing.push(format!(
            "all {finished} finished backups in the window failed"
        ));
    }
    if any_scheduled && liveness.executors == 0 {
        failing.push("no executor is alive, so no job can run".to_owned());
    }
    failing
}

/// PARTIALLY WORKING: something is wrong but backups are still being made.
fn partial_reasons(
    inputs: &Inputs,
    any_scheduled: bool,
    broken_schedules: &[&ScheduleHealthEntry],
    freshness: &[BackupFreshness],
    history: &JobHistory,
    liveness: &Liveness,
) -> Vec<String> {
    let mut partial = Vec::new();
    if !broken_schedules.is_empty() {
        let never_fired = broken_schedules.iter().filter(|s| s.never_fired).count();
        let names: Vec<&str> = broken_schedules
            .iter()
            .map(|s| s.schedule.as_str())
            .collect();
        if never_fired == broken_schedules.len() {
            partial.push(format!(
                "scheduled backups are not running: {} never executed ({})",
                plural(never_fired, "schedule has", "schedules have"),
                names.join(", ")
            ));
        } else {
            partial.push(format!(
                "scheduled backups are not running: {} down ({})",
                plural(broken_schedules.len(), "schedule is", "schedules are"),
                names.join(", ")
            ));
        }
    }
    if any_scheduled && !liveness.scheduler_alive {
        partial.push("the scheduler is down".to_owned());
    }
    if history.failed > 0 {
        partial.push(format!(
            "{} failed in the window",
            plural(history.failed as usize, "backup", "backups")
        ));
    }
    let failed_verifies: u32 = history
        .operations
        .iter()
        .filter(|o| o.kind() == JobKind::Verify)
        .map(|o| o.failed)
        .sum();
    if failed_verifies > 0 {
        partial.push(format!(
            "{} failed in the window: stored backups may be damaged",
            plural(failed_verifies as usize, "verify job", "verify jobs")
        ));
    }
    let stale = freshness
        .iter()
        .filter(|f| f.state == "STALE" || f.state == "NEVER")
        .count();
    if stale > 0 {
        partial.push(format!(
            "{} without a recent successful backup",
            plural(stale, "scheduled configuration", "scheduled configurations")
        ));
    }
    let critical_alerts = inputs
        .open_alerts
        .iter()
        .filter(|a| a.severity() == AlertSeverity::Critical)
        .count();
    if critical_alerts > 0 {
        partial.push(format!(
            "{} open",
            plural(critical_alerts, "critical alert", "critical alerts")
        ));
    }
    partial
}

/// HIGH risk: production configurations with two due times past their grace
/// and no success after either.
fn overdue_production(inputs: &Inputs, scheduled: &[&Facts<'_>]) -> Vec<String> {
    let mut high = Vec::new();
    for f in scheduled.iter().filter(|f| f.production()) {
        let Some(interval) = f.interval else { continue };
        let Some(older) = f
            .previous_fire(inputs.now - f.grace)
            .and_then(|d| f.previous_fire(d - chrono::Duration::microseconds(1)))
        else {
            continue;
        };
        let last = inputs
            .last_success
            .get(&f.config.name)
            .and_then(|j| instant(&j.end_time));
        let created = instant(&f.config.create_time).unwrap_or(inputs.now);
        match last {
            Some(t) if t < older => high.push(format!(
                "{}: last successful backup {} ago, two due times missed since (expected every {})",
                f.config.name,
                human(inputs.now - t),
                human(interval)
            )),
            None if created < older => high.push(format!(
                "{}: no successful backup since it was created {} ago, two due times missed (expected every {})",
                f.config.name,
                human(inputs.now - created),
                human(interval)
            )),
            _ => {}
        }
    }
    high
}

/// What tempers or worsens a raised risk: backups that still succeed when
/// run, and protection that rests on manual runs.
fn add_mitigations(
    reasons: &mut Vec<String>,
    inputs: &Inputs,
    history: &JobHistory,
    broken_schedules: &[&ScheduleHealthEntry],
) {
    if let Some(newest) = history
        .last_success_time
        .as_ref()
        .and_then(|t| instant(&Some(*t)))
    {
        reasons.push(format!(
            "backups still succeed when run: the newest finished {} ago",
            human((inputs.now - newest).max(Duration::zero()))
        ));
    }
    if history.manual > 0
        && broken_schedules
            .iter()
            .any(|s| s.health() == ScheduleHealth::Down)
    {
        reasons.push("protection depends on people running backups by hand".to_owned());
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
