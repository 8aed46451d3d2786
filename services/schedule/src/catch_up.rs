//! Catch-up planning (guarantees S4 and S5): what to do with every due time
//! between the last one processed and now.
//!
//! The scheduler calls [`plan_catch_up`] whenever it wakes, on time or after
//! an outage. The plan gives **every** due time in `(since, now]` an outcome,
//! so the scheduler can record one per due run:
//!
//! - [`Outcome::Enqueue`]: enqueue a job for this due time;
//! - [`Outcome::Missed`] with a [`MissReason`]: record it as MISSED.
//!
//! A due time after `now` is never in the plan; the first one is
//! [`CatchUpPlan::next_due`], to persist. A due time equal to `now` is due.
//!
//! Which due times are enqueued (`window` is the catch-up window, see below):
//!
//! | mode | enqueued | the others |
//! |---|---|---|
//! | `skip` | the latest due time, if it is on time (at most one grace period old, [`CatchUpPolicy::grace_for`]) | older: `OutsideWindow`; on time but not the latest: `Coalesced` |
//! | `once` (default) | the latest due time inside the window | older ones inside: `Coalesced`; outside: `OutsideWindow` |
//! | `all` | the latest `max_runs` due times inside the window, oldest first | older ones inside: `OverCap`; outside: `OutsideWindow` |
//!
//! A due time is *inside the window* when `now - due <= window`. The window
//! is never shorter than the schedule's grace period, so a run the scheduler
//! notices a few milliseconds late is on time under every mode. For `skip`
//! the window *is* the grace period. The default window
//! ([`CatchUpWindow::Interval`]) is one expected interval, which always
//! reaches the latest missed run of a regular schedule: a weekly backup
//! missed three days ago still runs, once.
//!
//! After a long outage of a frequent schedule the list could be huge; only
//! the newest [`MAX_LISTED`] due times are listed one by one, and older ones
//! are summarised in [`CatchUpPlan::earlier`] as [`MissedSpan`]s (first,
//! last, count, reason), so the plan stays exhaustive and bounded.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, Result, ScheduleError, field};
use crate::schedule::Schedule;

/// Due times listed one by one in a plan; older ones are summarised.
pub const MAX_LISTED: usize = 1_000;

/// Largest accepted [`CatchUpPolicy::max_runs`].
pub const MAX_RUNS_LIMIT: u32 = MAX_LISTED as u32;

/// Which missed due times are caught up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUpMode {
    /// Run only on time; anything the scheduler could not fire within the
    /// grace period is recorded MISSED.
    Skip,
    /// Run the latest missed due time inside the window, once. The default
    /// for backups.
    #[default]
    Once,
    /// Run every due time inside the window, up to `max_runs`.
    All,
}

impl FromStr for CatchUpMode {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "skip" => Ok(CatchUpMode::Skip),
            "once" => Ok(CatchUpMode::Once),
            "all" => Ok(CatchUpMode::All),
            _ => Err(ScheduleError::new(
                field::CATCH_UP,
                ErrorKind::Malformed,
                format!("{s:?} is not a catch-up mode; use skip, once or all"),
            )),
        }
    }
}

impl fmt::Display for CatchUpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CatchUpMode::Skip => "skip",
            CatchUpMode::Once => "once",
            CatchUpMode::All => "all",
        })
    }
}

/// How far back missed due times may be caught up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CatchUpWindow {
    /// One [`Schedule::longest_gap`]: reaches the latest missed run.
    #[default]
    Interval,
    /// A fixed duration.
    Fixed(Duration),
}

/// A schedule's catch-up policy: mode, window and cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CatchUpPolicy {
    /// Which due times are caught up.
    pub mode: CatchUpMode,
    /// How old a due time may be and still run (`once` and `all`).
    pub window: CatchUpWindow,
    /// Most runs one plan enqueues (`all`); 1 to [`MAX_RUNS_LIMIT`].
    pub max_runs: u32,
    /// How late a run may start and still be on time; `None` means
    /// [`Schedule::grace_period`].
    pub grace: Option<Duration>,
}

impl Default for CatchUpPolicy {
    /// `once`, one expected interval, at most one run: the backup default.
    fn default() -> Self {
        Self {
            mode: CatchUpMode::Once,
            window: CatchUpWindow::Interval,
            max_runs: 1,
            grace: None,
        }
    }
}

impl CatchUpPolicy {
    /// A policy with `mode` and the default window and cap (`all` gets a cap
    /// of 10).
    pub fn new(mode: CatchUpMode) -> Self {
        let max_runs = if mode == CatchUpMode::All { 10 } else { 1 };
        Self {
            mode,
            window: CatchUpWindow::Interval,
            max_runs,
            grace: None,
        }
    }

    /// Checks the cap and the window; errors name `schedule.catch_up.*`.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_RUNS_LIMIT).contains(&self.max_runs) {
            return Err(ScheduleError::new(
                field::CATCH_UP_MAX_RUNS,
                ErrorKind::OutOfRange,
                format!(
                    "{} is out of range; use 1 to {MAX_RUNS_LIMIT}",
                    self.max_runs
                ),
            ));
        }
        if self.window == CatchUpWindow::Fixed(Duration::ZERO) {
            return Err(ScheduleError::new(
                field::CATCH_UP_WINDOW,
                ErrorKind::OutOfRange,
                "must be longer than zero; use skip to run only on time",
            ));
        }
        Ok(())
    }

    /// The grace period in force: the configured one, else the schedule's
    /// default.
    pub fn grace_for(&self, schedule: &Schedule) -> Duration {
        self.grace.unwrap_or_else(|| schedule.grace_period())
    }

    /// The effective window for `schedule`: see the [module docs](self).
    pub fn effective_window(&self, schedule: &Schedule) -> Duration {
        let grace = self.grace_for(schedule);
        match (self.mode, self.window) {
            (CatchUpMode::Skip, _) => grace,
            (_, CatchUpWindow::Interval) => schedule.longest_gap().max(grace),
            (_, CatchUpWindow::Fixed(window)) => window.max(grace),
        }
    }

    fn enqueue_limit(&self) -> usize {
        match self.mode {
            CatchUpMode::Skip | CatchUpMode::Once => 1,
            CatchUpMode::All => self.max_runs.clamp(1, MAX_RUNS_LIMIT) as usize,
        }
    }
}

/// Where the due times to plan start (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Since {
    /// The latest due time already given an outcome.
    LastDue(DateTime<Utc>),
    /// The schedule has never had a due time processed; it was armed (or
    /// re-armed after an edit) at this instant. Fires at this exact instant
    /// do not count: arming means "from now on".
    ArmedAt(DateTime<Utc>),
}

impl Since {
    /// The exclusive lower bound of the due times to plan.
    pub fn instant(&self) -> DateTime<Utc> {
        match *self {
            Since::LastDue(t) | Since::ArmedAt(t) => t,
        }
    }
}

/// Why a due time was not enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissReason {
    /// Older than the catch-up window (for `skip`: not on time).
    OutsideWindow,
    /// Inside the window, but a later due time was enqueued instead
    /// (`once`, `skip`).
    Coalesced,
    /// Inside the window, but `max_runs` later due times were enqueued (`all`).
    OverCap,
}

/// What to do with one due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Enqueue a job for this due time.
    Enqueue,
    /// Record the due time as MISSED.
    Missed(MissReason),
}

/// One due time and its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DueOutcome {
    /// The due time.
    pub due: DateTime<Utc>,
    /// What to do with it.
    pub outcome: Outcome,
}

/// Consecutive missed due times summarised in one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MissedSpan {
    /// The first due time in the span.
    pub first: DateTime<Utc>,
    /// The last due time in the span.
    pub last: DateTime<Utc>,
    /// How many due times the span holds.
    pub count: u64,
    /// Why all of them were missed.
    pub reason: MissReason,
}

/// The outcome of every due time in `(since, now]`, and the next due time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchUpPlan {
    /// Missed due times too many to list, oldest first; all earlier than
    /// the first of `outcomes`. Empty unless more than [`MAX_LISTED`] were due.
    pub earlier: Vec<MissedSpan>,
    /// Due times one by one, oldest first.
    pub outcomes: Vec<DueOutcome>,
    /// The first due time strictly after `now`: persist it as the next due.
    pub next_due: Option<DateTime<Utc>>,
}

impl CatchUpPlan {
    /// The due times to enqueue, oldest first.
    pub fn enqueued(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::Enqueue)
            .map(|o| o.due)
    }

    /// The listed due times to record as MISSED, with their reasons.
    pub fn missed(&self) -> impl Iterator<Item = (DateTime<Utc>, MissReason)> + '_ {
        self.outcomes.iter().filter_map(|o| match o.outcome {
            Outcome::Missed(reason) => Some((o.due, reason)),
            Outcome::Enqueue => None,
        })
    }

    /// How many due times the plan covers, listed and summarised.
    pub fn due_count(&self) -> u64 {
        self.earlier.iter().map(|s| s.count).sum::<u64>() + self.outcomes.len() as u64
    }

    /// The latest due time covered: persist it as the last processed due
    /// time (the next plan's [`Since::LastDue`]). `None` if nothing was due.
    pub fn last_due(&self) -> Option<DateTime<Utc>> {
        self.outcomes
            .last()
            .map(|o| o.due)
            .or_else(|| self.earlier.last().map(|s| s.last))
    }
}

/// Plans the due times of `schedule` in `(since, now]` under `policy`.
///
/// See the [module docs](self) for the rules. Cost is linear in the number
/// of due times in the range.
pub fn plan_catch_up(
    schedule: &Schedule,
    since: Since,
    now: DateTime<Utc>,
    policy: &CatchUpPolicy,
) -> CatchUpPlan {
    let window = chrono::Duration::from_std(policy.effective_window(schedule))
        .unwrap_or(chrono::Duration::MAX);
    let window_start = now
        .checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let inside = |due: DateTime<Utc>| due >= window_start;
    let not_enqueued = match policy.mode {
        CatchUpMode::All => MissReason::OverCap,
        CatchUpMode::Skip | CatchUpMode::Once => MissReason::Coalesced,
    };

    let mut earlier: Vec<MissedSpan> = Vec::new();
    let mut listed: VecDeque<DateTime<Utc>> = VecDeque::with_capacity(MAX_LISTED.min(64));
    for due in schedule.fires_between(since.instant(), now, usize::MAX) {
        listed.push_back(due);
        if listed.len() > MAX_LISTED {
            // At least MAX_LISTED >= max_runs later due times exist, so this
            // one is not enqueued whatever the mode.
            let old = listed.pop_front().expect("non-empty");
            let reason = if inside(old) {
                not_enqueued
            } else {
                MissReason::OutsideWindow
            };
            push_span(&mut earlier, old, reason);
        }
    }

    let mut budget = policy.enqueue_limit();
    let mut outcomes: Vec<DueOutcome> = listed
        .into_iter()
        .rev()
        .map(|due| {
            let outcome = if !inside(due) {
                Outcome::Missed(MissReason::OutsideWindow)
            } else if budget > 0 {
                budget -= 1;
                Outcome::Enqueue
            } else {
                Outcome::Missed(not_enqueued)
            };
            DueOutcome { due, outcome }
        })
        .collect();
    outcomes.reverse();

    CatchUpPlan {
        earlier,
        outcomes,
        next_due: schedule.next_after(now),
    }
}

fn push_span(spans: &mut Vec<MissedSpan>, due: DateTime<Utc>, reason: MissReason) {
    match spans.last_mut() {
        Some(span) if span.reason == reason => {
            span.last = due;
            span.count += 1;
        }
        _ => spans.push(MissedSpan {
            first: due,
            last: due,
            count: 1,
            reason,
        }),
    }
}
