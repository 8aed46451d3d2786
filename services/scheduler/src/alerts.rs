//! The alerts the scheduler owns: one per schedule and condition, keyed by a
//! dedup key such as `schedule-down:nightly`, raised while the condition
//! holds and resolved when it clears. Each open/resolve transition that this
//! replica caused goes to the webhook notifier exactly once.

use vigil_proto::catalog::v1::{Alert, AlertKind, AlertSeverity, ScheduleHealth};

use crate::health::Assessment;

pub use crate::webhook::{Notifier, Transition};

/// Dedup key prefix of the S8 alert.
pub const NO_CAPABLE_EXECUTOR: &str = "no-capable-executor:";

/// Dedup key prefixes of scheduler-owned alerts.
pub const PREFIXES: [&str; 5] = [
    "schedule-down:",
    "schedule-late:",
    "schedule-missed:",
    "schedule-unarmed:",
    "no-capable-executor:",
];

/// Whether an open alert belongs to the scheduler.
pub fn is_owned(dedup_key: &str) -> bool {
    PREFIXES.iter().any(|p| dedup_key.starts_with(p))
}

/// An alert that should be open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSpec {
    /// Dedup key.
    pub dedup_key: String,
    /// Kind.
    pub kind: AlertKind,
    /// Severity.
    pub severity: AlertSeverity,
    /// Configuration concerned.
    pub configuration: String,
    /// Human message.
    pub message: String,
}

impl AlertSpec {
    /// The alert message to raise.
    pub fn to_alert(&self) -> Alert {
        Alert {
            kind: self.kind as i32,
            severity: self.severity as i32,
            configuration: self.configuration.clone(),
            message: self.message.clone(),
            dedup_key: self.dedup_key.clone(),
            ..Default::default()
        }
    }
}

/// The alerts that should be open for one schedule.
pub fn for_schedule(
    schedule: &str,
    configuration: &str,
    assessment: &Assessment,
    executor_problem: Option<&str>,
) -> Vec<AlertSpec> {
    let mut out = Vec::new();
    let spec = |prefix: &str, kind, severity, message: String| AlertSpec {
        dedup_key: format!("{prefix}{schedule}"),
        kind,
        severity,
        configuration: configuration.to_owned(),
        message,
    };
    let reason = &assessment.reason;
    match assessment.health {
        ScheduleHealth::Down => out.push(spec(
            "schedule-down:",
            AlertKind::ScheduleDown,
            AlertSeverity::Critical,
            format!("schedule {schedule} is down: {reason}"),
        )),
        ScheduleHealth::Missed => out.push(spec(
            "schedule-missed:",
            AlertKind::ScheduleMissed,
            AlertSeverity::Warning,
            format!("schedule {schedule} {reason}"),
        )),
        ScheduleHealth::Late => out.push(spec(
            "schedule-late:",
            AlertKind::ScheduleLate,
            AlertSeverity::Warning,
            format!("schedule {schedule} is late: {reason}"),
        )),
        ScheduleHealth::Unarmed => out.push(spec(
            "schedule-unarmed:",
            AlertKind::ScheduleUnarmed,
            AlertSeverity::Critical,
            format!("schedule {schedule} is not armed: {reason}"),
        )),
        ScheduleHealth::Armed | ScheduleHealth::Paused | ScheduleHealth::Unspecified => {}
    }
    if let Some(problem) = executor_problem {
        out.push(spec(
            "no-capable-executor:",
            AlertKind::NoCapableExecutor,
            AlertSeverity::Critical,
            format!("schedule {schedule} cannot run: {problem}"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_with_executor_problem_raises_two_alerts() {
        let a = Assessment {
            health: ScheduleHealth::Down,
            reason: "never fired".into(),
        };
        let alerts = for_schedule("nightly", "nightly", &a, Some("no live executor"));
        let keys: Vec<_> = alerts.iter().map(|a| a.dedup_key.as_str()).collect();
        assert_eq!(
            keys,
            ["schedule-down:nightly", "no-capable-executor:nightly"]
        );
        assert_eq!(alerts[1].kind, AlertKind::NoCapableExecutor);
        assert!(alerts.iter().all(|a| is_owned(&a.dedup_key)));
        assert!(!is_owned("job-failed:123"));
    }

    #[test]
    fn healthy_and_paused_raise_nothing() {
        for health in [ScheduleHealth::Armed, ScheduleHealth::Paused] {
            let a = Assessment {
                health,
                reason: String::new(),
            };
            assert!(for_schedule("n#prune", "n", &a, None).is_empty());
        }
    }
}
