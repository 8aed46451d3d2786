//! `SummarizeHistory`: the status report's aggregate questions answered by
//! the catalog itself, each from an index (migration 0004), so a report over
//! thousands of configurations and a long history never pages through it.

use vigil_proto::catalog::v1::{
    ArtifactState, ArtifactTotal, BackupJob, JobCount, JobState, OutcomeKind, ScheduleOutcome,
    SummarizeHistoryRequest, SummarizeHistoryResponse,
};
use vigil_proto::{timestamp_from_micros, timestamp_to_micros};

use super::Store;
use super::jobs::{self, COLUMNS};
use super::reclaim::EXECUTOR_LOST;
use super::schedules::{OUTCOME_COLUMNS, outcome_from_row};
use crate::db::{Dialect, RowExt, Sql, u64_from_db};
use crate::error::{Error, Result};

/// Most active jobs listed.
const MAX_ACTIVE: i64 = 1000;
/// Most failed jobs listed.
const MAX_FAILED: i64 = 100;
/// Newest jobs listed when the request leaves the count at zero.
const DEFAULT_NEWEST: i64 = 100;
/// Most newest jobs listed.
const MAX_NEWEST: i64 = 1000;
/// Most MISSED outcomes listed.
const MAX_MISSED: i64 = 500;
/// The width of a `job_counts` bucket: an hour, in microseconds.
const HOUR: i64 = 3_600_000_000;

/// The newest creation time of a `completed` job per configuration and
/// kind, for PostgreSQL, which has no skip scan: its `GROUP BY` reads every
/// completed job (about 30 ms at 100,000), while this walks the distinct
/// (configuration, kind) pairs of the partial index `jobs_completed`
/// one probe each and takes each pair's newest from the same index.
fn newest_completed_by_skip_scan(completed: i32) -> String {
    format!(
        "(WITH RECURSIVE pairs (configuration, kind) AS (\
         (SELECT configuration, kind FROM jobs WHERE state = {completed} \
         ORDER BY configuration, kind LIMIT 1) \
         UNION ALL SELECT n.configuration, n.kind FROM pairs p CROSS JOIN LATERAL \
         (SELECT configuration, kind FROM jobs WHERE state = {completed} \
         AND (configuration, kind) > (p.configuration, p.kind) \
         ORDER BY configuration, kind LIMIT 1) n) \
         SELECT p.configuration, p.kind, (SELECT MAX(x.create_time) FROM jobs x \
         WHERE x.configuration = p.configuration AND x.kind = p.kind \
         AND x.state = {completed}) AS newest FROM pairs p)"
    )
}

impl Store {
    /// Summarises the job history and the artifacts; see the module docs.
    pub async fn summarize_history(
        &self,
        req: &SummarizeHistoryRequest,
    ) -> Result<SummarizeHistoryResponse> {
        let newest = match req.newest_count {
            n if n < 0 => return Err(Error::invalid("newest_count", "must not be negative")),
            0 => DEFAULT_NEWEST,
            n => i64::from(n).min(MAX_NEWEST),
        };
        let since = req.since.as_ref().map(timestamp_to_micros).unwrap_or(0);
        let (queued, running, failed) = (
            JobState::Queued as i32,
            JobState::Running as i32,
            JobState::Failed as i32,
        );
        let in_window = format!("create_time >= {since}");
        let active = format!("state IN ({queued}, {running})");
        let failed = format!("state = {failed} AND create_time >= {since}");
        let (
            job_counts,
            newest_completed,
            newest_jobs,
            active_jobs,
            failed_jobs,
            artifact_totals,
            missed_outcomes,
        ) = tokio::try_join!(
            self.job_counts(since),
            self.newest_completed(),
            self.jobs_where(&in_window, "DESC", newest),
            self.jobs_where(&active, "ASC", MAX_ACTIVE),
            self.jobs_where(&failed, "DESC", MAX_FAILED),
            self.artifact_totals(),
            self.missed_since(since),
        )?;
        Ok(SummarizeHistoryResponse {
            job_counts,
            newest_completed,
            newest_jobs,
            active_jobs,
            failed_jobs,
            artifact_totals,
            missed_outcomes,
        })
    }

    /// Jobs created at or after `since` by kind, state and trigger: the
    /// finished ones of whole hours from `job_counts` (migration 0012, kept
    /// by triggers), the rest (the hour `since` falls in, and every QUEUED or
    /// RUNNING job) counted from the jobs themselves, through their indexes
    /// on creation time (`jobs_newest`) and on state (`jobs_queue`).
    async fn job_counts(&self, since: i64) -> Result<Vec<JobCount>> {
        let since = since.max(0);
        let first_hour = since.saturating_add(HOUR - 1) / HOUR;
        let finished = format!(
            "{}, {}, {}",
            JobState::Completed as i32,
            JobState::Failed as i32,
            JobState::Cancelled as i32
        );
        let unfinished = format!(
            "{}, {}, {}",
            JobState::Unspecified as i32,
            JobState::Queued as i32,
            JobState::Running as i32
        );
        let pattern = format!("%{EXECUTOR_LOST}%");
        let direct = |sql: &mut Sql| {
            sql.push(" UNION ALL SELECT kind, state, job_trigger, 1 AS n, bytes_read, ")
                .push("CASE WHEN attempt > 1 OR error LIKE ")
                .text(pattern.as_str())
                .push(" THEN 1 ELSE 0 END AS lost FROM jobs WHERE ");
        };
        let mut sql = Sql::new(
            "SELECT kind, state, job_trigger, CAST(SUM(n) AS BIGINT) AS n, \
             CAST(SUM(bytes_read) AS BIGINT) AS bytes, CAST(SUM(lost) AS BIGINT) AS lost FROM (\
             SELECT kind, state, job_trigger, n, bytes_read, lost FROM job_counts WHERE hour >= ",
        );
        sql.int(first_hour);
        direct(&mut sql);
        sql.push("create_time >= ")
            .int(since)
            .push(" AND create_time < ")
            .int(first_hour.saturating_mul(HOUR))
            .push(&format!(" AND state IN ({finished})"));
        direct(&mut sql);
        sql.push(&format!("state IN ({unfinished}) AND create_time >= "))
            .int(since)
            .push(") c GROUP BY kind, state, job_trigger HAVING SUM(n) <> 0");
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(JobCount {
                    kind: r.int("kind")? as i32,
                    state: r.int("state")? as i32,
                    trigger: r.int("job_trigger")? as i32,
                    count: u64_from_db(r.int("n")?),
                    bytes_read: u64_from_db(r.int("bytes")?),
                    lease_expiries: u64_from_db(r.int("lost")?),
                })
            })
            .collect()
    }

    /// The newest COMPLETED job of each configuration and kind.
    async fn newest_completed(&self) -> Result<Vec<BackupJob>> {
        let completed = JobState::Completed as i32;
        let columns: Vec<String> = COLUMNS
            .split(',')
            .map(|c| format!("j.{}", c.trim()))
            .collect();
        let newest = match self.db.dialect() {
            Dialect::Sqlite => format!(
                "(SELECT configuration, kind, MAX(create_time) AS newest \
                 FROM jobs WHERE state = {completed} GROUP BY configuration, kind)"
            ),
            Dialect::Postgres => newest_completed_by_skip_scan(completed),
        };
        let sql = Sql::new(&format!(
            "SELECT {} FROM jobs j JOIN {newest} m \
             ON j.configuration = m.configuration AND j.kind = m.kind \
             AND j.create_time = m.newest AND j.state = {completed} \
             ORDER BY j.configuration, j.kind, j.id",
            columns.join(", ")
        ));
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        let mut out: Vec<BackupJob> = Vec::with_capacity(rows.len());
        for row in &rows {
            let job = jobs::from_row(row)?;
            // Two completions in the same microsecond: keep one.
            if out
                .last()
                .is_some_and(|p| p.configuration == job.configuration && p.kind == job.kind)
            {
                continue;
            }
            out.push(job);
        }
        Ok(out)
    }

    /// Jobs matching `filter` (built here from integers only), by creation
    /// time in `order`, at most `limit`.
    async fn jobs_where(&self, filter: &str, order: &str, limit: i64) -> Result<Vec<BackupJob>> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE {filter} ORDER BY create_time {order}, id {order} LIMIT "
        ));
        sql.int(limit);
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        rows.iter().map(jobs::from_row).collect()
    }

    /// MISSED outcomes whose last due time is at or after `since`, newest
    /// first, from the index of migration 0008 (the expression must match it).
    async fn missed_since(&self, since: i64) -> Result<Vec<ScheduleOutcome>> {
        let end = "COALESCE(last_due_time, due_time)";
        let mut sql = Sql::new(&format!(
            "SELECT {OUTCOME_COLUMNS} FROM schedule_outcomes WHERE outcome = "
        ));
        sql.int(OutcomeKind::Missed as i64)
            .push(&format!(" AND {end} >= "))
            .int(since)
            .push(&format!(" ORDER BY {end} DESC, schedule LIMIT "))
            .int(MAX_MISSED);
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        rows.iter().map(outcome_from_row).collect()
    }

    async fn artifact_totals(&self) -> Result<Vec<ArtifactTotal>> {
        let mut sql = Sql::new(
            "SELECT configuration, COUNT(*) AS n, MIN(create_time) AS oldest, \
             CAST(COALESCE(SUM(stored_bytes), 0) AS BIGINT) AS bytes FROM artifacts WHERE state <> ",
        );
        sql.int(ArtifactState::Pruned as i64)
            .push(" GROUP BY configuration ORDER BY configuration");
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(ArtifactTotal {
                    configuration: r.text("configuration")?,
                    count: u64_from_db(r.int("n")?),
                    oldest_create_time: r.opt_int("oldest")?.map(timestamp_from_micros),
                    stored_bytes: u64_from_db(r.int("bytes")?),
                })
            })
            .collect()
    }
}
