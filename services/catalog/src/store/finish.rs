//! Ending a leased job: complete (with its artifact, in one transaction)
//! or fail (requeue, FAILED or CANCELLED). Both require the caller to hold
//! the lease. On PostgreSQL the common completion is one statement
//! (`complete_fast`); anything else takes the transaction here.

use prost::Message;
use sqlx::AnyConnection;
use vigil_proto::catalog::v1::{
    Artifact, ArtifactState, BackupJob, CompleteJobRequest, EventKind, FailJobRequest, JobState,
};
use vigil_proto::timestamp_from_micros;

use super::consistency::check_completion;
use super::holder::{check_holder, held, lock};
use super::{Store, artifacts, jobs};
use crate::db::{Db, Dialect, Sql, u64_to_db};
use crate::error::{Error, Result};
use crate::redact::redact_secrets;
use crate::validate::Checker;

/// The artifact a completion reports, filled in from its job: its id,
/// configuration, kind, creation time and state when the executor left
/// them out.
pub(super) fn filled_artifact(a: &Artifact, job: &BackupJob, now: i64) -> Artifact {
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
    a
}

/// Stores the artifact a completion reports ([`filled_artifact`]). An id
/// already taken is refused.
async fn record_artifact(
    conn: &mut AnyConnection,
    a: &Artifact,
    job: &BackupJob,
    now: i64,
) -> Result<Artifact> {
    let a = filled_artifact(a, job, now);
    if !artifacts::insert(conn, &a).await? {
        return Err(Error::already_exists("artifact", &a.id));
    }
    Ok(a)
}

/// What a completion writes into its job's row. Both ways of completing,
/// the transaction here and the combined statement of `complete_fast`,
/// write through [`Completion::push_assignments`], so each column a
/// completion sets is named once, in [`Completion::COLUMNS`].
pub(super) struct Completion([Value; 4]);

/// One value a completion writes.
enum Value {
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
    Int(i64),
}

impl Value {
    fn push(&self, sql: &mut Sql) {
        match self {
            Value::Text(v) => sql.opt_text(v.clone()),
            Value::Blob(v) => sql.blob(v.clone()),
            Value::Int(v) => sql.int(*v),
        };
    }
}

impl Completion {
    /// The columns that take a completion's values, in their order.
    pub(super) const COLUMNS: [&'static str; 4] = ["artifact", "stats", "bytes_read", "warnings"];

    /// What completing under `req` writes, with the artifact recorded.
    pub(super) fn new(req: &CompleteJobRequest, artifact: Option<&Artifact>) -> Self {
        let bytes_read = req.stats.as_ref().map(|s| s.bytes_read).unwrap_or_default();
        Completion([
            Value::Text(artifact.map(|a| a.id.clone())),
            Value::Blob(req.stats.as_ref().map(Message::encode_to_vec)),
            Value::Int(u64_to_db(bytes_read)),
            Value::Text(Some(warnings_json(&req.warnings))),
        ])
    }

    /// Values of the same types for a row that ends no job.
    pub(super) fn nothing() -> Self {
        Completion([
            Value::Text(None),
            Value::Blob(None),
            Value::Int(0),
            Value::Text(Some(String::from("[]"))),
        ])
    }

    /// The values, comma-separated, in the order of [`Completion::COLUMNS`].
    pub(super) fn push_values(&self, sql: &mut Sql) {
        for (n, value) in self.0.iter().enumerate() {
            if n > 0 {
                sql.push(", ");
            }
            value.push(sql);
        }
    }

    /// Appends the assignments of a completion to `UPDATE jobs SET `: the
    /// state and times, then each of [`Completion::COLUMNS`] from `values`.
    pub(super) fn push_assignments(sql: &mut Sql, now: i64, values: CompletionValues<'_>) {
        sql.int(JobState::Completed as i64)
            .push(", end_time = ")
            .int(now)
            .push(", update_time = ")
            .int(now)
            .push(", lease_expire_time = NULL, error = ''");
        for (n, column) in Self::COLUMNS.iter().enumerate() {
            sql.push(&format!(", {column} = "));
            match values {
                CompletionValues::Given(c) => c.0[n].push(sql),
                CompletionValues::Column(prefix) => {
                    sql.push(&format!("{prefix}{column}"));
                }
            }
        }
    }
}

/// Where a completion's assignments take their values.
#[derive(Clone, Copy)]
pub(super) enum CompletionValues<'a> {
    /// From one completion.
    Given(&'a Completion),
    /// From the columns named `{prefix}{column}` of a joined row.
    Column(&'a str),
}

impl Store {
    /// Ends a job as COMPLETED and records its artifact in the same transaction.
    pub async fn complete_job(
        &self,
        req: &CompleteJobRequest,
    ) -> Result<(BackupJob, Option<Artifact>)> {
        check_holder(&req.job_id, &req.executor_id, &req.lease_token)?;
        let mut v = Checker::new();
        if let Some(a) = &req.artifact {
            artifacts::check_artifact(&mut v, "artifact", a);
        }
        check_warnings(&mut v, &req.warnings);
        v.finish()?;
        if self.db.dialect() == Dialect::Postgres
            && let Some((job, artifact)) = self.complete_in_one_statement(req).await?
        {
            self.events
                .publish([self.event(EventKind::JobChanged, &job.configuration, &job.id)]);
            return Ok((job, artifact));
        }
        let mut tx = self.db.begin().await?;
        let result: Result<(BackupJob, Option<Artifact>, bool)> = async {
            let locked = lock(self, &mut tx, &req.job_id, &req.lease_token).await?;
            // A retried CompleteJob after a lost response returns the same result.
            let job = &locked.job;
            if job.state == JobState::Completed as i32
                && job.lease_owner == req.executor_id
                && locked.token_ok
            {
                let artifact = if job.artifact.is_empty() {
                    None
                } else {
                    artifacts::find(&mut tx, &job.artifact).await?
                };
                return Ok((locked.job, artifact, false));
            }
            let job = locked.held_by(&req.executor_id)?;
            check_completion(&job, req.artifact.as_ref())?;
            let now = self.now();
            let artifact = match &req.artifact {
                None => None,
                Some(a) => Some(record_artifact(&mut tx, a, &job, now).await?),
            };
            let mut sql = Sql::new("UPDATE jobs SET state = ");
            let completion = Completion::new(req, artifact.as_ref());
            Completion::push_assignments(&mut sql, now, CompletionValues::Given(&completion));
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

    /// Ends a job as FAILED or CANCELLED, or requeues it when retryable and
    /// attempts remain, or when its executor was interrupted (shutting down):
    /// then at once, and the attempt does not count.
    pub async fn fail_job(&self, req: &FailJobRequest) -> Result<BackupJob> {
        check_holder(&req.job_id, &req.executor_id, &req.lease_token)?;
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
            let job = held(
                self,
                &mut tx,
                &req.job_id,
                &req.executor_id,
                &req.lease_token,
            )
            .await?;
            let now = self.now();
            let error = redact_secrets(req.error.trim());
            let state = if req.cancelled || job.cancel_requested {
                JobState::Cancelled
            } else if req.interrupted || (req.retryable && job.attempt < job.max_attempts) {
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
                sql.push(", lease_owner = NULL, lease_token_hash = NULL");
                // An executor that shut down did not spend an attempt.
                if req.interrupted {
                    sql.push(", attempt = CASE WHEN attempt > 0 THEN attempt - 1 ELSE 0 END");
                }
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
