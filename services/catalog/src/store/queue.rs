//! Putting jobs in the queue: manual jobs (`CreateJob`), scheduled and system
//! jobs (`EnqueueJob`, `CommitScheduleTick`).
//!
//! Idempotency is enforced by the database, not by a check-then-insert: the
//! UNIQUE (schedule, due_time) key of the jobs table is guarantee S3, and the
//! UNIQUE request_id makes client retries return the same job. An insert
//! that hits either key returns the job already there.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::TimeZone;
use prost::Message;
use sqlx::AnyConnection;
use vigil_proto::capabilities;
use vigil_proto::catalog::v1::{
    BackupConfiguration, BackupJob, CreateJobRequest, EnqueueJobRequest, EventKind, JobKind,
    JobState, JobTrigger,
};

use super::{Store, configurations, jobs};
use crate::db::{Db, RowExt, Sql};
use crate::error::{Error, Result};
use crate::validate::{Checker, check_job_params, check_key, check_name, restore_engine};

/// Lease length when a request leaves it at zero.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// Leases a job may lose before it fails with "executor lost".
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Most capabilities on one job or executor.
const MAX_CAPABILITIES: usize = 64;

/// A job put in the queue, or found there under the same key.
#[derive(Debug, Clone)]
pub struct EnqueueOutcome {
    /// The job.
    pub job: BackupJob,
    /// False when the idempotency key already had a job.
    pub created: bool,
}

/// The stored values of a job being queued, in [`jobs::COLUMNS`] order.
pub(super) struct NewJob<'a> {
    pub(super) id: &'a str,
    pub(super) name: &'a str,
    /// The request, its trigger already made effective.
    pub(super) req: &'a EnqueueJobRequest,
    pub(super) backup_kind: i32,
    pub(super) caps: &'a [String],
    pub(super) now: i64,
    pub(super) trace_context: &'a HashMap<String, String>,
}

impl NewJob<'_> {
    /// Appends `(...)`: this job's row as a QUEUED job.
    pub(super) fn push_values(&self, sql: &mut Sql) {
        let req = self.req;
        sql.push("(")
            .text(self.id)
            .push(", ")
            .text(self.name)
            .push(", ")
            .text(&req.configuration);
        sql.push(", ")
            .int(i64::from(req.kind))
            .push(", ")
            .int(i64::from(req.trigger));
        sql.push(", ")
            .int(JobState::Queued as i64)
            .push(", ")
            .int(i64::from(self.backup_kind));
        let schedule = (!req.schedule.is_empty()).then(|| req.schedule.clone());
        let due = req.due_time.as_ref().map(vigil_proto::timestamp_to_micros);
        sql.push(", ").opt_text(schedule).push(", ").int(due);
        let request_id = (!req.request_id.is_empty()).then(|| req.request_id.clone());
        sql.push(", ")
            .opt_text(request_id)
            .push(", ")
            .int(self.now)
            .push(", ")
            .int(self.now);
        sql.push(", NULL, NULL, NULL, NULL, 0, ")
            .int(i64::from(DEFAULT_MAX_ATTEMPTS));
        sql.push(", 0, '', NULL, ")
            .text(serde_json::to_string(self.caps).unwrap_or_default());
        sql.push(", ")
            .blob(req.params.as_ref().map(Message::encode_to_vec));
        sql.push(", NULL, NULL, '[]', ")
            .text(serde_json::to_string(self.trace_context).unwrap_or_default());
        sql.push(")");
    }
}

/// Checks an enqueue request whose fields sit under `prefix` (`""` or `runs[0].job.`).
pub(crate) fn check_enqueue(v: &mut Checker, prefix: &str, req: &EnqueueJobRequest) {
    let f = |name: &str| format!("{prefix}{name}");
    let kind = JobKind::try_from(req.kind);
    match kind {
        Ok(JobKind::Unspecified) => v.add(f("kind"), "must be set"),
        Err(_) => v.add(f("kind"), format!("unknown value {}", req.kind)),
        Ok(kind) => check_job_params(v, &f("params"), kind, req.params.as_ref()),
    }
    if !req.configuration.is_empty() {
        check_name(v, &f("configuration"), &req.configuration);
    } else if matches!(kind, Ok(JobKind::Backup | JobKind::Prune)) {
        v.add(f("configuration"), "is required for BACKUP and PRUNE jobs");
    }
    let trigger = effective_trigger(req);
    match trigger {
        Err(_) => v.add(f("trigger"), format!("unknown value {}", req.trigger)),
        Ok(JobTrigger::Scheduled | JobTrigger::System) => {
            if req.schedule.is_empty() {
                v.add(f("schedule"), "is required for SCHEDULED and SYSTEM jobs");
            } else {
                check_key(v, &f("schedule"), &req.schedule, 200);
            }
            if req.due_time.is_none() {
                v.add(f("due_time"), "is required for SCHEDULED and SYSTEM jobs");
            }
        }
        Ok(_) => {
            if !req.schedule.is_empty() {
                v.add(f("schedule"), "must be empty for MANUAL and UPLOAD jobs");
            }
        }
    }
    if !req.request_id.is_empty() {
        check_key(v, &f("request_id"), &req.request_id, 128);
    }
    if req.required_capabilities.len() > MAX_CAPABILITIES {
        v.add(
            f("required_capabilities"),
            format!("must hold at most {MAX_CAPABILITIES} items"),
        );
    }
    for (i, cap) in req
        .required_capabilities
        .iter()
        .enumerate()
        .take(MAX_CAPABILITIES)
    {
        check_key(v, &f(&format!("required_capabilities[{i}]")), cap, 64);
    }
}

/// The trigger of a request; unset means SCHEDULED with a schedule key, MANUAL without.
pub(super) fn effective_trigger(
    req: &EnqueueJobRequest,
) -> Result<JobTrigger, prost::UnknownEnumValue> {
    match JobTrigger::try_from(req.trigger)? {
        JobTrigger::Unspecified if req.schedule.is_empty() => Ok(JobTrigger::Manual),
        JobTrigger::Unspecified => Ok(JobTrigger::Scheduled),
        t => Ok(t),
    }
}

/// Capabilities a job needs: the requested ones, or derived from kind and configuration.
pub(super) fn required_capabilities(
    req: &EnqueueJobRequest,
    config: Option<&BackupConfiguration>,
) -> Vec<String> {
    let mut caps = if req.required_capabilities.is_empty() {
        let mut caps = capabilities::required_for(req.kind(), config);
        if let Some(engine) = restore_engine(req.params.as_ref()).and_then(capabilities::engine) {
            caps.push(engine.to_owned());
        }
        caps
    } else {
        req.required_capabilities.clone()
    };
    caps.sort();
    caps.dedup();
    caps
}

/// `<configuration>_<YYYYmmdd_HHMMSS>` in the configuration's time zone.
pub(super) fn base_name(
    req: &EnqueueJobRequest,
    config: Option<&BackupConfiguration>,
    at: i64,
) -> String {
    let prefix = if req.configuration.is_empty() {
        req.kind()
            .as_str_name()
            .trim_start_matches("JOB_KIND_")
            .to_ascii_lowercase()
    } else {
        req.configuration.clone()
    };
    let zone = config
        .and_then(|c| c.schedule.as_ref())
        .and_then(|s| chrono_tz::Tz::from_str(&s.timezone).ok())
        .unwrap_or(chrono_tz::UTC);
    let stamp = zone
        .timestamp_micros(at)
        .single()
        .map(|t| t.format("%Y%m%d_%H%M%S").to_string())
        .unwrap_or_else(|| at.to_string());
    format!("{prefix}_{stamp}")
}

async fn find_by_key(
    conn: &mut AnyConnection,
    req: &EnqueueJobRequest,
) -> Result<Option<BackupJob>> {
    if let (false, Some(due)) = (req.schedule.is_empty(), &req.due_time) {
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM jobs WHERE schedule = ",
            jobs::COLUMNS
        ));
        sql.text(&req.schedule)
            .push(" AND due_time = ")
            .int(vigil_proto::timestamp_to_micros(due));
        if let Some(row) = sql.query().fetch_optional(&mut *conn).await? {
            return Ok(Some(jobs::from_row(&row)?));
        }
    }
    if !req.request_id.is_empty() {
        let mut sql = Sql::new(&format!(
            "SELECT {} FROM jobs WHERE request_id = ",
            jobs::COLUMNS
        ));
        sql.text(&req.request_id);
        if let Some(row) = sql.query().fetch_optional(&mut *conn).await? {
            return Ok(Some(jobs::from_row(&row)?));
        }
    }
    Ok(None)
}

async fn check_artifact_exists(
    conn: &mut AnyConnection,
    req: &EnqueueJobRequest,
    prefix: &str,
) -> Result<()> {
    use vigil_proto::catalog::v1::job_params::Params;
    let (field, id) = match req.params.as_ref().and_then(|p| p.params.as_ref()) {
        Some(Params::Restore(r)) => ("params.restore.artifact", &r.artifact),
        Some(Params::Verify(p)) if !p.artifact.is_empty() => {
            ("params.verify.artifact", &p.artifact)
        }
        _ => return Ok(()),
    };
    let mut sql = Sql::new("SELECT id FROM artifacts WHERE id = ");
    sql.text(id);
    if sql.query().fetch_optional(&mut *conn).await?.is_none() {
        return Err(Error::not_found_at(
            format!("{prefix}{field}"),
            "artifact",
            id,
        ));
    }
    Ok(())
}

impl Store {
    /// Queues a manual job.
    pub async fn create_job(
        &self,
        req: &CreateJobRequest,
        trace_context: HashMap<String, String>,
    ) -> Result<BackupJob> {
        if !matches!(
            JobKind::try_from(req.kind),
            Ok(JobKind::Backup | JobKind::Restore | JobKind::Verify | JobKind::Prune)
        ) {
            return Err(Error::invalid(
                "kind",
                "must be BACKUP, RESTORE, VERIFY or PRUNE",
            ));
        }
        let enqueue = EnqueueJobRequest {
            configuration: req.configuration.clone(),
            kind: req.kind,
            trigger: JobTrigger::Manual as i32,
            params: req.params.clone(),
            request_id: req.request_id.clone(),
            ..Default::default()
        };
        Ok(self.enqueue_job(&enqueue, trace_context).await?.job)
    }

    /// Queues a job, or returns the job already queued under the same key.
    pub async fn enqueue_job(
        &self,
        req: &EnqueueJobRequest,
        trace_context: HashMap<String, String>,
    ) -> Result<EnqueueOutcome> {
        let mut v = Checker::new();
        check_enqueue(&mut v, "", req);
        v.finish()?;
        let mut tx = self.db.begin().await?;
        let result = self.enqueue_in(&mut tx, req, "", &trace_context).await;
        let outcome = Db::finish(tx, result).await?;
        if outcome.created {
            self.events.publish([self.event(
                EventKind::JobQueued,
                &outcome.job.configuration,
                &outcome.job.id,
            )]);
        }
        Ok(outcome)
    }

    /// Enqueues inside the caller's transaction; `req` must have passed `check_enqueue`.
    pub(crate) async fn enqueue_in(
        &self,
        conn: &mut AnyConnection,
        req: &EnqueueJobRequest,
        prefix: &str,
        trace_context: &HashMap<String, String>,
    ) -> Result<EnqueueOutcome> {
        let mut req = req.clone();
        req.trigger = effective_trigger(&req).unwrap_or(JobTrigger::Manual) as i32;
        if let Some(job) = find_by_key(conn, &req).await? {
            return Ok(EnqueueOutcome {
                job,
                created: false,
            });
        }
        let config = if req.configuration.is_empty() {
            None
        } else {
            let found = configurations::find(conn, &req.configuration).await?;
            Some(found.ok_or_else(|| {
                Error::not_found_at(
                    format!("{prefix}configuration"),
                    "configuration",
                    &req.configuration,
                )
            })?)
        };
        check_artifact_exists(conn, &req, prefix).await?;
        let caps = required_capabilities(&req, config.as_ref());
        let now = self.now();
        let due = req.due_time.as_ref().map(vigil_proto::timestamp_to_micros);
        let base = base_name(&req, config.as_ref(), due.unwrap_or(now));
        let backup_kind = config.as_ref().map(|c| c.kind).unwrap_or_default();
        // A lost race on a unique key is retried: the key that won is found above.
        for _ in 0..8 {
            let name = next_name(conn, &base).await?;
            let id = uuid::Uuid::now_v7().to_string();
            let mut sql = Sql::new(&format!("INSERT INTO jobs ({}) VALUES ", jobs::COLUMNS));
            NewJob {
                id: &id,
                name: &name,
                req: &req,
                backup_kind,
                caps: &caps,
                now,
                trace_context,
            }
            .push_values(&mut sql);
            sql.push(" ON CONFLICT DO NOTHING");
            if sql.query().execute(&mut *conn).await?.rows_affected() == 0 {
                if let Some(job) = find_by_key(conn, &req).await? {
                    return Ok(EnqueueOutcome {
                        job,
                        created: false,
                    });
                }
                continue;
            }
            for cap in &caps {
                let mut sql =
                    Sql::new("INSERT INTO job_capabilities (job_id, capability) VALUES (");
                sql.text(&id).push(", ").text(cap).push(")");
                sql.query().execute(&mut *conn).await?;
            }
            let job = jobs::find(conn, &id, "")
                .await?
                .ok_or_else(|| Error::Internal("inserted job vanished".into()))?;
            return Ok(EnqueueOutcome { job, created: true });
        }
        Err(Error::Internal(format!(
            "could not find a free job name for {base}"
        )))
    }
}

/// The next free name of a base: the base itself first, then `base_2`,
/// `base_3` and so on, from a counter row per base.
async fn next_name(conn: &mut AnyConnection, base: &str) -> Result<String> {
    let mut counter = Sql::new("INSERT INTO job_name_counters (base, n) VALUES (");
    counter
        .text(base)
        .push(", 1) ON CONFLICT (base) DO UPDATE SET n = job_name_counters.n + 1 RETURNING n");
    let n = counter.query().fetch_one(&mut *conn).await?.int("n")?;
    Ok(if n <= 1 {
        base.to_owned()
    } else {
        format!("{base}_{n}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_proto::catalog::v1::{BackupKind, Schedule};

    #[test]
    fn names_use_the_configuration_time_zone() {
        let req = EnqueueJobRequest {
            configuration: "daily_full_backup".into(),
            ..Default::default()
        };
        let config = BackupConfiguration {
            kind: BackupKind::Full as i32,
            schedule: Some(Schedule {
                timezone: "Europe/Berlin".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        // 2025-12-20T21:23:05Z is 22:23:05 in Berlin.
        let at = 1_766_265_785_000_000;
        assert_eq!(
            base_name(&req, Some(&config), at),
            "daily_full_backup_20251220_222305"
        );
        assert_eq!(
            base_name(&req, None, at),
            "daily_full_backup_20251220_212305"
        );
    }

    #[test]
    fn scheduled_jobs_need_a_key() {
        let mut v = Checker::new();
        let req = EnqueueJobRequest {
            configuration: "x".into(),
            kind: JobKind::Backup as i32,
            trigger: JobTrigger::Scheduled as i32,
            ..Default::default()
        };
        check_enqueue(&mut v, "", &req);
        let msg = v.finish().unwrap_err().to_string();
        assert!(msg.contains("schedule: is required"), "{msg}");
        assert!(msg.contains("due_time: is required"), "{msg}");
    }

    #[test]
    fn restore_into_a_database_needs_the_engine() {
        use vigil_proto::catalog::v1::{JobParams, RestoreParams, job_params::Params};
        let req = EnqueueJobRequest {
            kind: JobKind::Restore as i32,
            params: Some(JobParams {
                params: Some(Params::Restore(RestoreParams {
                    artifact: "a".into(),
                    database_url: "sqlite:///tmp/x.db".into(),
                    ..Default::default()
                })),
            }),
            ..Default::default()
        };
        assert_eq!(
            required_capabilities(&req, None),
            vec!["engine:sqlite", "restore"]
        );
    }
}
