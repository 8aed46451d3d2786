//! Arming (S1) and edits (S7): keep the set of persisted schedule states
//! equal to the schedules the catalog's enabled configurations ask for.
//!
//! - A new schedule is armed with the first due time after the
//!   configuration version was committed, so a due time that passed while
//!   no replica was looking is still handled (and recorded) by the tick.
//! - An edited schedule (its configuration's etag changed) first finishes
//!   the due runs of the previous version that fell before the edit, then
//!   continues from the first due time of the new version after the edit
//!   (and after the last handled due time): no retroactive fire, and no
//!   run that was due before the edit is swallowed.
//! - A schedule that cannot be armed is stored UNARMED with the reason.
//! - A state whose schedule no longer exists is removed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use vigil_proto::catalog::v1::{ScheduleHealth, ScheduleState};

use crate::engine::{Engine, Scope, Snapshot, TickReport, active_runs};
use crate::error::{Error, Result};
use crate::plan::{Decision, PlannedRun};
use crate::repair::disagreement;
use crate::spec::{Def, ScheduleDef, Unarmable, time_to_ts, ts_to_time};

/// What reconciling one schedule did.
enum Armed {
    Unchanged,
    Stored(Box<ScheduleState>),
    Removed,
}

/// One schedule to reconcile: arm it (or store why it cannot be armed),
/// or remove the state no configuration asks for any more.
enum Work {
    Arm(
        String,
        Def,
        Option<ScheduleState>,
        Vec<crate::plan::ActiveRun>,
    ),
    Remove(String),
}

/// The schedules whose state is not settled, and the states nobody wants.
fn work(snap: &Snapshot, now: DateTime<Utc>, scope: &Scope) -> Vec<Work> {
    let mut work = Vec::new();
    for (name, def) in &snap.desired {
        if !scope.has(name) || settled(def, snap.states.get(name), now) {
            continue;
        }
        let state = snap.states.get(name).cloned();
        let active = snap
            .active
            .get(name)
            .map(|j| active_runs(j))
            .unwrap_or_default();
        work.push(Work::Arm(name.clone(), def.clone(), state, active));
    }
    for name in snap
        .states
        .keys()
        .filter(|k| scope.has(k) && !snap.desired.contains_key(*k))
    {
        work.push(Work::Remove(name.clone()));
    }
    work
}

impl Engine {
    /// Brings every state in line with the desired schedules, updating the
    /// snapshot with what was stored.
    pub(crate) async fn reconcile(
        &self,
        snap: &mut Snapshot,
        now: DateTime<Utc>,
        scope: &Scope,
        report: &mut TickReport,
    ) {
        let (fresh, work): (Vec<Work>, Vec<Work>) = work(snap, now, scope)
            .into_iter()
            .partition(|w| matches!(w, Work::Arm(_, Ok(_), None, _)));
        let mut results = self.arm_fresh(fresh, now).await;
        let rest: Vec<(String, Result<Armed>)> = futures::stream::iter(work)
            .map(|item| async move {
                match item {
                    Work::Arm(name, Ok(def), state, active) => {
                        let r = self.arm(&def, state, now, &active).await;
                        (name, r)
                    }
                    Work::Arm(name, Err(u), state, _) => {
                        let r = self.store_unarmed(&u, state, now).await;
                        (name, r)
                    }
                    Work::Remove(name) => {
                        let r = self.remove_if_gone(&name).await;
                        (name, r)
                    }
                }
            })
            .buffer_unordered(self.settings.fire_concurrency)
            .collect()
            .await;
        results.extend(rest);
        for (name, result) in results {
            self.take_result(snap, report, name, result);
        }
        // A schedule armed for its current version needs its previous
        // version no more.
        let mut memory = self.memory();
        memory.armed.retain(|name, _| {
            !scope.has(name)
                || !matches!(
                    (snap.desired.get(name), snap.states.get(name)),
                    (Some(Ok(def)), Some(state)) if state.armed_etag == def.etag
                )
        });
    }

    /// Records what reconciling one schedule did in the snapshot and the
    /// tick's report.
    fn take_result(
        &self,
        snap: &mut Snapshot,
        report: &mut TickReport,
        name: String,
        result: Result<Armed>,
    ) {
        match result {
            Ok(Armed::Unchanged) => {}
            Ok(Armed::Stored(state)) => {
                tracing::info!(schedule = %name, next_due = ?state.next_due_time.as_ref().map(ts_to_time), health = ?state.health(), "schedule armed");
                report.armed += 1;
                snap.states.insert(name, *state);
            }
            Ok(Armed::Removed) => {
                tracing::info!(schedule = %name, "schedule disarmed and removed");
                report.removed += 1;
                snap.states.remove(&name);
                self.memory().armed.remove(&name);
            }
            Err(Error::Conflict(why)) => {
                tracing::debug!(schedule = %name, %why, "arming raced with another replica");
                report.conflicts += 1;
            }
            Err(e) => {
                tracing::warn!(schedule = %name, error = %e, "cannot arm schedule");
                report.errors.push(format!("{name}: {e}"));
            }
        }
    }

    /// Removes the state of a schedule that no configuration asks for any
    /// more, after checking the configuration once more: the snapshot read
    /// states and configurations concurrently, so a schedule armed by
    /// another replica for a configuration created meanwhile must survive.
    async fn remove_if_gone(&self, name: &str) -> Result<Armed> {
        let Ok(key) = crate::key::ScheduleKey::parse(name, "schedule") else {
            self.catalog.delete_state(name).await?;
            return Ok(Armed::Removed);
        };
        if let Some(config) = self.catalog.configuration(&key.configuration).await?
            && config.enabled()
            && self.defs_of_one(&config).iter().any(|d| match d {
                Ok(d) => d.key == key,
                Err(u) => u.key == key,
            })
        {
            return Ok(Armed::Unchanged);
        }
        self.catalog.delete_state(name).await?;
        Ok(Armed::Removed)
    }

    /// Arms schedules that have no state yet, `fire_batch` states per
    /// catalog transaction (`PutScheduleStates`): a cold start of a large
    /// fleet writes thousands of states, not one transaction each.
    async fn arm_fresh(
        &self,
        fresh: Vec<Work>,
        now: DateTime<Utc>,
    ) -> Vec<(String, Result<Armed>)> {
        let defs: Vec<Arc<ScheduleDef>> = fresh
            .into_iter()
            .filter_map(|w| match w {
                Work::Arm(_, Ok(def), None, _) => Some(def),
                _ => None,
            })
            .collect();
        // Each batch's states are built when it is sent, so that a cold
        // start never holds the whole fleet's new states twice.
        let batches: Vec<Vec<Arc<ScheduleDef>>> = defs
            .chunks(self.settings.fire_batch.max(1))
            .map(<[Arc<ScheduleDef>]>::to_vec)
            .collect();
        drop(defs);
        let done: Vec<Vec<(String, Result<Armed>)>> = futures::stream::iter(batches)
            .map(|defs| async move {
                let batch: Vec<ScheduleState> = defs
                    .iter()
                    .map(|def| {
                        let next = def.schedule.next_after(def.edit_time);
                        self.armed_state(def, fresh_state(def), next, now)
                    })
                    .collect();
                let keys: Vec<String> = batch.iter().map(|s| s.schedule.clone()).collect();
                match self.catalog.put_states(batch).await {
                    Ok(results) => keys
                        .into_iter()
                        .zip(results)
                        .map(|(key, r)| (key, r.map(|s| Armed::Stored(Box::new(s)))))
                        .collect(),
                    Err(e) => {
                        let why = e.to_string();
                        keys.into_iter()
                            .map(|key| (key, Err(Error::Internal(why.clone()))))
                            .collect()
                    }
                }
            })
            .buffer_unordered(ARM_BATCHES_IN_FLIGHT)
            .collect()
            .await;
        done.into_iter().flatten().collect()
    }

    async fn arm(
        &self,
        def: &ScheduleDef,
        state: Option<ScheduleState>,
        now: DateTime<Utc>,
        active: &[crate::plan::ActiveRun],
    ) -> Result<Armed> {
        let Some(mut state) = state else {
            let next = def.schedule.next_after(def.edit_time);
            return self
                .store_armed(def, fresh_state(def), next, now)
                .await
                .map(|s| Armed::Stored(Box::new(s)));
        };
        if let Some(d) = disagreement(def, &state, now) {
            return self
                .repair(def, state, &d, now)
                .await
                .map(|s| Armed::Stored(Box::new(s)));
        }
        if state.armed_etag == def.etag && state.next_due_time.is_some() {
            return Ok(Armed::Unchanged);
        }
        let same_version = state.armed_etag == def.etag;
        if !same_version {
            state = self
                .finish_previous_version(def, state, now, active)
                .await?;
        }
        let last_due = state.last_due_time.as_ref().map(ts_to_time);
        let anchor = last_due.map_or(def.edit_time, |d| d.max(def.edit_time));
        let next = def.schedule.next_after(anchor);
        if same_version && next.is_none() && state.health() == ScheduleHealth::Unarmed {
            return Ok(Armed::Unchanged);
        }
        self.store_armed(def, state, next, now)
            .await
            .map(|s| Armed::Stored(Box::new(s)))
    }

    /// Handles the due runs of the previous version of an edited schedule
    /// that fell due before the edit (S7), under that version's rules when
    /// this replica still knows them.
    async fn finish_previous_version(
        &self,
        def: &ScheduleDef,
        state: ScheduleState,
        now: DateTime<Utc>,
        active: &[crate::plan::ActiveRun],
    ) -> Result<ScheduleState> {
        let Some(pending) = state.next_due_time.as_ref().map(ts_to_time) else {
            return Ok(state);
        };
        let edit = def.edit_time;
        if pending > edit || pending > now {
            return Ok(state);
        }
        let previous = self
            .memory()
            .armed
            .get(&def.name)
            .filter(|d| d.etag == state.armed_etag)
            .cloned();
        let until = edit.min(now);
        let runs: Vec<PlannedRun> = match &previous {
            Some(old) => {
                let policy = crate::fire::policy(old, state.paused);
                let due = crate::plan::plan(&old.schedule, &policy, pending, until, active);
                let mut runs = Vec::new();
                for span in &due.earlier {
                    let decision = crate::plan::span_decision(span, &policy);
                    let from = span.first - chrono::Duration::microseconds(1);
                    runs.extend(
                        old.schedule
                            .fires_between(from, span.last, span.count as usize)
                            .map(|due| PlannedRun {
                                due,
                                decision: decision.clone(),
                            }),
                    );
                }
                runs.extend(due.runs);
                runs
            }
            // This process never saw the previous version: the pending due
            // time is the one run it knows of; it is handled, not dropped.
            None => vec![single_run(def, &state, pending, now, active)],
        };
        tracing::info!(schedule = %def.name, runs = runs.len(), "finishing due runs of the previous schedule version");
        let per_commit = self.settings.max_runs_per_commit.max(1);
        let slices: Vec<&[PlannedRun]> = runs.chunks(per_commit).collect();
        let mut state = state;
        for (i, slice) in slices.iter().enumerate() {
            let last = slice.last().map(|r| r.due).unwrap_or(pending);
            let new_next = match slices.get(i + 1) {
                Some(next) => next.first().map(|r| r.due),
                None => def.schedule.next_after(last.max(edit)),
            };
            state = self
                .commit_runs(def, &state, slice, new_next, now, None)
                .await?
                .state;
        }
        Ok(state)
    }

    pub(crate) async fn store_armed(
        &self,
        def: &ScheduleDef,
        state: ScheduleState,
        next: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<ScheduleState> {
        let state = self.armed_state(def, state, next, now);
        self.catalog.put_state(state).await
    }

    /// `state` armed for `def` with the next due time `next`.
    fn armed_state(
        &self,
        def: &ScheduleDef,
        mut state: ScheduleState,
        next: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> ScheduleState {
        state.next_due_time = next.map(time_to_ts);
        state.armed_etag = def.etag.clone();
        state.armed_time = Some(time_to_ts(now));
        state.owner = self.replica.clone();
        state.role = def.key.role.to_proto() as i32;
        match next {
            Some(n) => {
                if !state.paused
                    && matches!(
                        state.health(),
                        ScheduleHealth::Unspecified | ScheduleHealth::Unarmed
                    )
                {
                    state.set_health(ScheduleHealth::Armed);
                    state.health_reason = format!("next due at {}", crate::plan::stamp(n));
                }
            }
            None => {
                state.set_health(ScheduleHealth::Unarmed);
                state.health_reason = "the schedule has no due time in the future".into();
            }
        }
        state
    }

    async fn store_unarmed(
        &self,
        u: &Unarmable,
        state: Option<ScheduleState>,
        now: DateTime<Utc>,
    ) -> Result<Armed> {
        if let Some(s) = &state
            && s.next_due_time.is_none()
            && s.armed_etag == u.etag
            && s.health() == ScheduleHealth::Unarmed
            && s.health_reason == u.reason
        {
            return Ok(Armed::Unchanged);
        }
        let mut s = state.unwrap_or_else(|| ScheduleState {
            schedule: u.key.to_string(),
            configuration: u.key.configuration.clone(),
            role: u.key.role.to_proto() as i32,
            ..Default::default()
        });
        s.next_due_time = None;
        s.armed_etag = u.etag.clone();
        s.armed_time = Some(time_to_ts(now));
        s.owner = self.replica.clone();
        s.set_health(ScheduleHealth::Unarmed);
        s.health_reason = u.reason.clone();
        tracing::warn!(schedule = %u.key, reason = %u.reason, "schedule cannot be armed");
        self.catalog
            .put_state(s)
            .await
            .map(|s| Armed::Stored(Box::new(s)))
    }
}

/// Most `PutScheduleStates` batches of one tick in flight at once.
const ARM_BATCHES_IN_FLIGHT: usize = 4;

/// The state of a schedule that was never armed.
fn fresh_state(def: &ScheduleDef) -> ScheduleState {
    ScheduleState {
        schedule: def.name.clone(),
        configuration: def.key.configuration.clone(),
        role: def.key.role.to_proto() as i32,
        ..Default::default()
    }
}

/// The decision for the one pending due time of a previous version this
/// process knows nothing else about, under the current version's policy.
fn single_run(
    def: &ScheduleDef,
    state: &ScheduleState,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    active: &[crate::plan::ActiveRun],
) -> PlannedRun {
    let window =
        chrono::Duration::from_std(def.window + def.jitter).unwrap_or(chrono::Duration::MAX);
    let decision = if state.paused {
        Decision::Paused
    } else if now - due > window {
        Decision::Missed(format!(
            "outside the catch-up window of {}",
            crate::plan::human(def.window)
        ))
    } else {
        match crate::plan::overlap_reason(def.overlap, active) {
            Some(why) => Decision::SkippedOverlap(why),
            None => Decision::Enqueue("due under the previous version of the schedule".into()),
        }
    };
    PlannedRun { due, decision }
}

/// Whether a schedule needs no arming work: armed for this version with a
/// next due time, or stored unarmed for this version with the same reason.
fn settled(def: &Def, state: Option<&ScheduleState>, now: DateTime<Utc>) -> bool {
    let Some(s) = state else {
        return false;
    };
    match def {
        Ok(def) => {
            s.armed_etag == def.etag
                && s.next_due_time.is_some()
                && disagreement(def, s, now).is_none()
        }
        Err(u) => {
            s.next_due_time.is_none()
                && s.armed_etag == u.etag
                && s.health() == ScheduleHealth::Unarmed
                && s.health_reason == u.reason
        }
    }
}
