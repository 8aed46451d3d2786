//! Taking jobs out of the queue: lease and heartbeat.
//!
//! Concurrent leases and heartbeats are combined (`combine.rs`): one
//! statement serves every caller waiting at that moment, one row each. A
//! lease is one atomic statement: `UPDATE jobs ... FROM (the oldest runnable
//! QUEUED jobs, as many as there are callers) JOIN (the callers, each with
//! its own token hash) RETURNING`. On PostgreSQL the candidates are taken
//! `FOR UPDATE SKIP LOCKED`, so concurrent leasers never pick the same row;
//! on SQLite the statement holds the database's only write lock. Its
//! `RETURNING` also reads each job's configuration, so a lease is one round
//! trip. A heartbeat renews only a lease its caller holds with its token.

use std::collections::HashMap;
use std::time::Duration;

use prost::Message;
use vigil_proto::catalog::v1::{
    BackupConfiguration, BackupJob, EventKind, HeartbeatJobRequest, JobProgress, JobState,
    LeaseJobRequest,
};
use vigil_proto::timestamp_from_micros;

use super::combine::{padded, push_rows, together_or_alone};
use super::holder::{check_holder, new_token, refusal, token_hash};
use super::{DEFAULT_LEASE, Store, configurations, jobs};
use crate::db::{Dialect, RowExt, Sql};
use crate::error::{Error, Result};
use crate::validate::{Checker, check_key};

/// How often a waiting lease looks again even without a wake-up, to see
/// jobs queued by another catalog replica.
const POLL: Duration = Duration::from_secs(1);

/// A leased job and its configuration as it is now.
#[derive(Debug, Clone)]
pub struct Leased {
    /// The job, now RUNNING under the caller's lease.
    pub job: BackupJob,
    /// Its configuration, absent for standalone jobs or a deleted configuration.
    pub configuration: Option<BackupConfiguration>,
    /// The secret every later call about the job must present.
    pub lease_token: String,
}

fn lease_length(field: &str, d: Option<&prost_types::Duration>, max: Duration) -> Result<Duration> {
    let Some(d) = d else { return Ok(DEFAULT_LEASE) };
    let d = vigil_proto::duration_from_proto(d)
        .ok_or_else(|| Error::invalid(field, "must not be negative"))?;
    if d.is_zero() {
        return Ok(DEFAULT_LEASE);
    }
    if d > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {}s", max.as_secs()),
        ));
    }
    Ok(d)
}

/// A leased job and its configuration, before the caller's token is added.
pub(super) type LeasedRow = (BackupJob, Option<BackupConfiguration>);

/// One caller's lease, waiting to be combined with other callers'.
pub(super) struct LeaseAsk {
    executor: String,
    caps: Vec<String>,
    lease: Duration,
    token_hash: String,
}

/// One caller's heartbeat, waiting to be combined with other callers'.
pub(super) struct Beat {
    job_id: String,
    executor: String,
    token_hash: String,
    lease: Duration,
    progress: Option<JobProgress>,
}

/// A `WITH` item, joined by the heartbeat statement on PostgreSQL, that
/// lets the statement's transaction commit without waiting for the WAL
/// flush. A heartbeat only moves a lease's end later and records progress,
/// and it is repeated: a database crash can lose the heartbeats of its last
/// moments (at most three times `wal_writer_delay`, 600 ms by default). A
/// lost one is as if its holder had skipped that beat: the lease ends where
/// the beat before put it, one interval earlier. With the executor's
/// defaults (a 30 s lease, a beat every 5 s) 25 s are left until the next
/// beat is due; at its limit of two beats per lease, none, and a crashed
/// database that takes longer than the lease to recover ends the lease
/// whether or not its last beat was flushed. Leases and completions, which
/// hand a job over, wait for their flush.
const UNFLUSHED_COMMIT: &str =
    "), unflushed (u) AS (SELECT set_config('synchronous_commit', 'off', true)";

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Store {
    /// Leases the oldest runnable job the caller can run, waiting up to `wait`.
    pub async fn lease_job(&self, req: &LeaseJobRequest) -> Result<Option<Leased>> {
        let mut v = Checker::new();
        check_key(&mut v, "executor_id", &req.executor_id, 255);
        if req.capabilities.len() > 64 {
            v.add("capabilities", "must hold at most 64 items");
        }
        for (i, cap) in req.capabilities.iter().enumerate().take(64) {
            check_key(&mut v, &format!("capabilities[{i}]"), cap, 64);
        }
        v.finish()?;
        let lease = lease_length(
            "lease_duration",
            req.lease_duration.as_ref(),
            self.limits.max_lease,
        )?;
        let wait = match &req.wait {
            None => Duration::ZERO,
            Some(w) => vigil_proto::duration_from_proto(w)
                .ok_or_else(|| Error::invalid("wait", "must not be negative"))?
                .min(self.limits.max_wait),
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let mut wake = self.events.queue_changes();
            wake.mark_unchanged();
            let (lease_token, hash) = new_token();
            if let Some((job, configuration)) = self
                .try_lease(&req.executor_id, &req.capabilities, lease, &hash)
                .await?
            {
                return Ok(Some(Leased {
                    job,
                    configuration,
                    lease_token,
                }));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let nap = (deadline - now).min(POLL);
            tokio::select! {
                _ = wake.changed() => {}
                _ = tokio::time::sleep(nap) => {}
            }
        }
    }

    /// Leases one job for the caller, combined with concurrent callers'
    /// leases (see `combine.rs`).
    async fn try_lease(
        &self,
        executor: &str,
        caps: &[String],
        lease: Duration,
        token_hash: &str,
    ) -> Result<Option<LeasedRow>> {
        let ask = LeaseAsk {
            executor: executor.to_owned(),
            caps: caps.to_vec(),
            lease,
            token_hash: token_hash.to_owned(),
        };
        let store = self.clone();
        self.combined
            .leases
            .call(ask, move |asks| {
                let store = store.clone();
                async move { store.lease_batch(asks).await }
            })
            .await
    }

    /// Leases for a batch of callers: one statement for each set of
    /// capabilities among them (see `together_or_alone`).
    async fn lease_batch(&self, asks: Vec<LeaseAsk>) -> Vec<Result<Option<LeasedRow>>> {
        let mut groups: Vec<(Vec<String>, Vec<usize>)> = Vec::new();
        for (i, ask) in asks.iter().enumerate() {
            let mut caps = ask.caps.clone();
            caps.sort();
            caps.dedup();
            match groups.iter_mut().find(|(c, _)| *c == caps) {
                Some((_, members)) => members.push(i),
                None => groups.push((caps, vec![i])),
            }
        }
        let mut results: Vec<Option<Result<Option<LeasedRow>>>> =
            asks.iter().map(|_| None).collect();
        for (caps, members) in groups {
            let group: Vec<&LeaseAsk> = members.iter().map(|&i| &asks[i]).collect();
            let leased = together_or_alone(
                &group,
                |ask| &ask.token_hash,
                |g| self.lease_group(&caps, g.into_iter().copied().collect()),
            )
            .await;
            for (i, result) in members.into_iter().zip(leased) {
                results[i] = Some(result);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::Internal("a lease was not tried".into()))))
            .collect()
    }

    /// One statement that leases up to one job for each of `asks`, all able
    /// to run `caps`: the oldest runnable QUEUED jobs, each set RUNNING under
    /// its caller's token. Returns the leased jobs by token hash; callers
    /// without one found nothing to run.
    async fn lease_group(
        &self,
        caps: &[String],
        asks: Vec<&LeaseAsk>,
    ) -> Result<HashMap<String, LeasedRow>> {
        let now = self.now();
        let dialect = self.db.dialect();
        let mut sql = Sql::new("WITH waiting (w_n, w_owner, w_token, w_expire) AS (VALUES ");
        // Padded with rows for no caller (numbered 0, which no picked job
        // is), so the statement's shape repeats; the jobs picked beyond the
        // callers are locked until the statement ends and stay QUEUED.
        push_rows(
            &mut sql,
            &asks,
            |row, n, ask| {
                row.int(n as i64 + 1)
                    .push(", ")
                    .text(&ask.executor)
                    .push(", ")
                    .text(&ask.token_hash)
                    .push(", ")
                    .int(now.saturating_add(micros(ask.lease)));
            },
            |row| {
                row.int(0).push(", ").text("").push(", ").text("");
                row.push(", ").int(0);
            },
        );
        sql.push("), picked (job_id, n) AS (SELECT id, row_number() OVER () FROM (SELECT j.id FROM jobs j WHERE j.state = ")
            .int(JobState::Queued as i64);
        sql.push(" AND NOT EXISTS (SELECT 1 FROM job_capabilities c WHERE c.job_id = j.id");
        if !caps.is_empty() {
            sql.push(" AND c.capability NOT IN (")
                .text_list(caps.iter().cloned())
                .push(")");
        }
        // `LIMIT 1 OFFSET 0` keeps the capability check a probe of
        // job_capabilities' primary key for each candidate in queue order:
        // without it PostgreSQL turns NOT EXISTS into an anti join that
        // reads the whole of job_capabilities for every lease (0.8 ms at
        // 16,000 queued jobs, against 0.04 ms). The candidates come in the
        // order of jobs_queue, whose id is in the "C" collation on
        // PostgreSQL (migration 0013), so nothing is sorted.
        // The limit is written out: with a bound one, PostgreSQL plans every
        // lease again (about 0.3 ms) rather than keep a generic plan.
        sql.push(&format!(
            " LIMIT 1 OFFSET 0) ORDER BY j.create_time, j.id{} LIMIT {}{}) AS candidates)",
            dialect.collate_c(),
            padded(asks.len()),
            dialect.for_update_skip_locked()
        ));
        sql.push(" UPDATE jobs SET state = ")
            .int(JobState::Running as i64)
            .push(", lease_owner = waiting.w_owner, lease_token_hash = waiting.w_token")
            .push(", lease_expire_time = waiting.w_expire")
            .push(", attempt = attempt + 1, start_time = COALESCE(start_time, ")
            .int(now);
        sql.push("), update_time = ").int(now);
        sql.push(" FROM picked JOIN waiting ON waiting.w_n = picked.n WHERE jobs.id = picked.job_id AND jobs.state = ")
            .int(JobState::Queued as i64);
        sql.push(&format!(
            " RETURNING {}, {}, lease_token_hash AS leased_to",
            jobs::COLUMNS,
            configurations::OF_JOB
        ));
        let rows = sql.query().fetch_all(self.db.writer()).await?;
        let mut leased = HashMap::with_capacity(rows.len());
        let mut changed = Vec::with_capacity(rows.len());
        for row in rows {
            let job = jobs::from_row(&row)?;
            let configuration = configurations::of_job_from_row(&row, &job.configuration)?;
            changed.push(self.event(EventKind::JobChanged, &job.configuration, &job.id));
            let token_hash = row.text("leased_to")?;
            if dialect == Dialect::Postgres {
                self.recent_leases.remember(&job, &token_hash);
            }
            leased.insert(token_hash, (job, configuration));
        }
        self.events.publish(changed);
        Ok(leased)
    }

    /// Extends a lease and records progress, combined with concurrent
    /// callers' heartbeats (see `combine.rs`).
    pub async fn heartbeat_job(&self, req: &HeartbeatJobRequest) -> Result<BackupJob> {
        check_holder(&req.job_id, &req.executor_id, &req.lease_token)?;
        let lease = lease_length(
            "lease_duration",
            req.lease_duration.as_ref(),
            self.limits.max_lease,
        )?;
        let beat = Beat {
            job_id: req.job_id.clone(),
            executor: req.executor_id.clone(),
            token_hash: token_hash(&req.lease_token),
            lease,
            progress: req.progress.clone(),
        };
        let store = self.clone();
        let renewed = self
            .combined
            .heartbeats
            .call(beat, move |beats| {
                let store = store.clone();
                async move { store.heartbeat_batch(beats).await }
            })
            .await?;
        if let Some(job) = renewed {
            return Ok(job);
        }
        let mut conn = self.db.pool().acquire().await?;
        let job = jobs::find(&mut conn, &req.job_id, "")
            .await?
            .ok_or_else(|| Error::not_found("job", &req.job_id))?;
        Err(refusal(&mut conn, &job, &req.executor_id, &req.lease_token).await?)
    }

    /// Heartbeats for a batch of callers in one statement (see
    /// `together_or_alone`); `None` for a caller that does not hold its
    /// job's lease.
    async fn heartbeat_batch(&self, beats: Vec<Beat>) -> Vec<Result<Option<BackupJob>>> {
        together_or_alone(&beats, |b| &b.job_id, |group| self.heartbeat_group(group)).await
    }

    /// One statement that renews the leases of `beats` (each for a
    /// different job) whose callers hold them. Returns the renewed jobs by id.
    async fn heartbeat_group(&self, beats: Vec<&Beat>) -> Result<HashMap<String, BackupJob>> {
        let now = self.now();
        let mut sql =
            Sql::new("WITH beats (b_id, b_owner, b_token, b_expire, b_progress) AS (VALUES ");
        // Padded with rows for no job, so the statement's shape repeats.
        push_rows(
            &mut sql,
            &beats,
            |row, _, beat| {
                let progress = beat.progress.clone().map(|mut p| {
                    p.update_time
                        .get_or_insert_with(|| timestamp_from_micros(now));
                    p.encode_to_vec()
                });
                row.text(&beat.job_id)
                    .push(", ")
                    .text(&beat.executor)
                    .push(", ")
                    .text(&beat.token_hash)
                    .push(", ")
                    .int(now.saturating_add(micros(beat.lease)))
                    .push(", ")
                    .blob(progress);
            },
            |row| {
                row.text("").push(", ").text("").push(", ").text("");
                row.push(", ").int(0).push(", ").blob(None);
            },
        );
        // On PostgreSQL the statement's own transaction commits without
        // waiting for its WAL flush (`SET LOCAL synchronous_commit = off`,
        // undone when the statement ends); see [`UNFLUSHED_COMMIT`].
        let unflushed = self.db.dialect() == Dialect::Postgres;
        if unflushed {
            sql.push(UNFLUSHED_COMMIT);
        }
        sql.push(") UPDATE jobs SET lease_expire_time = beats.b_expire, update_time = ")
            .int(now)
            .push(", progress = COALESCE(beats.b_progress, jobs.progress)");
        sql.push(if unflushed {
            " FROM beats, unflushed"
        } else {
            " FROM beats"
        });
        sql.push(" WHERE jobs.id = beats.b_id AND jobs.state = ")
            .int(JobState::Running as i64)
            .push(
                " AND jobs.lease_owner = beats.b_owner AND jobs.lease_token_hash = beats.b_token",
            );
        sql.push(&format!(" RETURNING {}", jobs::COLUMNS));
        let rows = sql.query().fetch_all(self.db.writer()).await?;
        let mut renewed = HashMap::with_capacity(rows.len());
        for row in rows {
            let job = jobs::from_row(&row)?;
            renewed.insert(job.id.clone(), job);
        }
        let changed = beats
            .iter()
            .filter(|b| b.progress.is_some())
            .filter_map(|b| renewed.get(&b.job_id))
            .map(|job| self.event(EventKind::JobChanged, &job.configuration, &job.id));
        self.events.publish(changed.collect::<Vec<_>>());
        Ok(renewed)
    }
}
