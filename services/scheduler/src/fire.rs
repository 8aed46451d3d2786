//! Firing: every schedule whose next due time (plus its jitter) has come is
//! planned and committed with CommitScheduleTick, which records an outcome
//! for every due run (S4), queues the ENQUEUED ones under the catalog's
//! unique (schedule, due time) key (S3) and moves the next due time, all in
//! one transaction guarded by the next due time this replica saw.
//!
//! A long backlog is committed in slices of at most `max_runs_per_commit`
//! runs; the summarised older part of a long outage is expanded slice by
//! slice, never all at once.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use vigil_proto::catalog::v1::{
    BackupJob, CommitScheduleTickRequest, EnqueueJobRequest, OutcomeKind, ScheduleState, TickRun,
};

use crate::engine::{ActiveJob, Engine, Fired, Snapshot, TickReport, active_runs, job_fact};
use crate::error::{Error, Result};
use crate::health::{Facts, JobFact, assess};
use crate::jitter;
use crate::plan::{self, ActiveRun, Decision, PlannedRun, Policy};
use crate::spec::{ScheduleDef, time_to_ts, ts_to_time};

/// The planning policy of a definition.
pub(crate) fn policy(def: &ScheduleDef, paused: bool) -> Policy {
    Policy {
        catch_up: def.catch_up,
        window: def.window + def.jitter,
        cap: def.cap,
        tolerance: def.tolerance(),
        overlap: def.overlap,
        paused,
    }
}

/// The result of one commit.
pub(crate) struct Committed {
    pub state: ScheduleState,
    pub jobs: Vec<BackupJob>,
}

/// What firing one schedule did.
struct FireOutcome {
    state: ScheduleState,
    runs: Vec<PlannedRun>,
    jobs: Vec<BackupJob>,
    conflict: bool,
}

impl Engine {
    /// Fires every ready schedule of the snapshot.
    pub(crate) async fn fire_due(
        &self,
        snap: &mut Snapshot,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Fired {
        let mut work = Vec::new();
        for (name, def) in &snap.desired {
            let (Ok(def), Some(state)) = (def, snap.states.get(name)) else {
                continue;
            };
            if state.armed_etag != def.etag {
                continue; // not armed for this version yet; reconcile failed or raced
            }
            let Some(next) = state.next_due_time.as_ref().map(ts_to_time) else {
                continue;
            };
            if snap
                .share
                .ready_time(name, jitter::fire_time(name, next, def.jitter))
                > now
            {
                continue;
            }
            let active = snap
                .active
                .get(name)
                .map(|j| active_runs(j))
                .unwrap_or_default();
            work.push((def.clone(), state.clone(), active));
        }

        let (batched, single) = self.prepare(work, now);
        let mut results = self.fire_batched(batched).await;
        let singles: Vec<(String, Result<FireOutcome>)> = futures::stream::iter(single)
            .map(|(def, state, active)| async move {
                let name = def.name.clone();
                (name, self.fire_one(&def, state, now, &active).await)
            })
            .buffer_unordered(self.settings.fire_concurrency)
            .collect()
            .await;
        results.extend(singles);

        let mut fired = Fired::default();
        for (name, result) in results {
            match result {
                Ok(outcome) => {
                    report.outcomes += outcome.runs.len();
                    report.enqueued += outcome.jobs.len();
                    if outcome.conflict {
                        report.conflicts += 1;
                    }
                    self.note_jobs(&outcome.jobs);
                    snap.active
                        .entry(name.clone())
                        .or_default()
                        .extend(outcome.jobs.iter().map(ActiveJob::of));
                    snap.states.insert(name.clone(), outcome.state);
                    if !outcome.runs.is_empty() {
                        fired.runs.insert(name, outcome.runs);
                    }
                }
                Err(e) => {
                    tracing::warn!(schedule = %name, error = %e, "cannot fire schedule");
                    report.errors.push(format!("{name}: {e}"));
                }
            }
        }
        fired
    }

    /// Splits the ready schedules into those whose whole tick fits one
    /// commit (planned here, committed in batches) and the rest (a backlog,
    /// committed slice by slice by [`Engine::fire_one`]).
    fn prepare(&self, work: Vec<Work>, now: DateTime<Utc>) -> (Vec<Prepared>, Vec<Work>) {
        let per_commit = self.settings.max_runs_per_commit.max(1);
        let mut batched = Vec::new();
        let mut single = Vec::new();
        for (def, state, active) in work {
            let Some(first) = state.next_due_time.as_ref().map(ts_to_time) else {
                continue;
            };
            let policy = policy(&def, state.paused);
            let due = plan::plan(&def.schedule, &policy, first, now, &active);
            let fits = due.earlier.is_empty() && (1..=per_commit).contains(&due.runs.len());
            let Some(last) = due.runs.last().map(|r| r.due).filter(|_| fits) else {
                single.push((def, state, active));
                continue;
            };
            let new_next = def.schedule.next_after(last);
            let request = self.tick_request(&def, &state, &due.runs, new_next, now, None);
            batched.push(Prepared {
                def,
                runs: due.runs,
                request,
            });
        }
        (batched, single)
    }

    /// Commits prepared ticks in batches of `fire_batch` schedules, one
    /// catalog transaction each. A batch the catalog refuses as a whole is
    /// retried schedule by schedule.
    async fn fire_batched(&self, prepared: Vec<Prepared>) -> Vec<(String, Result<FireOutcome>)> {
        let mut batches: Vec<Vec<Prepared>> = Vec::new();
        let mut runs = 0;
        for p in prepared {
            let full = batches.last().is_none_or(|b| {
                b.len() >= self.settings.fire_batch || runs + p.runs.len() > BATCH_RUNS
            });
            if full {
                batches.push(Vec::new());
                runs = 0;
            }
            runs += p.runs.len();
            batches.last_mut().expect("a batch was pushed").push(p);
        }
        let done: Vec<Vec<(String, Result<FireOutcome>)>> = futures::stream::iter(batches)
            .map(|batch| self.commit_batch(batch))
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .collect()
            .await;
        done.into_iter().flatten().collect()
    }

    async fn commit_batch(&self, batch: Vec<Prepared>) -> Vec<(String, Result<FireOutcome>)> {
        let requests = batch.iter().map(|p| p.request.clone()).collect();
        let results = match self.catalog.commit_ticks(requests).await {
            Ok(results) => results,
            Err(e) => {
                tracing::warn!(error = %e, schedules = batch.len(), "batched commit failed, committing one by one");
                let mut out = Vec::with_capacity(batch.len());
                for p in batch {
                    let result = self.catalog.commit_tick(p.request.clone()).await;
                    out.push(self.batched_outcome(p, result).await);
                }
                return out;
            }
        };
        let mut out = Vec::with_capacity(batch.len());
        for (p, result) in batch.into_iter().zip(results) {
            out.push(self.batched_outcome(p, result).await);
        }
        out
    }

    /// The outcome of one schedule of a batch.
    async fn batched_outcome(
        &self,
        p: Prepared,
        result: Result<vigil_proto::catalog::v1::CommitScheduleTickResponse>,
    ) -> (String, Result<FireOutcome>) {
        let name = p.def.name.clone();
        let outcome = match result {
            Ok(response) => committed(&p.def, response).map(|c| FireOutcome {
                state: c.state,
                runs: p.runs,
                jobs: c.jobs,
                conflict: false,
            }),
            Err(Error::Conflict(why)) => {
                tracing::debug!(schedule = %name, %why, "another replica fired this schedule first, or its configuration changed");
                self.changes.configuration(p.def.key.configuration.clone());
                match self.catalog.state(&name, 0).await {
                    Ok(state) => Ok(FireOutcome {
                        state: state.map(|(s, _)| s).unwrap_or_default(),
                        runs: Vec::new(),
                        jobs: Vec::new(),
                        conflict: true,
                    }),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        (name, outcome)
    }

    async fn fire_one(
        &self,
        def: &ScheduleDef,
        mut state: ScheduleState,
        now: DateTime<Utc>,
        active: &[ActiveRun],
    ) -> Result<FireOutcome> {
        let mut outcome = FireOutcome {
            state: state.clone(),
            runs: Vec::new(),
            jobs: Vec::new(),
            conflict: false,
        };
        let Some(first) = state.next_due_time.as_ref().map(ts_to_time) else {
            return Ok(outcome);
        };
        if first > now {
            return Ok(outcome);
        }
        let per_commit = self.settings.max_runs_per_commit.max(1);
        let policy = policy(def, state.paused);
        let due = plan::plan(&def.schedule, &policy, first, now, active);

        // Summarised older due times of a long outage, committed in slices
        // without holding them all in memory; then the listed newest ones.
        for span in &due.earlier {
            let decision = plan::span_decision(span, &policy);
            let from = span.first - chrono::Duration::microseconds(1);
            let mut fires = def
                .schedule
                .fires_between(from, span.last, span.count as usize)
                .peekable();
            while fires.peek().is_some() {
                let slice: Vec<PlannedRun> = fires
                    .by_ref()
                    .take(per_commit)
                    .map(|due| PlannedRun {
                        due,
                        decision: decision.clone(),
                    })
                    .collect();
                if !self
                    .commit_slice(def, &mut state, &slice, now, &mut outcome)
                    .await?
                {
                    return Ok(outcome);
                }
            }
        }
        for slice in due.runs.chunks(per_commit) {
            if !self
                .commit_slice(def, &mut state, slice, now, &mut outcome)
                .await?
            {
                return Ok(outcome);
            }
        }
        outcome.state = state;
        Ok(outcome)
    }

    /// Commits one slice of runs and moves the next due time to the fire
    /// after its last run. Returns `false` when another replica got there
    /// first (the outcome then holds the state as it is now).
    async fn commit_slice(
        &self,
        def: &ScheduleDef,
        state: &mut ScheduleState,
        slice: &[PlannedRun],
        now: DateTime<Utc>,
        outcome: &mut FireOutcome,
    ) -> Result<bool> {
        let Some(last) = slice.last().map(|r| r.due) else {
            return Ok(true);
        };
        let new_next = def.schedule.next_after(last);
        let before = outcome.runs.len();
        outcome.runs.extend_from_slice(slice);
        match self
            .commit_runs(def, state, slice, new_next, now, Some(&outcome.runs))
            .await
        {
            Ok(c) => {
                *state = c.state;
                outcome.state = state.clone();
                outcome.jobs.extend(c.jobs);
                keep_bounded(&mut outcome.runs);
                Ok(true)
            }
            Err(Error::Conflict(why)) => {
                outcome.runs.truncate(before);
                tracing::debug!(schedule = %def.name, %why, "another replica fired this schedule first, or its configuration changed");
                self.changes.configuration(def.key.configuration.clone());
                outcome.state = self
                    .catalog
                    .state(&def.name, 0)
                    .await?
                    .map(|(s, _)| s)
                    .unwrap_or(state.clone());
                outcome.conflict = true;
                Ok(false)
            }
            Err(e) => {
                outcome.runs.truncate(before);
                Err(e)
            }
        }
    }

    /// Commits `runs` of `def` and moves its next due time to `new_next`,
    /// guarded by the next due time in `state`. `tick_runs` are all the runs
    /// of this tick so far, for the recorded health.
    pub(crate) async fn commit_runs(
        &self,
        def: &ScheduleDef,
        state: &ScheduleState,
        runs: &[PlannedRun],
        new_next: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        tick_runs: Option<&[PlannedRun]>,
    ) -> Result<Committed> {
        let request = self.tick_request(def, state, runs, new_next, now, tick_runs);
        let response = self.catalog.commit_tick(request).await?;
        committed(def, response)
    }

    /// The CommitScheduleTick request for `runs` of `def`, with the health
    /// the schedule has after it.
    fn tick_request(
        &self,
        def: &ScheduleDef,
        state: &ScheduleState,
        runs: &[PlannedRun],
        new_next: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        tick_runs: Option<&[PlannedRun]>,
    ) -> CommitScheduleTickRequest {
        let enqueued = runs
            .iter()
            .filter(|r| matches!(r.decision, Decision::Enqueue(_)))
            .count() as u64;
        let pending: Vec<JobFact> = runs
            .iter()
            .filter(|r| matches!(r.decision, Decision::Enqueue(_)))
            .map(|r| JobFact {
                name: String::new(),
                due: r.due,
                queued: now,
                state: vigil_proto::catalog::v1::JobState::Queued,
                started: None,
            })
            .collect();
        let assessment = assess(&Facts {
            now,
            paused: state.paused,
            next_due: new_next,
            last_due: runs
                .last()
                .map(|r| r.due)
                .or(state.last_due_time.as_ref().map(ts_to_time)),
            fired_count: state.fired_count + enqueued,
            armed: state.armed_time.as_ref().map(ts_to_time),
            tolerance: def.tolerance(),
            tick: Some(tick_runs.unwrap_or(runs)),
            jobs: &pending,
            executor_problem: None,
            unarmed_reason: None,
            previous: (state.health(), &state.health_reason),
        });
        CommitScheduleTickRequest {
            schedule: def.name.clone(),
            expected_next_due_time: state.next_due_time,
            new_next_due_time: new_next.map(time_to_ts),
            runs: runs.iter().map(|r| tick_run(def, r)).collect(),
            owner: self.replica.clone(),
            health: assessment.health as i32,
            health_reason: assessment.reason,
            configuration_etag: def.etag.clone(),
        }
    }
}

/// The state and jobs of a committed tick.
fn committed(
    def: &ScheduleDef,
    response: vigil_proto::catalog::v1::CommitScheduleTickResponse,
) -> Result<Committed> {
    let state = response
        .state
        .ok_or_else(|| Error::Internal("CommitScheduleTick returned no state".into()))?;
    for job in &response.jobs {
        if let Some(fact) = job_fact(job) {
            tracing::info!(schedule = %def.name, job = %job.name, due = %crate::plan::stamp(fact.due), "due run enqueued");
        }
    }
    Ok(Committed {
        state,
        jobs: response.jobs,
    })
}

/// Ticks of one batch together hold at most this many runs (the catalog's bound).
const BATCH_RUNS: usize = 5000;
/// Batches committed concurrently.
const BATCHES_IN_FLIGHT: usize = 4;

/// A ready schedule: its definition, its state and its active runs.
type Work = (std::sync::Arc<ScheduleDef>, ScheduleState, Vec<ActiveRun>);

/// A schedule whose whole tick is planned and fits one commit.
struct Prepared {
    def: std::sync::Arc<ScheduleDef>,
    runs: Vec<PlannedRun>,
    request: CommitScheduleTickRequest,
}

/// Runs kept per schedule and tick for the health report. A backlog longer
/// than this keeps its first run and its newest ones.
const KEPT_RUNS: usize = 20_000;

fn keep_bounded(runs: &mut Vec<PlannedRun>) {
    if runs.len() > KEPT_RUNS {
        let drop = runs.len() - KEPT_RUNS / 2;
        runs.drain(1..drop);
    }
}

/// One planned run as a tick record, with its job request when enqueued.
fn tick_run(def: &ScheduleDef, run: &PlannedRun) -> TickRun {
    let due_time = Some(time_to_ts(run.due));
    let (outcome, detail, job) = match &run.decision {
        Decision::Enqueue(detail) => (
            OutcomeKind::Enqueued,
            detail.clone(),
            Some(EnqueueJobRequest {
                configuration: def.key.configuration.clone(),
                kind: def.key.role.job_kind() as i32,
                trigger: def.key.role.trigger() as i32,
                due_time,
                schedule: def.name.clone(),
                params: def.params.as_deref().cloned(),
                required_capabilities: def.required_capabilities.clone(),
                request_id: String::new(),
            }),
        ),
        Decision::SkippedOverlap(detail) => (OutcomeKind::SkippedOverlap, detail.clone(), None),
        Decision::Missed(detail) => (OutcomeKind::Missed, detail.clone(), None),
        Decision::Paused => (
            OutcomeKind::Paused,
            "the schedule is paused".to_owned(),
            None,
        ),
    };
    TickRun {
        due_time,
        outcome: outcome as i32,
        job,
        detail,
    }
}
