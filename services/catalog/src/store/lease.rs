//! Taking jobs out of the queue: lease and heartbeat.
//!
//! A lease is one atomic statement: `UPDATE jobs ... WHERE id = (SELECT the
//! oldest runnable QUEUED job ...) RETURNING`. On PostgreSQL the sub-select
//! takes `FOR UPDATE SKIP LOCKED`, so concurrent leasers never pick the same
//! row; on SQLite the statement holds the database's only write lock. Its
//! `RETURNING` also reads the job's configuration, so a lease is one round
//! trip.

use std::time::Duration;

use prost::Message;
use vigil_proto::catalog::v1::{
    BackupConfiguration, BackupJob, EventKind, HeartbeatJobRequest, JobState, LeaseJobRequest,
};
use vigil_proto::timestamp_from_micros;

use super::holder::{check_holder, new_token, refusal, token_hash};
use super::{DEFAULT_LEASE, Store, configurations, jobs};
use crate::db::Sql;
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

    async fn try_lease(
        &self,
        executor: &str,
        caps: &[String],
        lease: Duration,
        token_hash: &str,
    ) -> Result<Option<(BackupJob, Option<BackupConfiguration>)>> {
        let now = self.now();
        let dialect = self.db.dialect();
        let mut sql = Sql::new("UPDATE jobs SET state = ");
        sql.int(JobState::Running as i64)
            .push(", lease_owner = ")
            .text(executor)
            .push(", lease_token_hash = ")
            .text(token_hash);
        sql.push(", lease_expire_time = ")
            .int(now.saturating_add(micros(lease)));
        sql.push(", attempt = attempt + 1, start_time = COALESCE(start_time, ")
            .int(now);
        sql.push("), update_time = ").int(now);
        sql.push(" WHERE id = (SELECT j.id FROM jobs j WHERE j.state = ")
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
        sql.push(&format!(
            " LIMIT 1 OFFSET 0) ORDER BY j.create_time, j.id{} LIMIT 1{}) AND state = ",
            dialect.collate_c(),
            dialect.for_update_skip_locked()
        ));
        sql.int(JobState::Queued as i64).push(&format!(
            " RETURNING {}, {}",
            jobs::COLUMNS,
            configurations::OF_JOB
        ));
        let row = sql.query().fetch_optional(self.db.pool()).await?;
        let Some(row) = row else { return Ok(None) };
        let job = jobs::from_row(&row)?;
        let configuration = configurations::of_job_from_row(&row, &job.configuration)?;
        self.events
            .publish([self.event(EventKind::JobChanged, &job.configuration, &job.id)]);
        Ok(Some((job, configuration)))
    }

    /// Extends a lease and records progress.
    pub async fn heartbeat_job(&self, req: &HeartbeatJobRequest) -> Result<BackupJob> {
        check_holder(&req.job_id, &req.executor_id, &req.lease_token)?;
        let lease = lease_length(
            "lease_duration",
            req.lease_duration.as_ref(),
            self.limits.max_lease,
        )?;
        let now = self.now();
        let mut sql = Sql::new("UPDATE jobs SET lease_expire_time = ");
        sql.int(now.saturating_add(micros(lease)))
            .push(", update_time = ")
            .int(now);
        if let Some(progress) = &req.progress {
            let mut progress = progress.clone();
            progress
                .update_time
                .get_or_insert_with(|| timestamp_from_micros(now));
            sql.push(", progress = ")
                .blob(Some(progress.encode_to_vec()));
        }
        sql.push(" WHERE id = ")
            .text(&req.job_id)
            .push(" AND state = ")
            .int(JobState::Running as i64);
        sql.push(" AND lease_owner = ").text(&req.executor_id);
        sql.push(" AND lease_token_hash = ")
            .text(token_hash(&req.lease_token));
        sql.push(&format!(" RETURNING {}", jobs::COLUMNS));
        match sql.query().fetch_optional(self.db.pool()).await? {
            Some(row) => {
                let job = jobs::from_row(&row)?;
                if req.progress.is_some() {
                    self.events.publish([self.event(
                        EventKind::JobChanged,
                        &job.configuration,
                        &job.id,
                    )]);
                }
                Ok(job)
            }
            None => {
                let mut conn = self.db.pool().acquire().await?;
                let job = jobs::find(&mut conn, &req.job_id, "")
                    .await?
                    .ok_or_else(|| Error::not_found("job", &req.job_id))?;
                Err(refusal(&mut conn, &job, &req.executor_id, &req.lease_token).await?)
            }
        }
    }
}
