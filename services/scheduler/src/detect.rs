//! Detection (S2, S8): after firing, every schedule is assessed from the
//! snapshot, its health is stored when it changed, and the scheduler-owned
//! alerts are raised and resolved to match.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use vigil_proto::catalog::v1::{
    Alert, Component, ComponentKind, JobState, ScheduleHealth, ScheduleState,
};

use crate::alerts::{self, AlertSpec, Transition};
use crate::capable::executor_problem;
use crate::engine::{ActiveJob, Engine, Fired, Snapshot, TickReport};
use crate::error::Error;
use crate::health::{Assessment, Facts, JobFact, assess};
use crate::spec::{Def, ts_to_time};

impl Engine {
    /// Assesses every schedule, stores changed health and syncs alerts.
    pub(crate) async fn detect(
        &self,
        snap: &mut Snapshot,
        now: DateTime<Utc>,
        fired: &Fired,
        report: &mut TickReport,
    ) {
        let executors = self.live_executor_view(now).await;
        let (wanted, writes) = {
            // Held while every schedule is assessed (no await in between),
            // rather than copying what it remembers of every schedule.
            let memory = self.memory();
            let seen = Seen {
                now,
                fired,
                executors: executors.as_deref(),
                remembered: &memory.newest_job,
            };
            assess_all(snap, &seen)
        };

        self.write_health(snap, writes, report).await;
        // Without an executor view (start-up delay, or the list failed) this
        // replica cannot tell whether an S8 alert still holds: it leaves
        // open ones of schedules that still exist alone.
        let unknown: HashSet<String> = if executors.is_none() {
            snap.desired
                .keys()
                .map(|k| format!("{}{k}", alerts::NO_CAPABLE_EXECUTOR))
                .collect()
        } else {
            HashSet::new()
        };
        self.sync_alerts(wanted, &unknown, report).await;
    }

    /// The executors to check S8 against, or `None` while the start-up delay
    /// runs or when they cannot be listed.
    async fn live_executor_view(&self, now: DateTime<Utc>) -> Option<Vec<Component>> {
        let delay = chrono::Duration::from_std(self.settings.executor_check_delay)
            .unwrap_or(chrono::Duration::MAX);
        if now - self.started < delay {
            return None;
        }
        match self.catalog.components(ComponentKind::Executor).await {
            Ok(list) => Some(list),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list executors; skipping the executor check");
                None
            }
        }
    }

    async fn write_health(
        &self,
        snap: &mut Snapshot,
        writes: Vec<ScheduleState>,
        report: &mut TickReport,
    ) {
        let results: Vec<(String, Result<ScheduleState, Error>)> = futures::stream::iter(writes)
            .map(|s| async move {
                let name = s.schedule.clone();
                tracing::info!(schedule = %name, health = ?s.health(), reason = %s.health_reason, "schedule health changed");
                (name, self.catalog.put_state(s).await)
            })
            .buffer_unordered(self.settings.fire_concurrency)
            .collect()
            .await;
        for (name, r) in results {
            match r {
                Ok(stored) => {
                    snap.states.insert(name, stored);
                }
                Err(Error::Conflict(_)) => report.conflicts += 1,
                Err(e) => {
                    tracing::warn!(schedule = %name, error = %e, "cannot store schedule health");
                    report.errors.push(format!("{name}: {e}"));
                }
            }
        }
    }

    /// Raises wanted alerts that are not open with the same message, and
    /// resolves open scheduler alerts that are no longer wanted.
    async fn sync_alerts(
        &self,
        wanted: HashMap<String, AlertSpec>,
        unknown: &HashSet<String>,
        report: &mut TickReport,
    ) {
        let open: HashMap<String, Alert> = match self.catalog.open_alerts().await {
            Ok(list) => list.into_iter().map(|a| (a.dedup_key.clone(), a)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list open alerts; alerts are synced on the next tick");
                return;
            }
        };
        let raise: Vec<AlertSpec> = wanted
            .values()
            .filter(|w| {
                open.get(&w.dedup_key)
                    .is_none_or(|o| o.message != w.message)
            })
            .cloned()
            .collect();
        let resolve: Vec<String> = open
            .keys()
            .filter(|k| alerts::is_owned(k) && !wanted.contains_key(*k) && !unknown.contains(*k))
            .cloned()
            .collect();

        let raised: Vec<_> = futures::stream::iter(raise)
            .map(|spec| async move {
                (
                    spec.dedup_key.clone(),
                    self.catalog.raise_alert(spec.to_alert()).await,
                )
            })
            .buffer_unordered(self.settings.fire_concurrency)
            .collect()
            .await;
        for (key, r) in raised {
            match r {
                Ok(resp) if resp.opened => {
                    if let Some(alert) = resp.alert {
                        tracing::warn!(alert = %key, message = %alert.message, "alert opened");
                        report.alert_changes += 1;
                        self.notify(alert, Transition::Opened);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(alert = %key, error = %e, "cannot raise alert");
                    report.errors.push(format!("{key}: {e}"));
                }
            }
        }
        let resolved: Vec<_> = futures::stream::iter(resolve)
            .map(|key| async move { (key.clone(), self.catalog.resolve_alert(&key).await) })
            .buffer_unordered(self.settings.fire_concurrency)
            .collect()
            .await;
        for (key, r) in resolved {
            match r {
                Ok(Some(alert)) => {
                    tracing::info!(alert = %key, "alert resolved");
                    report.alert_changes += 1;
                    self.notify(alert, Transition::Resolved);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(alert = %key, error = %e, "cannot resolve alert");
                    report.errors.push(format!("{key}: {e}"));
                }
            }
        }
    }

    pub(crate) fn notify(&self, alert: Alert, transition: Transition) {
        if let Some(n) = &self.notifier {
            n.notify(alert, transition);
        }
    }
}

/// Every schedule's assessment: the alerts it wants and the states whose
/// health changed.
fn assess_all(
    snap: &Snapshot,
    seen: &Seen<'_>,
) -> (HashMap<String, AlertSpec>, Vec<ScheduleState>) {
    let mut wanted: HashMap<String, AlertSpec> = HashMap::new();
    let mut writes: Vec<ScheduleState> = Vec::new();
    for (name, def) in &snap.desired {
        let state = snap.states.get(name);
        let (assessment, problem, configuration) = assess_schedule(
            seen,
            name,
            def,
            state,
            snap.active.get(name).map(Vec::as_slice).unwrap_or(&[]),
        );
        if let Some(s) = state
            && (s.health() != assessment.health || s.health_reason != assessment.reason)
        {
            let mut changed = s.clone();
            changed.set_health(assessment.health);
            changed.health_reason = assessment.reason.clone();
            writes.push(changed);
        }
        for spec in alerts::for_schedule(name, &configuration, &assessment, problem.as_deref()) {
            wanted.insert(spec.dedup_key.clone(), spec);
        }
    }
    (wanted, writes)
}

/// What one detection pass has seen, shared by every schedule's assessment.
struct Seen<'a> {
    now: DateTime<Utc>,
    fired: &'a Fired,
    /// Live and recently gone executors; `None` before the check delay.
    executors: Option<&'a [Component]>,
    /// The newest job each schedule started, remembered across ticks.
    remembered: &'a HashMap<String, JobFact>,
}

/// Assesses one schedule: its health, the executor problem that keeps it
/// from running (if any), and its configuration.
fn assess_schedule(
    seen: &Seen<'_>,
    name: &str,
    def: &Def,
    state: Option<&ScheduleState>,
    active: &[ActiveJob],
) -> (Assessment, Option<String>, String) {
    match def {
        Ok(def) => {
            let problem = seen
                .executors
                .and_then(|e| executor_problem(&def.required_capabilities, e));
            let jobs = job_facts(active, seen.remembered.get(name));
            let assessment = match state {
                Some(s) => assess(&Facts {
                    now: seen.now,
                    paused: s.paused,
                    next_due: s.next_due_time.as_ref().map(ts_to_time),
                    last_due: s.last_due_time.as_ref().map(ts_to_time),
                    fired_count: s.fired_count,
                    armed: s.armed_time.as_ref().map(ts_to_time),
                    tolerance: def.tolerance(),
                    tick: seen.fired.runs.get(name).map(Vec::as_slice),
                    jobs: &jobs,
                    executor_problem: problem.as_deref(),
                    unarmed_reason: (s.health() == ScheduleHealth::Unarmed)
                        .then_some(s.health_reason.as_str()),
                    previous: (s.health(), &s.health_reason),
                }),
                None => Assessment {
                    health: ScheduleHealth::Unarmed,
                    reason: "no schedule state could be stored yet".into(),
                },
            };
            (assessment, problem, def.key.configuration.clone())
        }
        Err(u) => {
            let reason = state
                .map(|s| s.health_reason.clone())
                .unwrap_or_else(|| u.reason.clone());
            (
                Assessment {
                    health: ScheduleHealth::Unarmed,
                    reason,
                },
                None,
                u.key.configuration.clone(),
            )
        }
    }
}

/// Facts about a schedule's jobs: the active ones as listed now, plus the
/// newest remembered one. A remembered job that is no longer active has
/// finished; it only counts if it is known to have started.
fn job_facts(active: &[ActiveJob], remembered: Option<&JobFact>) -> Vec<JobFact> {
    let mut facts: Vec<JobFact> = active.iter().filter_map(ActiveJob::fact).collect();
    if let Some(r) = remembered
        && !facts.iter().any(|f| f.due == r.due)
        && r.started.is_some()
    {
        let mut finished = r.clone();
        finished.state = JobState::Completed;
        facts.push(finished);
    }
    facts
}
