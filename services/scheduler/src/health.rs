//! The visible health of a schedule (S2), computed from catalog facts only,
//! so every replica reaches the same answer. Pure: no I/O, no clock.
//!
//! In order of precedence:
//! 1. PAUSED: paused by a person.
//! 2. UNARMED: no persisted next due time.
//! 3. DOWN: a run of the schedule has waited in the queue longer than the
//!    grace without being picked up (the seed's failure: runs that nobody
//!    runs), or the next due time plus grace has passed without a fire, or
//!    the schedule has never enqueued a job although a due time plus grace
//!    has passed. A schedule that never fired is never healthy.
//! 4. MISSED: the last tick recorded missed due runs (sticky until a tick
//!    records none).
//! 5. LATE: the newest run started, or is still waiting, later than its
//!    due time plus grace (sticky until a newer run is seen).
//! 6. ARMED.

use std::time::Duration;

use chrono::{DateTime, Utc};
use vigil_proto::catalog::v1::{JobState, ScheduleHealth};

use crate::plan::{Decision, PlannedRun, human, stamp};

/// What is known about one job of the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFact {
    /// Readable name.
    pub name: String,
    /// Its due time.
    pub due: DateTime<Utc>,
    /// When it was queued.
    pub queued: DateTime<Utc>,
    /// Its state.
    pub state: JobState,
    /// When an executor started it.
    pub started: Option<DateTime<Utc>>,
}

impl JobFact {
    /// When the job could first start: its due time, or when it was queued
    /// if that was later (a catch-up run).
    fn ready(&self) -> DateTime<Utc> {
        self.due.max(self.queued)
    }
}

/// The inputs of an assessment.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// Now.
    pub now: DateTime<Utc>,
    /// Paused by a person.
    pub paused: bool,
    /// The persisted next due time.
    pub next_due: Option<DateTime<Utc>>,
    /// The last due time that has an outcome.
    pub last_due: Option<DateTime<Utc>>,
    /// Jobs enqueued so far.
    pub fired_count: u64,
    /// When the schedule was armed.
    pub armed: Option<DateTime<Utc>>,
    /// Grace plus jitter.
    pub tolerance: Duration,
    /// The runs planned by the tick this assessment follows, if any.
    pub tick: Option<&'a [PlannedRun]>,
    /// Known jobs of the schedule: active ones and recently seen ones.
    pub jobs: &'a [JobFact],
    /// Why no live executor can run the schedule, if so (S8).
    pub executor_problem: Option<&'a str>,
    /// Why the schedule cannot be armed, if so.
    pub unarmed_reason: Option<&'a str>,
    /// The stored health and reason.
    pub previous: (ScheduleHealth, &'a str),
}

/// A health and its human reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The health.
    pub health: ScheduleHealth,
    /// Why, lowercase.
    pub reason: String,
}

/// Longest reason stored; the catalog takes up to 4096 characters.
const MAX_REASON: usize = 2000;

impl Assessment {
    fn new(health: ScheduleHealth, reason: impl Into<String>) -> Self {
        let mut reason: String = reason.into();
        if let Some((cut, _)) = reason.char_indices().nth(MAX_REASON) {
            reason.truncate(cut);
            reason.push_str("...");
        }
        Self { health, reason }
    }
}

/// Assesses one schedule.
pub fn assess(f: &Facts<'_>) -> Assessment {
    let tol = chrono::Duration::from_std(f.tolerance).unwrap_or(chrono::Duration::MAX);
    if f.paused {
        return Assessment::new(
            ScheduleHealth::Paused,
            "paused; due runs are recorded as paused",
        );
    }
    let Some(next_due) = f.next_due else {
        let why = f.unarmed_reason.unwrap_or("no next due time is persisted");
        return Assessment::new(ScheduleHealth::Unarmed, why);
    };
    let stuck = f
        .jobs
        .iter()
        .filter(|j| j.state == JobState::Queued && f.now - j.ready() > tol)
        .min_by_key(|j| j.due);
    if let Some(job) = stuck {
        let cause = f.executor_problem.unwrap_or("no executor has leased it");
        return Assessment::new(
            ScheduleHealth::Down,
            format!(
                "job {} due at {} has waited in the queue since {} without being picked up: {cause}",
                job.name,
                stamp(job.due),
                stamp(job.queued)
            ),
        );
    }
    if f.now - next_due > tol {
        return Assessment::new(
            ScheduleHealth::Down,
            format!(
                "due at {} but not fired within the grace of {}; no scheduler replica handled it",
                stamp(next_due),
                human(f.tolerance)
            ),
        );
    }
    if f.fired_count == 0
        && let Some(last_due) = f.last_due
        && f.armed.is_none_or(|armed| last_due > armed)
        && f.now - last_due > tol
    {
        let since = f
            .armed
            .map(|a| format!(" since it was armed at {}", stamp(a)))
            .unwrap_or_default();
        return Assessment::new(
            ScheduleHealth::Down,
            format!(
                "never fired: no job was enqueued for any due time{since}; the last was due at {}",
                stamp(last_due)
            ),
        );
    }
    if let Some(missed) = missed_reason(f) {
        return Assessment::new(ScheduleHealth::Missed, missed);
    }
    match late_reason(f, tol) {
        Some(Some(late)) => return Assessment::new(ScheduleHealth::Late, late),
        Some(None) => {}
        None if f.previous.0 == ScheduleHealth::Late => {
            return Assessment::new(ScheduleHealth::Late, f.previous.1.to_owned());
        }
        None => {}
    }
    Assessment::new(
        ScheduleHealth::Armed,
        format!("next due at {}", stamp(next_due)),
    )
}

/// The MISSED reason after a tick with missed runs; the stored one between
/// ticks; `None` when the last tick missed nothing.
fn missed_reason(f: &Facts<'_>) -> Option<String> {
    let Some(runs) = f.tick else {
        return (f.previous.0 == ScheduleHealth::Missed).then(|| f.previous.1.to_owned());
    };
    let missed: Vec<_> = runs
        .iter()
        .filter_map(|r| match &r.decision {
            Decision::Missed(why) => Some((r.due, why)),
            _ => None,
        })
        .collect();
    let (first, _) = missed.first()?;
    let (last, why) = missed.last()?;
    let count = missed.len();
    Some(if count == 1 {
        format!("missed the run due at {}: {why}", stamp(*first))
    } else {
        format!(
            "missed {count} due runs from {} to {}: {why}",
            stamp(*first),
            stamp(*last)
        )
    })
}

/// `Some(Some(reason))` if the newest known run started late, or has not
/// started although its due time plus grace has passed; `Some(None)` if it
/// is on time; `None` if no run is known. Lateness counts from the due time,
/// so a catch-up run is late.
fn late_reason(f: &Facts<'_>, tol: chrono::Duration) -> Option<Option<String>> {
    let newest = f.jobs.iter().max_by_key(|j| j.due)?;
    let grace = human(f.tolerance);
    Some(match newest.started {
        Some(started) if started - newest.due > tol => Some(format!(
            "job {} started {} after its due time {}, beyond the grace of {grace}",
            newest.name,
            human((started - newest.due).to_std().unwrap_or(Duration::ZERO)),
            stamp(newest.due),
        )),
        Some(_) => None,
        None if newest.state == JobState::Queued && f.now - newest.due > tol => Some(format!(
            "job {} due at {} has not started within the grace of {grace}; it was queued at {}",
            newest.name,
            stamp(newest.due),
            stamp(newest.queued),
        )),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 12, 20, h, m, 0).unwrap()
    }

    fn facts<'a>(now: DateTime<Utc>, jobs: &'a [JobFact]) -> Facts<'a> {
        Facts {
            now,
            paused: false,
            next_due: Some(t(3, 0)),
            last_due: Some(t(2, 0)),
            fired_count: 1,
            armed: Some(t(1, 0)),
            tolerance: Duration::from_secs(360),
            tick: None,
            jobs,
            executor_problem: None,
            unarmed_reason: None,
            previous: (ScheduleHealth::Armed, ""),
        }
    }

    fn job(state: JobState, started: Option<DateTime<Utc>>) -> JobFact {
        JobFact {
            name: "n_20251220_020000".into(),
            due: t(2, 0),
            queued: t(2, 0),
            state,
            started,
        }
    }

    #[test]
    fn queued_past_grace_is_down_and_names_the_executor_problem() {
        let jobs = [job(JobState::Queued, None)];
        let mut f = facts(t(2, 10), &jobs);
        f.executor_problem = Some("no live executor: none has reported a heartbeat");
        let a = assess(&f);
        assert_eq!(a.health, ScheduleHealth::Down);
        assert!(
            a.reason
                .contains("without being picked up: no live executor"),
            "{}",
            a.reason
        );
        // Within the grace it is still armed.
        assert_eq!(assess(&facts(t(2, 5), &jobs)).health, ScheduleHealth::Armed);
    }

    #[test]
    fn never_fired_past_first_due_plus_grace_is_down_never_new() {
        let mut f = facts(t(2, 7), &[]);
        f.fired_count = 0;
        let a = assess(&f);
        assert_eq!(a.health, ScheduleHealth::Down);
        assert!(a.reason.starts_with("never fired"), "{}", a.reason);
        // Before its first due time plus grace a never-fired schedule is armed.
        f.now = t(2, 5);
        assert_eq!(assess(&f).health, ScheduleHealth::Armed);
        f.last_due = None;
        f.now = t(2, 59);
        assert_eq!(assess(&f).health, ScheduleHealth::Armed);
    }

    #[test]
    fn overdue_next_due_is_down() {
        let a = assess(&facts(t(3, 7), &[]));
        assert_eq!(a.health, ScheduleHealth::Down);
        assert!(a.reason.contains("not fired"), "{}", a.reason);
    }

    #[test]
    fn late_start_is_late_until_a_newer_run_is_on_time() {
        let late = [job(JobState::Running, Some(t(2, 30)))];
        let a = assess(&facts(t(2, 31), &late));
        assert_eq!(a.health, ScheduleHealth::Late);
        // Without job facts the stored LATE stays.
        let mut f = facts(t(2, 40), &[]);
        f.previous = (ScheduleHealth::Late, &a.reason);
        assert_eq!(assess(&f).health, ScheduleHealth::Late);
        // A newer run on time clears it.
        let newer = [JobFact {
            due: t(3, 0),
            queued: t(3, 0),
            started: Some(t(3, 1)),
            ..job(JobState::Running, None)
        }];
        let mut f = facts(t(3, 2), &newer);
        f.next_due = Some(t(4, 0));
        f.previous = (ScheduleHealth::Late, &a.reason);
        assert_eq!(assess(&f).health, ScheduleHealth::Armed);
    }

    #[test]
    fn a_catch_up_run_is_late_but_not_down_while_fresh_in_the_queue() {
        let catch_up = [JobFact {
            queued: t(2, 50),
            ..job(JobState::Queued, None)
        }];
        let a = assess(&facts(t(2, 52), &catch_up));
        assert_eq!(a.health, ScheduleHealth::Late);
        assert!(
            a.reason.contains("has not started within the grace"),
            "{}",
            a.reason
        );
        assert_eq!(
            assess(&facts(t(2, 57), &catch_up)).health,
            ScheduleHealth::Down
        );
    }

    #[test]
    fn missed_runs_in_a_tick_are_missed_until_a_clean_tick() {
        let runs = [
            PlannedRun {
                due: t(0, 0),
                decision: Decision::Missed("outside the catch-up window of 1h".into()),
            },
            PlannedRun {
                due: t(1, 0),
                decision: Decision::Missed("outside the catch-up window of 1h".into()),
            },
            PlannedRun {
                due: t(2, 0),
                decision: Decision::Enqueue(String::new()),
            },
        ];
        let mut f = facts(t(2, 1), &[]);
        f.tick = Some(&runs);
        let a = assess(&f);
        assert_eq!(a.health, ScheduleHealth::Missed);
        assert!(
            a.reason
                .starts_with("missed 2 due runs from 2025-12-20T00:00:00Z"),
            "{}",
            a.reason
        );
        let mut f = facts(t(2, 2), &[]);
        f.previous = (ScheduleHealth::Missed, &a.reason);
        assert_eq!(assess(&f).health, ScheduleHealth::Missed);
        let clean = [PlannedRun {
            due: t(3, 0),
            decision: Decision::Enqueue(String::new()),
        }];
        f.tick = Some(&clean);
        assert_eq!(assess(&f).health, ScheduleHealth::Armed);
    }

    #[test]
    fn paused_and_unarmed_take_precedence() {
        let jobs = [job(JobState::Queued, None)];
        let mut f = facts(t(5, 0), &jobs);
        f.paused = true;
        assert_eq!(assess(&f).health, ScheduleHealth::Paused);
        f.paused = false;
        f.next_due = None;
        f.unarmed_reason = Some("configuration.schedule.cron: bad");
        let a = assess(&f);
        assert_eq!(
            (a.health, a.reason.as_str()),
            (ScheduleHealth::Unarmed, "configuration.schedule.cron: bad")
        );
    }
}
