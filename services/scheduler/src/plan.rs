//! Planning the outcome of every due run handled in one tick (S4, S5).
//!
//! Catch-up selection is `vigil-schedule`'s [`plan_catch_up`]: it gives
//! every due time from the persisted next due time up to now an outcome
//! (enqueue, or missed with a reason) under the schedule's policy, window
//! and cap. This module layers what only the scheduler knows on top:
//! - a paused schedule records every due run as PAUSED;
//! - a run selected for enqueueing is checked against the runs of the
//!   schedule that were already queued or running before the tick:
//!   `skip` records it as SKIPPED_OVERLAP while any is active, `queue` only
//!   while one is still waiting in the queue, `allow` never;
//! - each outcome gets a human detail for the record.
//!
//! Jitter delays a fire, so it widens the grace and the window.

use std::time::Duration;

use chrono::{DateTime, Utc};
use vigil_proto::catalog::v1::JobState;
use vigil_schedule::{
    CatchUpMode, CatchUpWindow, MissReason, MissedSpan, Outcome, Schedule, Since, plan_catch_up,
};

use crate::spec::{CatchUp, Overlap};

/// A run of the schedule that was already queued or running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRun {
    /// The job's readable name.
    pub job: String,
    /// Queued or running.
    pub state: JobState,
}

/// The policy inputs of a plan.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Catch-up policy.
    pub catch_up: CatchUp,
    /// Catch-up window, jitter included.
    pub window: Duration,
    /// Cap under `all`.
    pub cap: usize,
    /// Grace plus jitter.
    pub tolerance: Duration,
    /// Overlap policy.
    pub overlap: Overlap,
    /// Whether the schedule is paused.
    pub paused: bool,
}

impl Policy {
    /// The catch-up policy in `vigil-schedule`'s terms.
    pub fn catch_up_policy(&self) -> vigil_schedule::CatchUpPolicy {
        let (mode, max_runs) = match self.catch_up {
            CatchUp::Skip => (CatchUpMode::Skip, 1),
            CatchUp::Once => (CatchUpMode::Once, 1),
            CatchUp::All => (
                CatchUpMode::All,
                self.cap.clamp(1, vigil_schedule::catch_up::MAX_LISTED),
            ),
        };
        vigil_schedule::CatchUpPolicy {
            mode,
            window: CatchUpWindow::Fixed(self.window.max(Duration::from_secs(1))),
            max_runs: max_runs as u32,
            grace: Some(self.tolerance),
        }
    }
}

/// What happens to one due run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A job is queued; the text says whether it is a catch-up.
    Enqueue(String),
    /// Skipped because another run is active.
    SkippedOverlap(String),
    /// Not run: outside the window, or not selected by the policy.
    Missed(String),
    /// The schedule is paused.
    Paused,
}

/// One due run and its decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRun {
    /// The due time.
    pub due: DateTime<Utc>,
    /// What happens to it.
    pub decision: Decision,
}

/// The plan of one schedule for one tick.
#[derive(Debug, Clone)]
pub struct DuePlan {
    /// Older missed due times, summarised (a long outage); each due time in
    /// them still gets its own MISSED (or PAUSED) record when committed.
    pub earlier: Vec<MissedSpan>,
    /// The newest due times, one by one, oldest first.
    pub runs: Vec<PlannedRun>,
    /// The first due time after now.
    pub next_due: Option<DateTime<Utc>>,
}

/// Plans every due time of `schedule` from `first_due` (inclusive) to `now`.
pub fn plan(
    schedule: &Schedule,
    policy: &Policy,
    first_due: DateTime<Utc>,
    now: DateTime<Utc>,
    active: &[ActiveRun],
) -> DuePlan {
    let since = Since::LastDue(first_due - chrono::Duration::microseconds(1));
    let catch_up = plan_catch_up(schedule, since, now, &policy.catch_up_policy());
    let latest = catch_up.enqueued().last();
    let overlap = overlap_reason(policy.overlap, active);
    let tolerance = chrono::Duration::from_std(policy.tolerance).unwrap_or(chrono::Duration::MAX);
    let runs = catch_up
        .outcomes
        .iter()
        .map(|o| {
            let decision = if policy.paused {
                Decision::Paused
            } else {
                match o.outcome {
                    Outcome::Missed(reason) => {
                        Decision::Missed(missed_detail(reason, policy, latest))
                    }
                    Outcome::Enqueue => match &overlap {
                        Some(why) => Decision::SkippedOverlap(why.clone()),
                        None if now - o.due > tolerance => Decision::Enqueue(format!(
                            "catch-up run, queued {} after its due time",
                            human((now - o.due).to_std().unwrap_or(Duration::ZERO))
                        )),
                        None => Decision::Enqueue(String::new()),
                    },
                }
            };
            PlannedRun {
                due: o.due,
                decision,
            }
        })
        .collect();
    DuePlan {
        earlier: catch_up.earlier,
        runs,
        next_due: catch_up.next_due,
    }
}

/// The decision for a due time inside a summarised span.
pub fn span_decision(span: &MissedSpan, policy: &Policy) -> Decision {
    if policy.paused {
        Decision::Paused
    } else {
        Decision::Missed(missed_detail(span.reason, policy, None))
    }
}

/// Why a selected run is skipped because of overlap, if it is.
pub fn overlap_reason(overlap: Overlap, active: &[ActiveRun]) -> Option<String> {
    let queued = active.iter().find(|a| a.state == JobState::Queued);
    let running = active.iter().find(|a| a.state == JobState::Running);
    match overlap {
        Overlap::Allow => None,
        Overlap::Skip => queued
            .or(running)
            .map(|a| format!("overlaps job {} which is {}", a.job, state_word(a.state))),
        Overlap::Queue => queued.map(|a| format!("job {} is already waiting in the queue", a.job)),
    }
}

fn missed_detail(reason: MissReason, policy: &Policy, latest: Option<DateTime<Utc>>) -> String {
    let caught_up = latest
        .map(|l| format!("the run due at {}", stamp(l)))
        .unwrap_or_else(|| "a later run".into());
    match (reason, policy.catch_up) {
        (MissReason::OutsideWindow, CatchUp::Skip) => {
            format!(
                "catch-up policy skip: not handled within the grace of {}",
                human(policy.tolerance)
            )
        }
        (MissReason::OutsideWindow, _) => {
            format!("outside the catch-up window of {}", human(policy.window))
        }
        (MissReason::Coalesced, CatchUp::Skip) => {
            format!("catch-up policy skip: superseded by {caught_up}")
        }
        (MissReason::Coalesced, _) => format!("catch-up policy once: caught up by {caught_up}"),
        (MissReason::OverCap, _) => format!("over the catch-up cap of {}", policy.cap),
    }
}

fn state_word(s: JobState) -> &'static str {
    match s {
        JobState::Queued => "queued",
        JobState::Running => "running",
        _ => "active",
    }
}

/// RFC 3339 with seconds, for details and reasons.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A duration rounded to whole seconds, as text.
pub fn human(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 12, 20, h, m, 0).unwrap()
    }

    fn hourly() -> Schedule {
        Schedule::cron("0 * * * *", "UTC").unwrap()
    }

    fn policy(catch_up: CatchUp) -> Policy {
        Policy {
            catch_up,
            window: Duration::from_secs(3 * 3600),
            cap: 2,
            tolerance: Duration::from_secs(360),
            overlap: Overlap::Skip,
            paused: false,
        }
    }

    fn kinds(runs: &[PlannedRun]) -> Vec<&'static str> {
        runs.iter()
            .map(|r| match r.decision {
                Decision::Enqueue(_) => "E",
                Decision::SkippedOverlap(_) => "O",
                Decision::Missed(_) => "M",
                Decision::Paused => "P",
            })
            .collect()
    }

    #[test]
    fn once_runs_the_latest_and_records_the_rest_as_missed() {
        let p = plan(&hourly(), &policy(CatchUp::Once), t(0, 0), t(5, 1), &[]);
        assert_eq!(kinds(&p.runs), ["M", "M", "M", "M", "M", "E"]);
        assert_eq!(p.next_due, Some(t(6, 0)));
        let Decision::Missed(why) = &p.runs[0].decision else {
            unreachable!()
        };
        assert!(why.contains("outside the catch-up window of 3h"), "{why}");
        let Decision::Missed(why) = &p.runs[3].decision else {
            unreachable!()
        };
        assert!(
            why.contains("caught up by the run due at 2025-12-20T05:00:00Z"),
            "{why}"
        );
    }

    #[test]
    fn all_runs_the_latest_up_to_the_cap_and_skip_only_on_time() {
        let p = plan(&hourly(), &policy(CatchUp::All), t(0, 0), t(5, 1), &[]);
        assert_eq!(kinds(&p.runs), ["M", "M", "M", "M", "E", "E"]);
        let Decision::Enqueue(detail) = &p.runs[4].decision else {
            unreachable!()
        };
        assert!(detail.starts_with("catch-up run"), "{detail}");
        let p = plan(&hourly(), &policy(CatchUp::Skip), t(0, 0), t(5, 1), &[]);
        assert_eq!(kinds(&p.runs), ["M", "M", "M", "M", "M", "E"]);
        let p = plan(&hourly(), &policy(CatchUp::Skip), t(0, 0), t(5, 30), &[]);
        assert_eq!(kinds(&p.runs), ["M"; 6]);
    }

    #[test]
    fn overlap_policies() {
        let queued = [ActiveRun {
            job: "n_1".into(),
            state: JobState::Queued,
        }];
        let running = [ActiveRun {
            job: "n_1".into(),
            state: JobState::Running,
        }];
        let mut p = policy(CatchUp::Once);
        let one = |p: &Policy, active: &[ActiveRun]| {
            kinds(&plan(&hourly(), p, t(5, 0), t(5, 0), active).runs)
        };
        assert_eq!(one(&p, &running), ["O"]);
        p.overlap = Overlap::Queue;
        assert_eq!(one(&p, &running), ["E"]);
        assert_eq!(one(&p, &queued), ["O"]);
        p.overlap = Overlap::Allow;
        assert_eq!(one(&p, &queued), ["E"]);
    }

    #[test]
    fn paused_records_every_due_run_as_paused() {
        let mut p = policy(CatchUp::All);
        p.paused = true;
        assert_eq!(
            kinds(&plan(&hourly(), &p, t(0, 0), t(5, 1), &[]).runs),
            ["P"; 6]
        );
    }

    fn catch_up() -> impl Strategy<Value = CatchUp> {
        prop_oneof![Just(CatchUp::Skip), Just(CatchUp::Once), Just(CatchUp::All)]
    }

    proptest! {
        /// S4: every due time from the first due time to now gets exactly one
        /// outcome, in order; S5: never more runs than the policy allows,
        /// and an on-time due run is never missed.
        #[test]
        fn every_due_run_gets_exactly_one_outcome(
            step in prop_oneof![Just(10u32), Just(15), Just(30)],
            span_secs in 0i64..40_000,
            window in 1u64..50_000,
            cap in 1usize..20,
            policy_kind in catch_up(),
        ) {
            let schedule = Schedule::cron(&format!("*/{step} * * * * *"), "UTC").unwrap();
            let first = t(0, 0);
            let now = first + chrono::Duration::seconds(span_secs);
            let p = Policy {
                catch_up: policy_kind,
                window: Duration::from_secs(window),
                cap,
                tolerance: Duration::from_secs(60),
                overlap: Overlap::Skip,
                paused: false,
            };
            let plan = plan(&schedule, &p, first, now, &[]);
            let expected: Vec<_> = std::iter::once(first)
                .chain(schedule.fires_between(first, now, usize::MAX))
                .collect();
            let mut covered: Vec<DateTime<Utc>> = Vec::new();
            for span in &plan.earlier {
                covered.extend(schedule.fires_between(span.first - chrono::Duration::microseconds(1), span.last, span.count as usize));
            }
            covered.extend(plan.runs.iter().map(|r| r.due));
            prop_assert_eq!(&covered, &expected);
            let enqueued = plan.runs.iter().filter(|r| matches!(r.decision, Decision::Enqueue(_))).count();
            let limit = match policy_kind { CatchUp::All => cap, _ => 1 };
            prop_assert!(enqueued <= limit);
            let last = *expected.last().unwrap();
            if now - last <= chrono::Duration::seconds(60) {
                prop_assert!(matches!(plan.runs.last().unwrap().decision, Decision::Enqueue(_)), "{:?}", plan.runs.last());
            }
            prop_assert_eq!(plan.next_due, schedule.next_after(now));
        }
    }
}
