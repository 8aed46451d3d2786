//! `CommitScheduleTick`: records the outcomes of due runs, enqueues the
//! ENQUEUED ones and moves the next due time, in one transaction guarded by
//! the next due time the caller saw. Two replicas ticking the same schedule
//! cannot both succeed: the loser gets ABORTED and changes nothing.

use std::collections::{HashMap, HashSet};

use vigil_proto::catalog::v1::{
    BackupConfiguration, BackupJob, CommitScheduleTickRequest, EnqueueJobRequest, EventKind,
    JobTrigger, OutcomeKind, ScheduleHealth, ScheduleState, TickRun,
};
use vigil_proto::timestamp_to_micros;

use sqlx::AnyConnection;
use sqlx::any::AnyRow;

mod bulk;

use super::Store;
use super::queue::check_enqueue;
use super::schedules::{COLUMNS, OUTCOME_COLUMNS, find, from_row, ts};
use super::tick_check::check_tick_times;
use crate::db::{Db, RowExt, Sql, u64_to_db};
use crate::error::{Error, Result};
use crate::validate::{Checker, check_key};

/// Most runs in one tick.
const MAX_RUNS: usize = 1000;
/// Most ticks in one batch.
const MAX_TICKS: usize = 1000;
/// Most runs over all ticks of one batch.
const MAX_BATCH_RUNS: usize = 5000;

/// What one committed tick stored.
struct Applied {
    row: AnyRow,
    jobs: Vec<BackupJob>,
    created: Vec<BackupJob>,
}

/// The result of one tick of a batch: the state after it and its jobs, or
/// why it was refused (it then changed nothing).
pub type TickResult = Result<(ScheduleState, Vec<BackupJob>)>;

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
            let names = bulk::config_names([(&state, req)]);
            let configs = bulk::configurations(&mut tx, self.db.dialect(), names).await?;
            check_tick_state(now, &state, req, &configs)?;
            self.apply_tick(&mut tx, req, state, now).await
        }
        .await;
        let applied = Db::finish(tx, result).await?;
        let committed = self.publish_ticks(vec![applied])?;
        Ok(committed.into_iter().next().unwrap_or_default())
    }

    /// Commits many schedules' ticks in one transaction. Each tick is checked
    /// on its own ([`check_tick`], then [`Store::check_tick_state`]): a refused
    /// tick gets its error as its result and changes nothing, the others are
    /// committed. A storage error while writing fails the whole batch, which
    /// then changes nothing either.
    pub async fn commit_schedule_ticks(
        &self,
        reqs: &[CommitScheduleTickRequest],
    ) -> Result<Vec<TickResult>> {
        check_batch(reqs)?;
        let now = self.now();
        let mut results: Vec<Option<TickResult>> =
            reqs.iter().map(|r| check_tick(r).err().map(Err)).collect();
        // Schedules are locked in key order, so concurrent batches and
        // single ticks cannot deadlock.
        let mut order: Vec<usize> = (0..reqs.len()).filter(|&i| results[i].is_none()).collect();
        order.sort_by(|&a, &b| reqs[a].schedule.cmp(&reqs[b].schedule));
        let mut tx = self.db.begin().await?;
        let result: Result<Vec<(usize, Applied)>> = async {
            let keys: Vec<&str> = order.iter().map(|&i| reqs[i].schedule.as_str()).collect();
            let mut states = bulk::lock_states(&mut tx, self.db.dialect(), &keys).await?;
            let names = bulk::config_names(
                order
                    .iter()
                    .filter_map(|&i| states.get(&reqs[i].schedule).map(|s| (s, &reqs[i]))),
            );
            let configs = bulk::configurations(&mut tx, self.db.dialect(), names).await?;
            let taken =
                bulk::taken_keys(&mut tx, self.db.dialect(), order.iter().map(|&i| &reqs[i]))
                    .await?;
            let mut simple = Vec::new();
            let mut applied = Vec::with_capacity(order.len());
            for i in order {
                let req = &reqs[i];
                let checked = states
                    .remove(&req.schedule)
                    .ok_or_else(|| Error::not_found("schedule", &req.schedule))
                    .and_then(|state| check_tick_state(now, &state, req, &configs).map(|()| state));
                match checked {
                    Err(refused) => results[i] = Some(Err(refused)),
                    Ok(state) if bulk::is_simple(req, &taken) => simple.push((i, state)),
                    Ok(state) => {
                        applied.push((i, self.apply_tick(&mut tx, req, state, now).await?))
                    }
                }
            }
            let simple = simple
                .into_iter()
                .map(|(i, state)| (i, &reqs[i], state))
                .collect();
            applied.extend(
                self.apply_ticks_in_bulk(&mut tx, simple, &configs, now)
                    .await?,
            );
            Ok(applied)
        }
        .await;
        let applied = Db::finish(tx, result).await?;
        let (index, applied): (Vec<usize>, Vec<Applied>) = applied.into_iter().unzip();
        for (i, committed) in index.into_iter().zip(self.publish_ticks(applied)?) {
            results[i] = Some(Ok(committed));
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::Internal("tick without a result".into()))))
            .collect())
    }

    /// Writes one checked tick: outcomes, jobs and the moved state.
    async fn apply_tick(
        &self,
        conn: &mut AnyConnection,
        req: &CommitScheduleTickRequest,
        state: ScheduleState,
        now: i64,
    ) -> Result<Applied> {
        let mut jobs = Vec::new();
        let mut created = Vec::new();
        let (mut fired, mut skipped, mut missed) = (0u64, 0u64, 0u64);
        let mut last_due = ts(&state.last_due_time);
        // Runs are handled in due-time order so that concurrent ticks take
        // their row locks (job name counters) in the same order.
        let mut order: Vec<usize> = (0..req.runs.len()).collect();
        order.sort_by_key(|&i| ts(&req.runs[i].due_time));
        let mut range: Option<OutcomeRange> = None;
        for i in order {
            let run = &req.runs[i];
            let due = ts(&run.due_time).unwrap_or_default();
            last_due = Some(last_due.map_or(due, |d| d.max(due)));
            let mut job_id = None;
            match run.outcome() {
                OutcomeKind::Enqueued => {
                    let job = run_job(req, run);
                    let out = self
                        .enqueue_in(conn, &job, &format!("runs[{i}].job."), &HashMap::new())
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
            if matches!(run.outcome(), OutcomeKind::Missed | OutcomeKind::Paused) {
                match &mut range {
                    Some(r) if r.outcome == run.outcome && r.detail == run.detail => {
                        r.last = due;
                        r.count += 1;
                    }
                    _ => {
                        if let Some(r) = range.take() {
                            r.store(conn, &req.schedule, now).await?;
                        }
                        range = Some(OutcomeRange {
                            outcome: run.outcome,
                            first: due,
                            last: due,
                            count: 1,
                            detail: run.detail.clone(),
                        });
                    }
                }
                continue;
            }
            if let Some(r) = range.take() {
                r.store(conn, &req.schedule, now).await?;
            }
            insert_outcome(conn, &req.schedule, due, run, job_id, now).await?;
        }
        if let Some(r) = range.take() {
            r.store(conn, &req.schedule, now).await?;
        }
        let counts = RunCounts {
            fired,
            skipped,
            missed,
        };
        let row = advance_state(conn, req, last_due, counts, now).await?;
        Ok(Applied { row, jobs, created })
    }

    /// Publishes the events of committed ticks and returns their states and jobs.
    fn publish_ticks(&self, applied: Vec<Applied>) -> Result<Vec<(ScheduleState, Vec<BackupJob>)>> {
        let mut events = Vec::new();
        let mut out = Vec::with_capacity(applied.len());
        for a in applied {
            let state = from_row(&a.row)?;
            events.extend(
                a.created
                    .iter()
                    .map(|j| self.event(EventKind::JobQueued, &j.configuration, &j.id)),
            );
            events.push(self.event(EventKind::ScheduleChanged, &state.schedule, &state.etag));
            out.push((state, a.jobs));
        }
        self.events.publish(events);
        Ok(out)
    }
}

/// What a tick's runs did, counted into the schedule's state.
#[derive(Clone, Copy)]
struct RunCounts {
    fired: u64,
    skipped: u64,
    missed: u64,
}

/// Records the outcome of one run that is not part of a MISSED or PAUSED
/// range; a repeat of a stored due time changes nothing.
async fn insert_outcome(
    conn: &mut AnyConnection,
    schedule: &str,
    due: i64,
    run: &TickRun,
    job_id: Option<String>,
    now: i64,
) -> Result<()> {
    let mut sql = Sql::new(&format!(
        "INSERT INTO schedule_outcomes ({OUTCOME_COLUMNS}) VALUES ("
    ));
    sql.text(schedule)
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
    sql.push(", NULL, 1) ON CONFLICT DO NOTHING");
    sql.query().execute(&mut *conn).await?;
    Ok(())
}

/// Moves the schedule's state past the tick: its next and last due times,
/// counters, owner and health. Returns the stored row.
async fn advance_state(
    conn: &mut AnyConnection,
    req: &CommitScheduleTickRequest,
    last_due: Option<i64>,
    counts: RunCounts,
    now: i64,
) -> Result<AnyRow> {
    let mut sql = Sql::new("UPDATE schedule_states SET next_due_time = ");
    sql.int(ts(&req.new_next_due_time))
        .push(", last_due_time = ")
        .int(last_due);
    if counts.fired > 0 {
        sql.push(", last_fire_time = ").int(now);
    }
    sql.push(", fired_count = fired_count + ")
        .int(u64_to_db(counts.fired));
    sql.push(", skipped_count = skipped_count + ")
        .int(u64_to_db(counts.skipped));
    sql.push(", missed_count = missed_count + ")
        .int(u64_to_db(counts.missed));
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
    Ok(sql.query().fetch_one(&mut *conn).await?)
}

/// Consecutive MISSED (or PAUSED) due times with the same detail, stored as
/// one outcome row however long the outage.
struct OutcomeRange {
    outcome: i32,
    first: i64,
    last: i64,
    count: u64,
    detail: String,
}

impl OutcomeRange {
    /// Extends the schedule's newest outcome when it is the same kind of
    /// range (a long backlog is committed in slices), else inserts a row.
    async fn store(self, conn: &mut AnyConnection, schedule: &str, now: i64) -> Result<()> {
        let mut sql = Sql::new(&format!(
            "SELECT {OUTCOME_COLUMNS} FROM schedule_outcomes WHERE schedule = "
        ));
        sql.text(schedule).push(" ORDER BY due_time DESC LIMIT 1");
        let newest = sql.query().fetch_optional(&mut *conn).await?;
        if let Some(row) = newest {
            let (outcome, detail, due) = (
                row.int("outcome")?,
                row.text("detail")?,
                row.int("due_time")?,
            );
            let end = row.opt_int("last_due_time")?.unwrap_or(due);
            if outcome == i64::from(self.outcome) && detail == self.detail && end < self.first {
                let mut sql = Sql::new("UPDATE schedule_outcomes SET last_due_time = ");
                sql.int(self.last)
                    .push(", run_count = run_count + ")
                    .int(u64_to_db(self.count))
                    .push(", record_time = ")
                    .int(now);
                sql.push(" WHERE schedule = ")
                    .text(schedule)
                    .push(" AND due_time = ")
                    .int(due);
                sql.query().execute(&mut *conn).await?;
                return Ok(());
            }
        }
        let mut sql = Sql::new(&format!(
            "INSERT INTO schedule_outcomes ({OUTCOME_COLUMNS}) VALUES ("
        ));
        sql.text(schedule)
            .push(", ")
            .int(self.first)
            .push(", ")
            .int(i64::from(self.outcome));
        sql.push(", NULL, ").int(now).push(", ").text(&self.detail);
        let last = (self.count > 1).then_some(self.last);
        sql.push(", ")
            .int(last)
            .push(", ")
            .int(u64_to_db(self.count));
        sql.push(") ON CONFLICT DO NOTHING");
        sql.query().execute(&mut *conn).await?;
        Ok(())
    }
}

/// The checks of one tick against the stored state, before it writes
/// anything: the schedule's next due time is the one the caller saw, its
/// times agree with the schedule, and every configuration it enqueues for
/// still exists. `configs` holds the configurations of [`bulk::config_names`].
fn check_tick_state(
    now: i64,
    state: &ScheduleState,
    req: &CommitScheduleTickRequest,
    configs: &HashMap<String, BackupConfiguration>,
) -> Result<()> {
    if ts(&state.next_due_time) != ts(&req.expected_next_due_time) {
        return Err(Error::Aborted(
            "expected_next_due_time: the schedule was moved by another tick, read it again".into(),
        ));
    }
    let config = configs.get(&state.configuration);
    if !req.configuration_etag.is_empty() && config.is_none_or(|c| c.etag != req.configuration_etag)
    {
        return Err(Error::Aborted(format!(
            "configuration_etag: configuration {} was edited or deleted since the tick was planned, read it again",
            state.configuration
        )));
    }
    check_tick_times(now, state, req, config)?;
    let missing = enqueued(req)
        .filter_map(|r| r.job.as_ref())
        .map(|j| j.configuration.as_str())
        .find(|c| !c.is_empty() && !configs.contains_key(*c));
    match missing {
        Some(name) => Err(Error::not_found("configuration", name)),
        None => Ok(()),
    }
}

/// The runs of a tick that enqueue a job.
fn enqueued(req: &CommitScheduleTickRequest) -> impl Iterator<Item = &TickRun> {
    req.runs
        .iter()
        .filter(|r| r.outcome() == OutcomeKind::Enqueued)
}

/// The job an ENQUEUED run asks for, under the tick's schedule and the
/// run's due time; SCHEDULED unless the run names another trigger.
fn run_job(req: &CommitScheduleTickRequest, run: &TickRun) -> EnqueueJobRequest {
    let mut job = run.job.clone().unwrap_or_default();
    job.schedule = req.schedule.clone();
    job.due_time = run.due_time;
    if job.trigger == JobTrigger::Unspecified as i32 {
        job.trigger = JobTrigger::Scheduled as i32;
    }
    job
}

/// The bounds of a batch as a whole; each tick is checked by [`check_tick`].
fn check_batch(reqs: &[CommitScheduleTickRequest]) -> Result<()> {
    let mut v = Checker::new();
    if reqs.len() > MAX_TICKS {
        v.add("ticks", format!("must hold at most {MAX_TICKS} ticks"));
    }
    let runs: usize = reqs.iter().map(|r| r.runs.len()).sum();
    if runs > MAX_BATCH_RUNS {
        v.add(
            "ticks",
            format!("must hold at most {MAX_BATCH_RUNS} runs in all"),
        );
    }
    let mut seen = HashSet::new();
    for (i, r) in reqs.iter().enumerate().take(MAX_TICKS) {
        if !seen.insert(r.schedule.as_str()) {
            v.add(
                format!("ticks[{i}].schedule"),
                "appears twice in this batch",
            );
        }
    }
    v.finish()
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
                Some(_) => {
                    check_enqueue(&mut v, &f("job."), &run_job(req, run));
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
