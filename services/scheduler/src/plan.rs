//! Planning the outcome of every due run handled in one tick (S4, S5):
//! catch-up selection, then the overlap check. Pure: no I/O, no clock.
//!
//! Rules, for the due times `d1 < .. < dn <= now` of one schedule:
//! - a paused schedule records every due run as PAUSED;
//! - a due time older than the catch-up window is MISSED;
//! - of the due times inside the window, the catch-up policy selects
//!   - `skip`: the latest one, and only if it is on time (inside grace plus
//!     jitter); a schedule that is simply late never runs twice;
//!   - `once`: the latest one;
//!   - `all`: the latest `cap` ones;
//!
//!   and every other one is MISSED with the reason;
//! - a selected run is checked against the runs of the schedule that were
//!   already queued or running before the tick: `skip` records it as
//!   SKIPPED_OVERLAP while any is active, `queue` only while one is still
//!   waiting in the queue, `allow` never.

use std::time::Duration;

use chrono::{DateTime, Utc};
use vigil_proto::catalog::v1::JobState;

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
    /// Catch-up window.
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

/// Plans every due time in `dues` (ascending, all `<= now`). Returns exactly
/// one decision per due time, in the same order.
pub fn plan(
    policy: &Policy,
    dues: &[DateTime<Utc>],
    now: DateTime<Utc>,
    active: &[ActiveRun],
) -> Vec<PlannedRun> {
    plan_slice(policy, dues, now, active, false)
}

/// Like [`plan`], for a slice of a longer backlog: `superseded` says that
/// later due times (still `<= now`) follow the slice, so none in it is the
/// latest.
pub fn plan_slice(
    policy: &Policy,
    dues: &[DateTime<Utc>],
    now: DateTime<Utc>,
    active: &[ActiveRun],
    superseded: bool,
) -> Vec<PlannedRun> {
    if policy.paused {
        return dues
            .iter()
            .map(|&due| PlannedRun {
                due,
                decision: Decision::Paused,
            })
            .collect();
    }
    let window = chrono::Duration::from_std(policy.window).unwrap_or(chrono::Duration::MAX);
    let tolerance = chrono::Duration::from_std(policy.tolerance).unwrap_or(chrono::Duration::MAX);
    let window_start = now
        .checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let in_window: Vec<usize> = (0..dues.len())
        .filter(|&i| dues[i] >= window_start)
        .collect();
    let latest = if superseded {
        None
    } else {
        in_window.last().map(|&i| dues[i])
    };

    let selected = |i: usize| -> Result<(), String> {
        let due = dues[i];
        if due < window_start {
            return Err(format!(
                "outside the catch-up window of {}",
                human(policy.window)
            ));
        }
        let Some(latest) = latest else {
            return Err(match policy.catch_up {
                CatchUp::All => format!("over the catch-up cap of {}", policy.cap.max(1)),
                CatchUp::Skip | CatchUp::Once => "superseded by later due times".to_owned(),
            });
        };
        match policy.catch_up {
            CatchUp::Skip if due == latest && now - due <= tolerance => Ok(()),
            CatchUp::Skip if due == latest => Err(format!(
                "catch-up policy skip: {} late, beyond the grace of {}",
                human_signed(now - due),
                human(policy.tolerance)
            )),
            CatchUp::Skip => Err(format!(
                "catch-up policy skip: superseded by the run due at {}",
                stamp(latest)
            )),
            CatchUp::Once if due == latest => Ok(()),
            CatchUp::Once => Err(format!(
                "catch-up policy once: caught up by the run due at {}",
                stamp(latest)
            )),
            CatchUp::All => {
                let rank_from_end = in_window
                    .iter()
                    .rev()
                    .position(|&j| j == i)
                    .unwrap_or(usize::MAX);
                if rank_from_end < policy.cap.max(1) {
                    Ok(())
                } else {
                    Err(format!("over the catch-up cap of {}", policy.cap.max(1)))
                }
            }
        }
    };

    let queued = active.iter().find(|a| a.state == JobState::Queued);
    let running = active.iter().find(|a| a.state == JobState::Running);
    let overlap = || -> Option<String> {
        match policy.overlap {
            Overlap::Allow => None,
            Overlap::Skip => queued
                .or(running)
                .map(|a| format!("overlaps job {} which is {}", a.job, state_word(a.state))),
            Overlap::Queue => {
                queued.map(|a| format!("job {} is already waiting in the queue", a.job))
            }
        }
    };

    (0..dues.len())
        .map(|i| {
            let due = dues[i];
            let decision = match selected(i) {
                Err(reason) => Decision::Missed(reason),
                Ok(()) => match overlap() {
                    Some(reason) => Decision::SkippedOverlap(reason),
                    None if now - due > tolerance => Decision::Enqueue(format!(
                        "catch-up run, queued {} after its due time",
                        human_signed(now - due)
                    )),
                    None => Decision::Enqueue(String::new()),
                },
            };
            PlannedRun { due, decision }
        })
        .collect()
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

fn human_signed(d: chrono::Duration) -> String {
    human(d.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 12, 20, h, m, 0).unwrap()
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

    // Hourly due times from 00:00 to 05:00, handled at 05:01.
    fn hourly() -> Vec<DateTime<Utc>> {
        (0..6).map(|h| t(h, 0)).collect()
    }

    #[test]
    fn once_runs_the_latest_and_records_the_rest_as_missed() {
        let runs = plan(&policy(CatchUp::Once), &hourly(), t(5, 1), &[]);
        assert_eq!(kinds(&runs), ["M", "M", "M", "M", "M", "E"]);
        let Decision::Missed(why) = &runs[0].decision else {
            unreachable!()
        };
        assert!(why.contains("outside the catch-up window"), "{why}");
        let Decision::Missed(why) = &runs[3].decision else {
            unreachable!()
        };
        assert!(
            why.contains("caught up by the run due at 2025-12-20T05:00:00Z"),
            "{why}"
        );
    }

    #[test]
    fn all_runs_the_latest_up_to_the_cap() {
        let runs = plan(&policy(CatchUp::All), &hourly(), t(5, 1), &[]);
        assert_eq!(kinds(&runs), ["M", "M", "M", "M", "E", "E"]);
    }

    #[test]
    fn skip_runs_only_an_on_time_latest() {
        assert_eq!(
            kinds(&plan(&policy(CatchUp::Skip), &hourly(), t(5, 1), &[])),
            ["M", "M", "M", "M", "M", "E"]
        );
        assert_eq!(
            kinds(&plan(&policy(CatchUp::Skip), &hourly(), t(5, 30), &[])),
            ["M"; 6]
        );
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
        let one = [t(5, 0)];
        let mut p = policy(CatchUp::Once);
        assert_eq!(kinds(&plan(&p, &one, t(5, 0), &running)), ["O"]);
        p.overlap = Overlap::Queue;
        assert_eq!(kinds(&plan(&p, &one, t(5, 0), &running)), ["E"]);
        assert_eq!(kinds(&plan(&p, &one, t(5, 0), &queued)), ["O"]);
        p.overlap = Overlap::Allow;
        assert_eq!(kinds(&plan(&p, &one, t(5, 0), &queued)), ["E"]);
    }

    #[test]
    fn paused_records_every_due_run_as_paused() {
        let mut p = policy(CatchUp::All);
        p.paused = true;
        assert_eq!(kinds(&plan(&p, &hourly(), t(5, 1), &[])), ["P"; 6]);
    }

    fn catch_up() -> impl Strategy<Value = CatchUp> {
        prop_oneof![Just(CatchUp::Skip), Just(CatchUp::Once), Just(CatchUp::All)]
    }

    proptest! {
        /// S4: one outcome per due run, in order; S5: never more runs than
        /// the policy allows, and an on-time due run is never missed.
        #[test]
        fn every_due_run_gets_exactly_one_outcome(
            n in 1usize..200,
            step in 1i64..7200,
            lag in 0i64..20_000,
            window in 1u64..50_000,
            cap in 1usize..20,
            policy_kind in catch_up(),
        ) {
            let start = t(0, 0);
            let dues: Vec<_> = (0..n as i64).map(|i| start + chrono::Duration::seconds(i * step)).collect();
            let now = *dues.last().unwrap() + chrono::Duration::seconds(lag);
            let p = Policy {
                catch_up: policy_kind,
                window: Duration::from_secs(window),
                cap,
                tolerance: Duration::from_secs(60),
                overlap: Overlap::Skip,
                paused: false,
            };
            let runs = plan(&p, &dues, now, &[]);
            prop_assert_eq!(runs.len(), dues.len());
            prop_assert!(runs.iter().zip(&dues).all(|(r, d)| r.due == *d));
            let enqueued = runs.iter().filter(|r| matches!(r.decision, Decision::Enqueue(_))).count();
            let limit = match policy_kind { CatchUp::All => cap, _ => 1 };
            prop_assert!(enqueued <= limit);
            for r in &runs {
                if let Decision::Enqueue(_) = r.decision {
                    prop_assert!(now - r.due <= chrono::Duration::seconds(window as i64));
                }
            }
            if lag <= 60 && (lag as u64) <= window {
                prop_assert!(matches!(runs.last().unwrap().decision, Decision::Enqueue(_)));
            }
        }
    }
}
