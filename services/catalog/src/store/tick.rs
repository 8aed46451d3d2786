//! `CommitScheduleTick`: records the outcomes of due runs, enqueues the
//! ENQUEUED ones and moves the next due time, in one transaction guarded by
//! the next due time the caller saw. Two replicas ticking the same schedule
//! cannot both succeed: the loser gets ABORTED and changes nothing.

use std::collections::{HashMap, HashSet};

use vigil_proto::catalog::v1::{
    BackupJob, CommitScheduleTickRequest, EventKind, JobTrigger, OutcomeKind, ScheduleHealth,
    ScheduleState,
};
use vigil_proto::timestamp_to_micros;

use super::Store;
use super::queue::check_enqueue;
use super::schedules::{COLUMNS, OUTCOME_COLUMNS, find, from_row, ts};
use super::tick_check::check_tick_times;
use crate::db::{Db, Sql, u64_to_db};
use crate::error::{Error, Result};
use crate::validate::{Checker, check_key};

/// Most runs in one tick.
const MAX_RUNS: usize = 1000;

impl Store {
    /// Records the outcomes of due runs, enqueues ENQUEUED ones and moves the
    /// next due time, guarded by the next due time the caller saw.
    pub async fn commit_schedule_tick(
        &self,
        req: &CommitScheduleTickRequest,
    ) -> Result<(ScheduleState, Vec<BackupJob>)> {
        check_tick(req)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let result: Result<_> = async {
            let state = find(self, &mut tx, &req.schedule, true)
                .await?
                .ok_or_else(|| Error::not_found("schedule", &req.schedule))?;
            if ts(&state.next_due_time) != ts(&req.expected_next_due_time) {
                return Err(Error::Aborted(
                    "expected_next_due_time: the schedule was moved by another tick, read it again"
                        .into(),
                ));
            }
            check_tick_times(self, &mut tx, &state, req).await?;
            let mut jobs = Vec::new();
            let mut created = Vec::new();
            let (mut fired, mut skipped, mut missed) = (0u64, 0u64, 0u64);
            let mut last_due = ts(&state.last_due_time);
            // Runs are handled in due-time order so that concurrent ticks take
            // their row locks (job name counters) in the same order.
            let mut order: Vec<usize> = (0..req.runs.len()).collect();
            order.sort_by_key(|&i| ts(&req.runs[i].due_time));
            for i in order {
                let run = &req.runs[i];
                let due = ts(&run.due_time).unwrap_or_default();
                last_due = Some(last_due.map_or(due, |d| d.max(due)));
                let mut job_id = None;
                match run.outcome() {
                    OutcomeKind::Enqueued => {
                        let mut job = run.job.clone().unwrap_or_default();
                        job.schedule = req.schedule.clone();
                        job.due_time = run.due_time;
                        if job.trigger == JobTrigger::Unspecified as i32 {
                            job.trigger = JobTrigger::Scheduled as i32;
                        }
                        let out = self
                            .enqueue_in(&mut tx, &job, &format!("runs[{i}].job."), &HashMap::new())
                            .await?;
                        job_id = Some(out.job.id.clone());
                        fired += 1;
                        if out.created {
                            created.push(out.job.clone());
                        }
                        jobs.push(out.job);
                    }
                    OutcomeKind::SkippedOverlap => skipped += 1,
                    OutcomeKind::Missed => missed += 1,
                    OutcomeKind::Paused | OutcomeKind::Unspecified => {}
                }
                let mut sql = Sql::new(&format!(
                    "INSERT INTO schedule_outcomes ({OUTCOME_COLUMNS}) VALUES ("
                ));
                sql.text(&req.schedule)
                    .push(", ")
                    .int(due)
                    .push(", ")
                    .int(i64::from(run.outcome));
                sql.push(", ")
                    .opt_text(job_id)
                    .push(", ")
                    .int(now)
                    .push(", ")
                    .text(&run.detail);
                sql.push(") ON CONFLICT DO NOTHING");
                sql.query().execute(&mut *tx).await?;
            }
            let mut sql = Sql::new("UPDATE schedule_states SET next_due_time = ");
            sql.int(ts(&req.new_next_due_time))
                .push(", last_due_time = ")
                .int(last_due);
            if fired > 0 {
                sql.push(", last_fire_time = ").int(now);
            }
            sql.push(", fired_count = fired_count + ")
                .int(u64_to_db(fired));
            sql.push(", skipped_count = skipped_count + ")
                .int(u64_to_db(skipped));
            sql.push(", missed_count = missed_count + ")
                .int(u64_to_db(missed));
            if !req.owner.is_empty() {
                sql.push(", owner = ").text(&req.owner);
            }
            if req.health != ScheduleHealth::Unspecified as i32 {
                sql.push(", health = ").int(i64::from(req.health));
                sql.push(", health_reason = ").text(&req.health_reason);
            }
            sql.push(", revision = revision + 1, update_time = ")
                .int(now);
            sql.push(" WHERE schedule = ")
                .text(&req.schedule)
                .push(&format!(" RETURNING {COLUMNS}"));
            let row = sql.query().fetch_one(&mut *tx).await?;
            Ok((row, jobs, created))
        }
        .await;
        let (row, jobs, created) = Db::finish(tx, result).await?;
        let state = from_row(&row)?;
        let mut events: Vec<_> = created
            .iter()
            .map(|j| self.event(EventKind::JobQueued, &j.configuration, &j.id))
            .collect();
        events.push(self.event(EventKind::ScheduleChanged, &state.schedule, ""));
        self.events.publish(events);
        Ok((state, jobs))
    }
}

fn check_tick(req: &CommitScheduleTickRequest) -> Result<()> {
    let mut v = Checker::new();
    check_key(&mut v, "schedule", &req.schedule, 200);
    if req.owner.chars().count() > 255 {
        v.add("owner", "must be at most 255 characters");
    }
    if ScheduleHealth::try_from(req.health).is_err() {
        v.add("health", format!("unknown value {}", req.health));
    }
    if req.health_reason.chars().count() > 4096 {
        v.add("health_reason", "must be at most 4096 characters");
    }
    if req.runs.len() > MAX_RUNS {
        v.add("runs", format!("must hold at most {MAX_RUNS} runs"));
    }
    let mut seen = HashSet::new();
    for (i, run) in req.runs.iter().enumerate().take(MAX_RUNS) {
        let f = |name: &str| format!("runs[{i}].{name}");
        match &run.due_time {
            None => v.add(f("due_time"), "is required"),
            Some(t) if !seen.insert(timestamp_to_micros(t)) => {
                v.add(f("due_time"), "appears twice in this tick")
            }
            Some(_) => {}
        }
        match OutcomeKind::try_from(run.outcome) {
            Ok(OutcomeKind::Unspecified) => v.add(f("outcome"), "must be set"),
            Err(_) => v.add(f("outcome"), format!("unknown value {}", run.outcome)),
            Ok(OutcomeKind::Enqueued) => match &run.job {
                None => v.add(f("job"), "is required for an ENQUEUED run"),
                Some(job) => {
                    let mut job = job.clone();
                    job.schedule = req.schedule.clone();
                    job.due_time = run.due_time;
                    if job.trigger == JobTrigger::Unspecified as i32 {
                        job.trigger = JobTrigger::Scheduled as i32;
                    }
                    check_enqueue(&mut v, &f("job."), &job);
                }
            },
            Ok(_) => {}
        }
        if run.detail.chars().count() > 4096 {
            v.add(f("detail"), "must be at most 4096 characters");
        }
    }
    v.finish()
}
