//! The bulk half of `CommitScheduleTicks`. At 02:00 thousands of schedules
//! are due on the same second, and each of their ticks is one ENQUEUED run:
//! written one statement at a time that is a dozen round trips per schedule,
//! all inside the catalog's write transaction. Here a batch is read, checked
//! and written with a few multi-row statements per 500 schedules instead:
//! the states are locked together, the configurations and the jobs already
//! under a (schedule, due time) key are read together, and the job name
//! counters, jobs, capabilities, outcomes and moved states are each written
//! with one statement per chunk.
//!
//! Only the common shape takes this path ([`is_simple`]): runs that are
//! ENQUEUED or SKIPPED_OVERLAP, with no request id, no artifact to check and
//! no job yet under their key. Everything else (MISSED and PAUSED ranges,
//! idempotent retries) goes through the one-tick path, in the same
//! transaction. Both write the same rows; the guarantees (S3's unique key,
//! the guarded next due time) are the database's either way.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use vigil_proto::catalog::v1::{
    BackupConfiguration, BackupJob, CommitScheduleTickRequest, EnqueueJobRequest, JobTrigger,
    OutcomeKind, ScheduleHealth, ScheduleState, TickRun, job_params::Params,
};
use vigil_proto::timestamp_to_micros;

use super::{Applied, enqueued, run_job};
use crate::db::{Dialect, RowExt, Sql};
use crate::error::{Error, Result};
use crate::store::queue::{NewJob, base_name, effective_trigger, required_capabilities};
use crate::store::schedules::{COLUMNS, OUTCOME_COLUMNS, from_row, ts};
use crate::store::{Store, configurations, jobs};

/// Rows (or keys) per statement. The widest row, a job, binds 14 values, so
/// a statement stays far below SQLite's 32,766 bound parameters.
const CHUNK: usize = 500;

/// Locks and reads the states of `keys` (sorted byte-wise, as every batch
/// sorts them, so concurrent batches lock in the same order).
pub(super) async fn lock_states(
    conn: &mut AnyConnection,
    dialect: Dialect,
    keys: &[&str],
) -> Result<HashMap<String, ScheduleState>> {
    let mut states = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(CHUNK) {
        let mut sql = Sql::new(&format!(
            "SELECT {COLUMNS} FROM schedule_states WHERE schedule IN ("
        ));
        sql.text_list(chunk.iter().copied()).push(&format!(
            ") ORDER BY schedule{}{}",
            dialect.collate_c(),
            dialect.for_update()
        ));
        for row in sql.query_for(dialect).fetch_all(&mut *conn).await? {
            let state = from_row(&row)?;
            states.insert(state.schedule.clone(), state);
        }
    }
    Ok(states)
}

/// The configurations the checks and jobs of these ticks need: each
/// schedule's own and those its ENQUEUED runs name.
pub(super) fn config_names<'a>(
    ticks: impl IntoIterator<Item = (&'a ScheduleState, &'a CommitScheduleTickRequest)>,
) -> BTreeSet<&'a str> {
    let mut names = BTreeSet::new();
    for (state, req) in ticks {
        names.insert(state.configuration.as_str());
        names.extend(
            enqueued(req)
                .filter_map(|r| r.job.as_ref())
                .map(|j| j.configuration.as_str()),
        );
    }
    names.remove("");
    names
}

/// Reads the configurations named, by name; a missing one is left out.
pub(super) async fn configurations(
    conn: &mut AnyConnection,
    dialect: Dialect,
    names: BTreeSet<&str>,
) -> Result<HashMap<String, BackupConfiguration>> {
    let names: Vec<&str> = names.into_iter().collect();
    let mut found = HashMap::with_capacity(names.len());
    for chunk in names.chunks(CHUNK) {
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM configurations WHERE name IN (",
            configurations::COLUMNS
        ));
        sql.text_list(chunk.iter().copied()).push(")");
        for row in sql.query_for(dialect).fetch_all(&mut *conn).await? {
            let config = configurations::from_row(&row)?;
            found.insert(config.name.clone(), config);
        }
    }
    Ok(found)
}

/// The (schedule, due time) keys of these ticks' ENQUEUED runs that already
/// have a job.
pub(super) async fn taken_keys<'a>(
    conn: &mut AnyConnection,
    dialect: Dialect,
    reqs: impl Iterator<Item = &'a CommitScheduleTickRequest>,
) -> Result<HashSet<(String, i64)>> {
    let mut wanted: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for req in reqs {
        for run in enqueued(req) {
            wanted
                .entry(req.schedule.as_str())
                .or_default()
                .extend(ts(&run.due_time));
        }
    }
    let schedules: Vec<&str> = wanted.keys().copied().collect();
    let mut taken = HashSet::new();
    for chunk in schedules.chunks(CHUNK) {
        let due: BTreeSet<i64> = chunk
            .iter()
            .flat_map(|s| wanted[s].iter().copied())
            .collect();
        let mut sql = Sql::new("SELECT schedule, due_time FROM jobs WHERE schedule IN (");
        sql.text_list(chunk.iter().copied()).push(")");
        // Due times are few in a burst (one second); past that, every job of
        // these schedules from the earliest due time on is read instead.
        if due.len() <= CHUNK {
            sql.push(" AND due_time IN (").int_list(due).push(")");
        } else if let Some(&first) = due.first() {
            sql.push(" AND due_time >= ").int(first);
        }
        for row in sql.query_for(dialect).fetch_all(&mut *conn).await? {
            let key = (row.text("schedule")?, row.int("due_time")?);
            if wanted
                .get(key.0.as_str())
                .is_some_and(|d| d.contains(&key.1))
            {
                taken.insert(key);
            }
        }
    }
    Ok(taken)
}

/// Whether a checked tick can be written in bulk: see the module comment.
pub(super) fn is_simple(req: &CommitScheduleTickRequest, taken: &HashSet<(String, i64)>) -> bool {
    let plain = req.runs.iter().all(|r| {
        matches!(
            r.outcome(),
            OutcomeKind::Enqueued | OutcomeKind::SkippedOverlap
        )
    });
    plain
        && !req.runs.is_empty()
        && enqueued(req).all(|run| {
            let job = run.job.as_ref();
            let checks_artifact = matches!(
                job.and_then(|j| j.params.as_ref())
                    .and_then(|p| p.params.as_ref()),
                Some(Params::Restore(_) | Params::Verify(_))
            );
            let key = (req.schedule.clone(), ts(&run.due_time).unwrap_or_default());
            job.is_some_and(|j| j.request_id.is_empty())
                && !checks_artifact
                && !taken.contains(&key)
        })
}

/// One job of the batch on its way into the queue.
struct Pending {
    /// Index of its tick in the batch.
    tick: usize,
    req: EnqueueJobRequest,
    base: String,
    caps: Vec<String>,
    backup_kind: i32,
    id: String,
    name: String,
}

/// What a tick's state update sets, beside its counters.
struct Moved {
    next_due: Option<i64>,
    last_due: Option<i64>,
    fired: i64,
    skipped: i64,
}

impl Store {
    /// Writes checked simple ticks (`(index, request, locked state)`) with
    /// multi-row statements and returns what each stored, by index.
    pub(super) async fn apply_ticks_in_bulk(
        &self,
        conn: &mut AnyConnection,
        ticks: Vec<(usize, &CommitScheduleTickRequest, ScheduleState)>,
        configs: &HashMap<String, BackupConfiguration>,
        now: i64,
    ) -> Result<Vec<(usize, Applied)>> {
        if ticks.is_empty() {
            return Ok(Vec::new());
        }
        let dialect = self.db.dialect();
        let mut pending = Vec::new();
        for (t, (_, req, _)) in ticks.iter().enumerate() {
            let mut runs: Vec<_> = enqueued(req).collect();
            runs.sort_by_key(|r| ts(&r.due_time));
            for run in runs {
                pending.push(pending_job(t, req, run, configs, now));
            }
        }
        name_jobs(conn, dialect, &mut pending).await?;
        let mut stored = insert_jobs(conn, dialect, &pending, now).await?;

        // A job whose insert hit a unique key (a name taken outside the
        // counter) goes the one-job way, which finds or retries it.
        let mut jobs: Vec<Vec<BackupJob>> = vec![Vec::new(); ticks.len()];
        let mut created: Vec<Vec<BackupJob>> = vec![Vec::new(); ticks.len()];
        for p in &pending {
            let job = match stored.remove(&p.id) {
                Some(job) => {
                    created[p.tick].push(job.clone());
                    job
                }
                None => {
                    let out = self
                        .enqueue_in(conn, &p.req, "runs[].job.", &HashMap::new())
                        .await?;
                    if out.created {
                        created[p.tick].push(out.job.clone());
                    }
                    out.job
                }
            };
            jobs[p.tick].push(job);
        }

        insert_outcomes(conn, dialect, &ticks, &jobs, now).await?;
        let moved: Vec<Moved> = ticks
            .iter()
            .zip(&jobs)
            .map(|((_, req, state), jobs)| moved(req, state, jobs.len()))
            .collect();
        let mut rows = update_states(conn, dialect, &ticks, &moved, now).await?;

        let mut applied = Vec::with_capacity(ticks.len());
        for (((i, req, _), jobs), created) in ticks.into_iter().zip(jobs).zip(created) {
            let row = rows.remove(&req.schedule).ok_or_else(|| {
                Error::Internal(format!("schedule {} was not moved", req.schedule))
            })?;
            applied.push((i, Applied { row, jobs, created }));
        }
        Ok(applied)
    }
}

/// The job an ENQUEUED run asks for, as the one-job path would queue it.
fn pending_job(
    tick: usize,
    req: &CommitScheduleTickRequest,
    run: &TickRun,
    configs: &HashMap<String, BackupConfiguration>,
    now: i64,
) -> Pending {
    let mut job = run_job(req, run);
    job.trigger = effective_trigger(&job).unwrap_or(JobTrigger::Manual) as i32;
    let config = configs.get(&job.configuration);
    let due = job.due_time.as_ref().map(timestamp_to_micros);
    Pending {
        tick,
        base: base_name(&job, config, due.unwrap_or(now)),
        caps: required_capabilities(&job, config),
        backup_kind: config.map(|c| c.kind).unwrap_or_default(),
        req: job,
        id: uuid::Uuid::now_v7().to_string(),
        name: String::new(),
    }
}

/// Draws a number for every job from the name counters (one upsert per base,
/// adding the jobs that share it) and names the jobs `<base>` or `<base>_<n>`.
async fn name_jobs(
    conn: &mut AnyConnection,
    dialect: Dialect,
    pending: &mut [Pending],
) -> Result<()> {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for p in pending.iter() {
        *counts.entry(p.base.clone()).or_default() += 1;
    }
    let bases: Vec<(String, i64)> = counts.into_iter().collect();
    let mut next: HashMap<String, i64> = HashMap::with_capacity(bases.len());
    for chunk in bases.chunks(CHUNK) {
        let mut sql = Sql::new("INSERT INTO job_name_counters (base, n) VALUES ");
        for (k, (base, count)) in chunk.iter().enumerate() {
            sql.push(if k == 0 { "(" } else { ", (" })
                .text(base.as_str())
                .push(", ")
                .int(*count)
                .push(")");
        }
        sql.push(
            " ON CONFLICT (base) DO UPDATE SET n = job_name_counters.n + excluded.n \
             RETURNING base, n",
        );
        for row in sql.query_for(dialect).fetch_all(&mut *conn).await? {
            next.insert(row.text("base")?, row.int("n")?);
        }
        for (base, count) in chunk {
            let last = next.get_mut(base).ok_or_else(|| {
                Error::Internal(format!("job name counter {base} was not returned"))
            })?;
            *last -= count - 1; // the first number this batch drew
        }
    }
    for p in pending.iter_mut() {
        let n = next
            .get_mut(&p.base)
            .ok_or_else(|| Error::Internal(format!("no job number for {}", p.base)))?;
        p.name = if *n <= 1 {
            p.base.clone()
        } else {
            format!("{}_{n}", p.base)
        };
        *n += 1;
    }
    Ok(())
}

/// Inserts the jobs and their capabilities; returns the jobs inserted, by
/// id, as stored (a job that hit a unique key is left out).
async fn insert_jobs(
    conn: &mut AnyConnection,
    dialect: Dialect,
    pending: &[Pending],
    now: i64,
) -> Result<HashMap<String, BackupJob>> {
    let no_trace = HashMap::new();
    let mut inserted = HashMap::with_capacity(pending.len());
    for chunk in pending.chunks(CHUNK) {
        let mut sql = Sql::new(&format!("INSERT INTO jobs ({}) VALUES ", jobs::COLUMNS));
        for (k, p) in chunk.iter().enumerate() {
            if k > 0 {
                sql.push(", ");
            }
            NewJob {
                id: &p.id,
                name: &p.name,
                req: &p.req,
                backup_kind: p.backup_kind,
                caps: &p.caps,
                now,
                trace_context: &no_trace,
            }
            .push_values(&mut sql);
        }
        sql.push(&format!(
            " ON CONFLICT DO NOTHING RETURNING {}",
            jobs::COLUMNS
        ));
        for row in sql.query_for(dialect).fetch_all(&mut *conn).await? {
            let job = jobs::from_row(&row)?;
            inserted.insert(job.id.clone(), job);
        }
        let caps: Vec<(&str, &str)> = chunk
            .iter()
            .filter(|p| inserted.contains_key(&p.id))
            .flat_map(|p| p.caps.iter().map(|c| (p.id.as_str(), c.as_str())))
            .collect();
        for caps in caps.chunks(CHUNK) {
            let mut sql = Sql::new("INSERT INTO job_capabilities (job_id, capability) VALUES ");
            for (k, (id, cap)) in caps.iter().enumerate() {
                sql.push(if k == 0 { "(" } else { ", (" })
                    .text(*id)
                    .push(", ")
                    .text(*cap)
                    .push(")");
            }
            sql.query_for(dialect).execute(&mut *conn).await?;
        }
    }
    Ok(inserted)
}

/// Records one outcome per run: ENQUEUED with its job, SKIPPED_OVERLAP without.
async fn insert_outcomes(
    conn: &mut AnyConnection,
    dialect: Dialect,
    ticks: &[(usize, &CommitScheduleTickRequest, ScheduleState)],
    jobs: &[Vec<BackupJob>],
    now: i64,
) -> Result<()> {
    let mut rows = Vec::new();
    for ((_, req, _), jobs) in ticks.iter().zip(jobs) {
        let by_due: HashMap<i64, &str> = jobs
            .iter()
            .filter_map(|j| Some((ts(&j.due_time)?, j.id.as_str())))
            .collect();
        for run in &req.runs {
            let due = ts(&run.due_time).unwrap_or_default();
            let job = (run.outcome() == OutcomeKind::Enqueued)
                .then(|| by_due.get(&due).map(|id| (*id).to_owned()))
                .flatten();
            rows.push((
                req.schedule.as_str(),
                due,
                run.outcome,
                job,
                run.detail.as_str(),
            ));
        }
    }
    for chunk in rows.chunks(CHUNK) {
        let mut sql = Sql::new(&format!(
            "INSERT INTO schedule_outcomes ({OUTCOME_COLUMNS}) VALUES "
        ));
        for (k, (schedule, due, outcome, job, detail)) in chunk.iter().enumerate() {
            sql.push(if k == 0 { "(" } else { ", (" })
                .text(*schedule)
                .push(", ")
                .int(*due)
                .push(", ")
                .int(i64::from(*outcome));
            sql.push(", ")
                .opt_text(job.clone())
                .push(", ")
                .int(now)
                .push(", ")
                .text(*detail)
                .push(", NULL, 1)");
        }
        sql.push(" ON CONFLICT DO NOTHING");
        sql.query_for(dialect).execute(&mut *conn).await?;
    }
    Ok(())
}

/// What a simple tick moves: its next and last due times and its counters.
fn moved(req: &CommitScheduleTickRequest, state: &ScheduleState, fired: usize) -> Moved {
    let skipped = req
        .runs
        .iter()
        .filter(|r| r.outcome() == OutcomeKind::SkippedOverlap)
        .count();
    let last_due = req
        .runs
        .iter()
        .filter_map(|r| ts(&r.due_time))
        .chain(ts(&state.last_due_time))
        .max();
    Moved {
        next_due: ts(&req.new_next_due_time),
        last_due,
        fired: i64::try_from(fired).unwrap_or(i64::MAX),
        skipped: i64::try_from(skipped).unwrap_or(i64::MAX),
    }
}

/// Moves the states of the ticks with one `UPDATE ... FROM (VALUES ...)`
/// per chunk, as the one-tick path's update does for one; returns the rows
/// after it by schedule.
async fn update_states(
    conn: &mut AnyConnection,
    dialect: Dialect,
    ticks: &[(usize, &CommitScheduleTickRequest, ScheduleState)],
    moved: &[Moved],
    now: i64,
) -> Result<HashMap<String, AnyRow>> {
    let mut rows = HashMap::with_capacity(ticks.len());
    let all: Vec<_> = ticks.iter().zip(moved).collect();
    for chunk in all.chunks(CHUNK) {
        // v.column1 .. v.column8: schedule, next due, last due, fired,
        // skipped, owner ('' keeps it), health (0 keeps it and its reason), reason.
        let mut sql = Sql::new(
            "UPDATE schedule_states SET next_due_time = v.column2, last_due_time = v.column3, last_fire_time = CASE WHEN v.column4 > 0 THEN ",
        );
        sql.int(now).push(
            " ELSE schedule_states.last_fire_time END, \
             fired_count = schedule_states.fired_count + v.column4, \
             skipped_count = schedule_states.skipped_count + v.column5, \
             owner = CASE WHEN v.column6 = '' THEN schedule_states.owner ELSE v.column6 END, \
             health = CASE WHEN v.column7 = 0 THEN schedule_states.health ELSE v.column7 END, \
             health_reason = CASE WHEN v.column7 = 0 THEN schedule_states.health_reason ELSE v.column8 END, \
             revision = schedule_states.revision + 1, update_time = ",
        );
        sql.int(now).push(" FROM (VALUES ");
        for (k, ((_, req, _), m)) in chunk.iter().enumerate() {
            let health = if req.health == ScheduleHealth::Unspecified as i32 {
                0
            } else {
                i64::from(req.health)
            };
            sql.push(if k == 0 { "(" } else { ", (" })
                .text(req.schedule.as_str())
                .push(", ")
                .int(m.next_due)
                .push(", ")
                .int(m.last_due);
            sql.push(", ")
                .int(m.fired)
                .push(", ")
                .int(m.skipped)
                .push(", ")
                .text(req.owner.as_str());
            sql.push(", ")
                .int(health)
                .push(", ")
                .text(req.health_reason.as_str())
                .push(")");
        }
        sql.push(&format!(
            ") AS v WHERE schedule_states.schedule = v.column1 RETURNING {COLUMNS}"
        ));
        for row in sql.query_for(dialect).fetch_all(&mut *conn).await? {
            rows.insert(row.text("schedule")?, row);
        }
    }
    Ok(rows)
}
