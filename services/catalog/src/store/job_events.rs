//! Each job's event log: phases with their durations, warnings and files that
//! could not be read, appended by the lease holder in batches and read by
//! anyone with the viewer role.
//!
//! The log is bounded (J1): at most [`MAX_JOB_EVENTS`] entries per job, of
//! which warnings and skipped files take at most [`MAX_JOB_WARNINGS`], so a
//! backup with ten thousand unreadable files still shows its phases. What
//! does not fit is counted in `jobs.events_omitted`. Messages are cut to
//! [`MAX_EVENT_MESSAGE`] characters, control characters are replaced and
//! secrets scrubbed before anything is stored. The rows go with their job
//! (`ON DELETE CASCADE`), so history retention removes them too.

use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use vigil_proto::catalog::v1::{
    AppendJobEventsRequest, AppendJobEventsResponse, BackupJob, EventKind, JobEvent, JobEventKind,
    ListJobEventsRequest, ListJobEventsResponse,
};
use vigil_proto::{duration_from_proto, duration_to_proto, timestamp_from_micros};

use super::holder::{check_holder, held};
use super::{Store, jobs};
use crate::db::{Db, RowExt, Sql, u64_from_db, u64_to_db};
use crate::error::{Error, Result};
use crate::page::Page;
use crate::redact::redact_secrets;
use crate::validate::Checker;

/// Most entries kept per job.
pub const MAX_JOB_EVENTS: i64 = 1000;
/// Most warnings and skipped files kept per job, leaving room for phases.
pub const MAX_JOB_WARNINGS: i64 = 900;
/// Most entries in one `AppendJobEvents` call.
pub const MAX_APPEND_BATCH: usize = 500;
/// Longest message kept, in characters; longer ones are cut.
pub const MAX_EVENT_MESSAGE: usize = 1000;
/// Longest path kept, in characters.
const MAX_EVENT_PATH: usize = 4096;
/// Longest phase name kept, in characters.
const MAX_EVENT_PHASE: usize = 100;
/// Longest wait a reader may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting reader looks again without a notification, to see
/// entries written through another catalog replica.
const POLL: Duration = Duration::from_secs(2);

const COLUMNS: &str = "seq, event_time, kind, phase, path, message, duration_micros, attempt";

/// Whether an entry counts against [`MAX_JOB_WARNINGS`].
fn is_warning(kind: i32) -> bool {
    kind == JobEventKind::Warning as i32 || kind == JobEventKind::FileSkipped as i32
}

/// `text` scrubbed of secrets, with control characters replaced and cut to `max` characters.
fn clean(text: &str, max: usize) -> String {
    let scrubbed = redact_secrets(text);
    let mut out: String = scrubbed
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(max)
        .collect();
    if scrubbed.chars().count() > max {
        out.push('…');
    }
    out
}

fn check_append(req: &AppendJobEventsRequest) -> Result<()> {
    check_holder(&req.job_id, &req.executor_id, &req.lease_token)?;
    let mut v = Checker::new();
    if req.events.len() > MAX_APPEND_BATCH {
        v.add(
            "events",
            format!("at most {MAX_APPEND_BATCH} entries per call"),
        );
    }
    for (i, e) in req.events.iter().enumerate() {
        match JobEventKind::try_from(e.kind) {
            Ok(JobEventKind::Unspecified) => v.add(format!("events[{i}].kind"), "must be set"),
            Err(_) => v.add(
                format!("events[{i}].kind"),
                format!("unknown value {}", e.kind),
            ),
            Ok(_) => {}
        }
        if e.duration
            .as_ref()
            .is_some_and(|d| duration_from_proto(d).is_none())
        {
            v.add(format!("events[{i}].duration"), "must not be negative");
        }
        if e.event_time
            .as_ref()
            .is_some_and(|t| vigil_proto::timestamp_out_of_range(t).is_some())
        {
            v.add(format!("events[{i}].event_time"), "is out of range");
        }
    }
    v.finish()
}

/// How many entries, and how many warnings, the job's log holds, and its last sequence.
async fn log_size(conn: &mut AnyConnection, job_id: &str) -> Result<(i64, i64, i64)> {
    let mut sql = Sql::new(
        "SELECT COUNT(*) AS n, COALESCE(MAX(seq), 0) AS last, COALESCE(SUM(CASE WHEN kind IN (",
    );
    sql.int(JobEventKind::Warning as i64)
        .push(", ")
        .int(JobEventKind::FileSkipped as i64)
        .push(") THEN 1 ELSE 0 END), 0) AS warnings FROM job_events WHERE job_id = ")
        .text(job_id);
    let row = sql.query().fetch_one(&mut *conn).await?;
    Ok((row.int("n")?, row.int("warnings")?, row.int("last")?))
}

fn from_row(row: &AnyRow) -> Result<JobEvent> {
    Ok(JobEvent {
        sequence: row.int("seq")?,
        event_time: Some(timestamp_from_micros(row.int("event_time")?)),
        kind: row.int("kind")? as i32,
        phase: row.text("phase")?,
        path: row.text("path")?,
        message: row.text("message")?,
        duration: row
            .opt_int("duration_micros")?
            .map(|m| duration_to_proto(Duration::from_micros(u64::try_from(m).unwrap_or(0)))),
        attempt: u32::try_from(row.int("attempt")?).unwrap_or(0),
    })
}

async fn omitted(conn: &mut AnyConnection, job_id: &str) -> Result<u64> {
    let mut sql = Sql::new("SELECT events_omitted FROM jobs WHERE id = ");
    sql.text(job_id);
    let row = sql.query().fetch_optional(&mut *conn).await?;
    Ok(match row {
        Some(r) => u64_from_db(r.int("events_omitted")?),
        None => 0,
    })
}

/// Stores one entry as number `seq` of the job's log, cleaned and cut to
/// its bounds, under the job's current attempt.
async fn insert_event(
    conn: &mut AnyConnection,
    job: &BackupJob,
    seq: i64,
    e: &JobEvent,
    now: i64,
) -> Result<()> {
    let time = e
        .event_time
        .as_ref()
        .map(vigil_proto::timestamp_to_micros)
        .unwrap_or(now);
    let duration = e
        .duration
        .as_ref()
        .and_then(duration_from_proto)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let mut sql = Sql::new(&format!(
        "INSERT INTO job_events ({COLUMNS}, job_id) VALUES ("
    ));
    sql.int(seq)
        .push(", ")
        .int(time)
        .push(", ")
        .int(i64::from(e.kind))
        .push(", ")
        .text(clean(&e.phase, MAX_EVENT_PHASE))
        .push(", ")
        .text(clean(&e.path, MAX_EVENT_PATH))
        .push(", ")
        .text(clean(&e.message, MAX_EVENT_MESSAGE))
        .push(", ")
        .int(duration)
        .push(", ")
        .int(i64::from(job.attempt))
        .push(", ")
        .text(&job.id)
        .push(")");
    sql.query().execute(&mut *conn).await?;
    Ok(())
}

impl Store {
    /// Appends entries to the log of a job the caller holds; see the module docs.
    pub async fn append_job_events(
        &self,
        req: &AppendJobEventsRequest,
    ) -> Result<AppendJobEventsResponse> {
        check_append(req)?;
        let mut tx = self.db.begin().await?;
        let result: Result<(AppendJobEventsResponse, String)> = async {
            let job = held(
                self,
                &mut tx,
                &req.job_id,
                &req.executor_id,
                &req.lease_token,
            )
            .await?;
            let (mut count, mut warnings, mut last) = log_size(&mut tx, &job.id).await?;
            let now = self.now();
            let mut stored = 0u32;
            let mut dropped = req.omitted_count;
            for e in &req.events {
                let warning = is_warning(e.kind);
                if count >= MAX_JOB_EVENTS || (warning && warnings >= MAX_JOB_WARNINGS) {
                    dropped = dropped.saturating_add(1);
                    continue;
                }
                last += 1;
                count += 1;
                warnings += i64::from(warning);
                stored += 1;
                insert_event(&mut tx, &job, last, e, now).await?;
            }
            if dropped > 0 {
                let mut sql = Sql::new("UPDATE jobs SET events_omitted = events_omitted + ");
                sql.int(u64_to_db(dropped))
                    .push(" WHERE id = ")
                    .text(&job.id);
                sql.query().execute(&mut *tx).await?;
            }
            let omitted_count = omitted(&mut tx, &job.id).await?;
            Ok((
                AppendJobEventsResponse {
                    stored,
                    omitted_count,
                },
                job.configuration,
            ))
        }
        .await;
        let (response, configuration) = Db::finish(tx, result).await?;
        if response.stored > 0 {
            // Readers waiting on the log (ListJobEvents with a wait) wake up.
            self.events
                .publish([self.event(EventKind::JobChanged, &configuration, &req.job_id)]);
        }
        Ok(response)
    }

    /// One page of a job's log, oldest first; with a wait, an empty page
    /// waits for the next entry or the job's end.
    pub async fn list_job_events(
        &self,
        req: &ListJobEventsRequest,
    ) -> Result<ListJobEventsResponse> {
        jobs::check_job_id("job", &req.job)?;
        let page = Page::parse("job_events", req.page_size, &req.page_token)?;
        if req.after_sequence < 0 {
            return Err(Error::invalid("after_sequence", "must not be negative"));
        }
        let wait = match &req.wait {
            None => Duration::ZERO,
            Some(d) => {
                let d = duration_from_proto(d)
                    .ok_or_else(|| Error::invalid("wait", "must not be negative"))?;
                if d > MAX_WAIT {
                    return Err(Error::invalid(
                        "wait",
                        format!("must be at most {}s", MAX_WAIT.as_secs()),
                    ));
                }
                d
            }
        };
        let job = self.get_job(&req.job).await?;
        let after = match &page.after {
            Some(cursor) if cursor.key != job.id => {
                return Err(Error::invalid(
                    "page_token",
                    "belongs to the log of another job",
                ));
            }
            Some(cursor) => cursor.time,
            None => req.after_sequence,
        };
        // Subscribe before the first read so no entry falls in between.
        let mut changes = self.events().subscribe();
        let closing = self.events().closing();
        let deadline = tokio::time::Instant::now() + wait;
        let mut give_up = false;
        loop {
            let mut conn = self.db.pool().acquire().await?;
            let state = jobs::find(&mut conn, &job.id, "")
                .await?
                .map(|j| j.state)
                .unwrap_or(job.state);
            let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM job_events WHERE job_id = "));
            sql.text(&job.id)
                .push(" AND seq > ")
                .int(after)
                .push(" ORDER BY seq LIMIT ")
                .int(page.limit());
            let rows = sql.query().fetch_all(&mut *conn).await?;
            let events = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
            let omitted_count = omitted(&mut conn, &job.id).await?;
            drop(conn);
            if give_up
                || !events.is_empty()
                || jobs::is_final(state)
                || tokio::time::Instant::now() >= deadline
            {
                let id = job.id.clone();
                let (events, next_page_token) = page.finish(events, |e| (id.clone(), e.sequence));
                return Ok(ListJobEventsResponse {
                    events,
                    next_page_token,
                    job_state: state,
                    omitted_count,
                });
            }
            tokio::select! {
                _ = wait_for_change(&mut changes, &job.id) => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = tokio::time::sleep_until(deadline) => {}
                // A server going down answers with what there is.
                _ = closing.cancelled() => give_up = true,
            }
        }
    }
}

/// Returns once an event about `job_id` is published (or events were lost).
async fn wait_for_change(
    changes: &mut tokio::sync::broadcast::Receiver<crate::events::Event>,
    job_id: &str,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match changes.recv().await {
            Ok(e) if e.id == job_id => return,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return,
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}
