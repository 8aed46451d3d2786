//! Jobs as history: reading, listing and cancelling.
//!
//! A job row is both a queue entry and a history record. The queue side
//! (enqueue, lease, heartbeat, complete, fail, reclaim) lives in `queue` and
//! `lease`.

use std::collections::HashMap;

use prost::Message;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use vigil_proto::catalog::v1::{
    BackupJob, EventKind, JobKind, JobState, ListJobsRequest, ListJobsResponse,
};
use vigil_proto::timestamp_from_micros;

use super::Store;
use crate::db::{Db, RowExt, Sql};
use crate::error::{Error, Result};
use crate::page::Page;
use crate::validate::{Checker, check_key};

/// Columns of a job, in the order `from_row` reads them.
pub(crate) const COLUMNS: &str = "id, name, configuration, kind, job_trigger, state, backup_kind, \
     schedule, due_time, request_id, create_time, update_time, start_time, end_time, lease_owner, \
     lease_expire_time, attempt, max_attempts, cancel_requested, error, artifact, capabilities, \
     params, progress, stats, warnings, trace_context";

fn decode_opt<M: Message + Default>(bytes: Vec<u8>, what: &str) -> Result<Option<M>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    M::decode(bytes.as_slice())
        .map(Some)
        .map_err(|e| Error::Internal(format!("stored job {what} does not decode: {e}")))
}

fn json<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

/// A job row as an API message.
pub(crate) fn from_row(row: &AnyRow) -> Result<BackupJob> {
    let ts = |col: &str| -> Result<_> { Ok(row.opt_int(col)?.map(timestamp_from_micros)) };
    Ok(BackupJob {
        id: row.text("id")?,
        name: row.text("name")?,
        configuration: row.text("configuration")?,
        kind: row.int("kind")? as i32,
        trigger: row.int("job_trigger")? as i32,
        state: row.int("state")? as i32,
        backup_kind: row.int("backup_kind")? as i32,
        due_time: ts("due_time")?,
        create_time: ts("create_time")?,
        start_time: ts("start_time")?,
        end_time: ts("end_time")?,
        lease_owner: row.text_or_empty("lease_owner")?,
        lease_expire_time: ts("lease_expire_time")?,
        attempt: row.int("attempt")? as u32,
        max_attempts: row.int("max_attempts")? as u32,
        progress: decode_opt(row.blob("progress")?, "progress")?,
        error: row.text("error")?,
        stats: decode_opt(row.blob("stats")?, "stats")?,
        warnings: json::<Vec<String>>(&row.text("warnings")?),
        params: decode_opt(row.blob("params")?, "params")?,
        artifact: row.text_or_empty("artifact")?,
        cancel_requested: row.flag("cancel_requested")?,
        required_capabilities: json::<Vec<String>>(&row.text("capabilities")?),
        trace_context: json::<HashMap<String, String>>(&row.text("trace_context")?),
    })
}

/// Whether a job state is final.
pub fn is_final(state: i32) -> bool {
    matches!(
        JobState::try_from(state),
        Ok(JobState::Completed | JobState::Failed | JobState::Cancelled)
    )
}

/// The job with this id or readable name, locking it when `lock` is given.
pub(crate) async fn find(
    conn: &mut AnyConnection,
    id_or_name: &str,
    lock: &str,
) -> Result<Option<BackupJob>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM jobs WHERE id = "));
    sql.text(id_or_name)
        .push(" OR name = ")
        .text(id_or_name)
        .push(lock);
    let row = sql.query().fetch_optional(&mut *conn).await?;
    row.as_ref().map(from_row).transpose()
}

pub(crate) fn check_job_id(field: &str, id: &str) -> Result<()> {
    let mut v = Checker::new();
    check_key(&mut v, field, id, 200);
    v.finish()
}

impl Store {
    /// The job with this id or readable name.
    pub async fn get_job(&self, id_or_name: &str) -> Result<BackupJob> {
        check_job_id("id", id_or_name)?;
        let mut conn = self.db.pool().acquire().await?;
        find(&mut conn, id_or_name, "")
            .await?
            .ok_or_else(|| Error::not_found("job", id_or_name))
    }

    /// One page of jobs, newest first.
    pub async fn list_jobs(&self, req: &ListJobsRequest) -> Result<ListJobsResponse> {
        let page = Page::parse("jobs", req.page_size, &req.page_token)?;
        let mut v = Checker::new();
        for (i, s) in req.states.iter().enumerate() {
            if JobState::try_from(*s).is_err() {
                v.add(format!("states[{i}]"), format!("unknown value {s}"));
            }
        }
        if JobKind::try_from(req.kind).is_err() {
            v.add("kind", format!("unknown value {}", req.kind));
        }
        v.finish()?;
        let collate = self.db.dialect().collate_c();
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM jobs WHERE 1 = 1"));
        if !req.configuration.is_empty() {
            sql.push(" AND configuration = ").text(&req.configuration);
        }
        if !req.states.is_empty() {
            sql.push(" AND state IN (")
                .int_list(req.states.iter().map(|s| i64::from(*s)))
                .push(")");
        }
        if req.kind != JobKind::Unspecified as i32 {
            sql.push(" AND kind = ").int(i64::from(req.kind));
        }
        if let Some(after) = &page.after {
            sql.push(" AND (create_time < ").int(after.time);
            sql.push(" OR (create_time = ").int(after.time);
            sql.push(&format!(" AND id{collate} < "))
                .text(&after.key)
                .push("))");
        }
        sql.push(&format!(
            " ORDER BY create_time DESC, id{collate} DESC LIMIT "
        ))
        .int(page.limit());
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        let jobs = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        let (jobs, next_page_token) = page.finish(jobs, |j| {
            (
                j.id.clone(),
                j.create_time
                    .as_ref()
                    .map(vigil_proto::timestamp_to_micros)
                    .unwrap_or(0),
            )
        });
        Ok(ListJobsResponse {
            jobs,
            next_page_token,
        })
    }

    /// Cancels a queued job at once, or asks a running one to stop.
    pub async fn cancel_job(&self, id_or_name: &str) -> Result<BackupJob> {
        check_job_id("id", id_or_name)?;
        let mut tx = self.db.begin().await?;
        let result: Result<(BackupJob, bool)> = async {
            let lock = self.db.dialect().for_update();
            let job = find(&mut tx, id_or_name, lock)
                .await?
                .ok_or_else(|| Error::not_found("job", id_or_name))?;
            let now = self.now();
            let mut sql = match JobState::try_from(job.state) {
                Ok(JobState::Queued) => {
                    let mut sql = Sql::new("UPDATE jobs SET state = ");
                    sql.int(JobState::Cancelled as i64)
                        .push(", end_time = ")
                        .int(now);
                    sql.push(", error = ").text("cancelled before it started");
                    sql
                }
                Ok(JobState::Running) if !job.cancel_requested => {
                    Sql::new("UPDATE jobs SET cancel_requested = 1")
                }
                Ok(JobState::Running | JobState::Cancelled) => return Ok((job, false)),
                _ => {
                    let state = JobState::try_from(job.state)
                        .map(|s| s.as_str_name())
                        .unwrap_or("UNKNOWN");
                    return Err(Error::FailedPrecondition(format!(
                        "id: job is already finished ({state})"
                    )));
                }
            };
            sql.push(", update_time = ").int(now);
            sql.push(" WHERE id = ")
                .text(&job.id)
                .push(&format!(" RETURNING {COLUMNS}"));
            let row = sql.query().fetch_one(&mut *tx).await?;
            Ok((from_row(&row)?, true))
        }
        .await;
        let (job, changed) = Db::finish(tx, result).await?;
        if changed {
            self.events
                .publish([self.event(EventKind::JobChanged, &job.configuration, &job.id)]);
        }
        Ok(job)
    }
}
