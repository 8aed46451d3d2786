//! Taking jobs out of the queue: lease, heartbeat, complete, fail, and the
//! reclaiming of expired leases.
//!
//! A lease is one atomic statement: `UPDATE jobs ... WHERE id = (SELECT the
//! oldest runnable QUEUED job ...) RETURNING`. On PostgreSQL the sub-select
//! takes `FOR UPDATE SKIP LOCKED`, so concurrent leasers never pick the same
//! row; on SQLite the statement holds the database's only write lock.

use std::time::Duration;

use prost::Message;
use sqlx::AnyConnection;
use vigil_proto::catalog::v1::{
    Alert, AlertKind, AlertSeverity, Artifact, ArtifactState, BackupConfiguration, BackupJob,
    CompleteJobRequest, EventKind, FailJobRequest, HeartbeatJobRequest, JobState, LeaseJobRequest,
};
use vigil_proto::timestamp_from_micros;

use super::{DEFAULT_LEASE, Store, alerts, artifacts, configurations, jobs};
use crate::db::{Db, RowExt, Sql};
use crate::error::{Error, Result};
use crate::redact::redact_secrets;
use crate::validate::{Checker, check_key};

/// Error recorded on a job whose last lease expired.
pub const EXECUTOR_LOST: &str = "executor lost";

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
}

/// What a reclaim pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Jobs put back in the queue.
    pub requeued: u32,
    /// Jobs failed with "executor lost" (or cancelled, when a cancel was pending).
    pub failed: u32,
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

fn check_holder(job_id: &str, executor_id: &str) -> Result<()> {
    let mut v = Checker::new();
    check_key(&mut v, "job_id", job_id, 200);
    check_key(&mut v, "executor_id", executor_id, 255);
    v.finish()
}

/// The running job `job_id` held by `executor_id`, locked; ABORTED when the lease is gone.
async fn held(
    store: &Store,
    conn: &mut AnyConnection,
    job_id: &str,
    executor_id: &str,
) -> Result<BackupJob> {
    let lock = store.db.dialect().for_update();
    let job = jobs::find(conn, job_id, lock)
        .await?
        .ok_or_else(|| Error::not_found("job", job_id))?;
    if job.state != JobState::Running as i32 || job.lease_owner != executor_id {
        let state = JobState::try_from(job.state)
            .map(|s| s.as_str_name())
            .unwrap_or("UNKNOWN");
        return Err(Error::Aborted(format!(
            "job {} is not leased by this executor (state {state})",
            job.name
        )));
    }
    Ok(job)
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
            if let Some(job) = self
                .try_lease(&req.executor_id, &req.capabilities, lease)
                .await?
            {
                let configuration = if job.configuration.is_empty() {
                    None
                } else {
                    let mut conn = self.db.pool().acquire().await?;
                    configurations::find(&mut conn, &job.configuration).await?
                };
                return Ok(Some(Leased { job, configuration }));
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
    ) -> Result<Option<BackupJob>> {
        let now = self.now();
        let dialect = self.db.dialect();
        let mut sql = Sql::new("UPDATE jobs SET state = ");
        sql.int(JobState::Running as i64)
            .push(", lease_owner = ")
            .text(executor);
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
        sql.push(&format!(
            ") ORDER BY j.create_time, j.id{} LIMIT 1{}) AND state = ",
            dialect.collate_c(),
            dialect.for_update_skip_locked()
        ));
        sql.int(JobState::Queued as i64)
            .push(&format!(" RETURNING {}", jobs::COLUMNS));
        let row = sql.query().fetch_optional(self.db.pool()).await?;
        let Some(row) = row else { return Ok(None) };
        let job = jobs::from_row(&row)?;
        self.events
            .publish([self.event(EventKind::JobChanged, &job.configuration, &job.id)]);
        Ok(Some(job))
    }

    /// Extends a lease and records progress.
    pub async fn heartbeat_job(&self, req: &HeartbeatJobRequest) -> Result<BackupJob> {
        check_holder(&req.job_id, &req.executor_id)?;
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
                let state = JobState::try_from(job.state)
                    .map(|s| s.as_str_name())
                    .unwrap_or("UNKNOWN");
                Err(Error::Aborted(format!(
                    "job {} is not leased by this executor (state {state})",
                    job.name
                )))
            }
        }
    }

    /// Ends a job as COMPLETED and records its artifact in the same transaction.
    pub async fn complete_job(
        &self,
        req: &CompleteJobRequest,
    ) -> Result<(BackupJob, Option<Artifact>)> {
        check_holder(&req.job_id, &req.executor_id)?;
        let mut v = Checker::new();
        if let Some(a) = &req.artifact {
            artifacts::check_artifact(&mut v, "artifact", a);
        }
        check_warnings(&mut v, &req.warnings);
        v.finish()?;
        let mut tx = self.db.begin().await?;
        let result: Result<(BackupJob, Option<Artifact>, bool)> = async {
            let lock = self.db.dialect().for_update();
            let current = jobs::find(&mut tx, &req.job_id, lock).await?;
            // A retried CompleteJob after a lost response returns the same result.
            if let Some(job) = current.filter(|j| {
                j.state == JobState::Completed as i32 && j.lease_owner == req.executor_id
            }) {
                let artifact = if job.artifact.is_empty() {
                    None
                } else {
                    artifacts::find(&mut tx, &job.artifact).await?
                };
                return Ok((job, artifact, false));
            }
            let job = held(self, &mut tx, &req.job_id, &req.executor_id).await?;
            let now = self.now();
            let artifact = match &req.artifact {
                None => None,
                Some(a) => {
                    let mut a = a.clone();
                    if a.id.is_empty() {
                        a.id = uuid::Uuid::now_v7().to_string();
                    }
                    if a.configuration.is_empty() {
                        a.configuration = job.configuration.clone();
                    }
                    a.job = job.id.clone();
                    if a.backup_kind == 0 {
                        a.backup_kind = job.backup_kind;
                    }
                    a.create_time
                        .get_or_insert_with(|| timestamp_from_micros(now));
                    if a.state == ArtifactState::Unspecified as i32 {
                        a.state = ArtifactState::Available as i32;
                    }
                    if !artifacts::insert(&mut tx, &a).await? {
                        return Err(Error::already_exists("artifact", &a.id));
                    }
                    Some(a)
                }
            };
            let mut sql = Sql::new("UPDATE jobs SET state = ");
            sql.int(JobState::Completed as i64)
                .push(", end_time = ")
                .int(now)
                .push(", update_time = ")
                .int(now);
            sql.push(", lease_expire_time = NULL, error = '', artifact = ")
                .opt_text(artifact.as_ref().map(|a| a.id.clone()));
            sql.push(", stats = ")
                .blob(req.stats.as_ref().map(Message::encode_to_vec));
            sql.push(", warnings = ").text(warnings_json(&req.warnings));
            sql.push(" WHERE id = ")
                .text(&job.id)
                .push(&format!(" RETURNING {}", jobs::COLUMNS));
            let job = jobs::from_row(&sql.query().fetch_one(&mut *tx).await?)?;
            Ok((job, artifact, true))
        }
        .await;
        let (job, artifact, changed) = Db::finish(tx, result).await?;
        if changed {
            self.events
                .publish([self.event(EventKind::JobChanged, &job.configuration, &job.id)]);
        }
        Ok((job, artifact))
    }

    /// Ends a job as FAILED or CANCELLED, or requeues it when retryable and attempts remain.
    pub async fn fail_job(&self, req: &FailJobRequest) -> Result<BackupJob> {
        check_holder(&req.job_id, &req.executor_id)?;
        let mut v = Checker::new();
        if req.error.trim().is_empty() && !req.cancelled {
            v.add("error", "must not be empty");
        } else if req.error.chars().count() > 4096 {
            v.add("error", "must be at most 4096 characters");
        }
        check_warnings(&mut v, &req.warnings);
        v.finish()?;
        let mut tx = self.db.begin().await?;
        let result: Result<(BackupJob, JobState)> = async {
            let job = held(self, &mut tx, &req.job_id, &req.executor_id).await?;
            let now = self.now();
            let error = redact_secrets(req.error.trim());
            let state = if req.cancelled || job.cancel_requested {
                JobState::Cancelled
            } else if req.retryable && job.attempt < job.max_attempts {
                JobState::Queued
            } else {
                JobState::Failed
            };
            let mut sql = Sql::new("UPDATE jobs SET state = ");
            sql.int(state as i64)
                .push(", update_time = ")
                .int(now)
                .push(", error = ");
            sql.text(if error.is_empty() {
                "cancelled".to_owned()
            } else {
                error
            });
            sql.push(", lease_expire_time = NULL");
            if state == JobState::Queued {
                sql.push(", lease_owner = NULL");
            } else {
                sql.push(", end_time = ").int(now);
            }
            sql.push(", stats = ")
                .blob(req.stats.as_ref().map(Message::encode_to_vec));
            sql.push(", warnings = ").text(warnings_json(&req.warnings));
            sql.push(" WHERE id = ")
                .text(&job.id)
                .push(&format!(" RETURNING {}", jobs::COLUMNS));
            let job = jobs::from_row(&sql.query().fetch_one(&mut *tx).await?)?;
            Ok((job, state))
        }
        .await;
        let (job, state) = Db::finish(tx, result).await?;
        let kind = if state == JobState::Queued {
            EventKind::JobQueued
        } else {
            EventKind::JobChanged
        };
        self.events
            .publish([self.event(kind, &job.configuration, &job.id)]);
        Ok(job)
    }

    /// Requeues jobs whose lease expired, or ends them after their last attempt.
    pub async fn reclaim_expired_leases(&self) -> Result<Reclaimed> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let result: Result<_> = async {
            let expired = |sql: &mut Sql| {
                sql.push(" WHERE state = ").int(JobState::Running as i64);
                sql.push(" AND lease_expire_time < ").int(now);
            };
            // A job whose cancel was pending ends CANCELLED.
            let mut cancel = Sql::new("UPDATE jobs SET state = ");
            cancel
                .int(JobState::Cancelled as i64)
                .push(", end_time = ")
                .int(now)
                .push(", update_time = ")
                .int(now);
            cancel
                .push(", lease_expire_time = NULL, error = ")
                .text(format!("cancelled; {EXECUTOR_LOST}"));
            expired(&mut cancel);
            cancel.push(" AND cancel_requested = 1 RETURNING id, name, configuration");
            let cancelled = cancel.query().fetch_all(&mut *tx).await?;
            // After the last attempt: FAILED with "executor lost".
            let mut fail = Sql::new("UPDATE jobs SET state = ");
            fail.int(JobState::Failed as i64)
                .push(", end_time = ")
                .int(now)
                .push(", update_time = ")
                .int(now);
            fail.push(", lease_expire_time = NULL, error = ")
                .text(EXECUTOR_LOST);
            expired(&mut fail);
            fail.push(" AND attempt >= max_attempts RETURNING id, name, configuration");
            let failed = fail.query().fetch_all(&mut *tx).await?;
            // Everything else goes back in the queue.
            let mut requeue = Sql::new("UPDATE jobs SET state = ");
            requeue
                .int(JobState::Queued as i64)
                .push(", update_time = ")
                .int(now);
            requeue.push(", lease_owner = NULL, lease_expire_time = NULL");
            expired(&mut requeue);
            requeue.push(" RETURNING id, name, configuration");
            let requeued = requeue.query().fetch_all(&mut *tx).await?;

            use crate::db::RowExt;
            let mut events = Vec::new();
            for row in &failed {
                let (name, configuration) = (row.text("name")?, row.text("configuration")?);
                let alert = Alert {
                    kind: AlertKind::ExecutorLost as i32,
                    severity: AlertSeverity::Critical as i32,
                    configuration: configuration.clone(),
                    message: format!("job {name} failed: its executor stopped sending heartbeats"),
                    dedup_key: format!("executor_lost:{name}"),
                    ..Default::default()
                };
                let (stored, _) = alerts::raise_in(self, &mut tx, &alert).await?;
                events.push(self.event(EventKind::AlertChanged, &configuration, &stored.id));
            }
            Ok((cancelled, failed, requeued, events))
        }
        .await;
        let (cancelled, failed, requeued, mut events) = Db::finish(tx, result).await?;
        for (rows, kind) in [
            (&cancelled, EventKind::JobChanged),
            (&failed, EventKind::JobChanged),
            (&requeued, EventKind::JobQueued),
        ] {
            for row in rows.iter() {
                events.push(self.event(kind, &row.text("configuration")?, &row.text("id")?));
            }
        }
        self.events.publish(events);
        Ok(Reclaimed {
            requeued: requeued.len() as u32,
            failed: (failed.len() + cancelled.len()) as u32,
        })
    }
}

fn check_warnings(v: &mut Checker, warnings: &[String]) {
    if warnings.len() > 1000 || warnings.iter().any(|w| w.chars().count() > 4096) {
        v.add(
            "warnings",
            "must hold at most 1000 warnings of 4096 characters",
        );
    }
}

fn warnings_json(warnings: &[String]) -> String {
    let redacted: Vec<String> = warnings.iter().map(|w| redact_secrets(w)).collect();
    serde_json::to_string(&redacted).unwrap_or_else(|_| "[]".into())
}
