//! Retention of the catalog's own history: finished jobs and schedule
//! outcomes older than `history_retention` are deleted in bounded chunks.
//! Never deleted: each configuration's newest COMPLETED job of each kind (so
//! the status report still knows the last success and the last prune), and
//! any job an artifact still references. The triggers of migration 0012
//! take deleted jobs out of `job_counts`; rows left at zero are deleted here.

use vigil_proto::catalog::v1::JobState;

use super::Store;
use crate::db::Sql;
use crate::error::Result;

/// Rows deleted per statement, so no transaction holds the catalog long.
const CHUNK: i64 = 1000;

/// What one pruning pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryPruned {
    /// Finished jobs deleted.
    pub jobs: u64,
    /// Schedule outcome rows deleted.
    pub outcomes: u64,
}

impl Store {
    /// Deletes history older than `history_retention`; see the module docs.
    pub async fn prune_history(&self) -> Result<HistoryPruned> {
        let keep = i64::try_from(self.lifetimes.history_retention.as_micros()).unwrap_or(i64::MAX);
        let cutoff = self.now().saturating_sub(keep);
        let mut pruned = HistoryPruned::default();
        loop {
            let n = self.prune_jobs_chunk(cutoff).await?;
            pruned.jobs += n;
            if n < CHUNK as u64 {
                break;
            }
        }
        loop {
            let mut sql = Sql::new(
                "DELETE FROM schedule_outcomes WHERE (schedule, due_time) IN \
                 (SELECT schedule, due_time FROM schedule_outcomes WHERE due_time < ",
            );
            sql.int(cutoff)
                .push(" AND COALESCE(last_due_time, due_time) < ")
                .int(cutoff)
                .push(" LIMIT ")
                .int(CHUNK)
                .push(")");
            let n = sql.query().execute(self.db.writer()).await?.rows_affected();
            pruned.outcomes += n;
            if n < CHUNK as u64 {
                break;
            }
        }
        if pruned.jobs > 0 {
            // Name counters of bases no job carries any more.
            Sql::new(
                "DELETE FROM job_name_counters WHERE NOT EXISTS \
                 (SELECT 1 FROM jobs WHERE jobs.name = job_name_counters.base)",
            )
            .query()
            .execute(self.db.writer())
            .await?;
            // Hours whose finished jobs are all gone count nothing any more.
            Sql::new("DELETE FROM job_counts WHERE n = 0 AND bytes_read = 0 AND lost = 0")
                .query()
                .execute(self.db.writer())
                .await?;
        }
        Ok(pruned)
    }

    async fn prune_jobs_chunk(&self, cutoff: i64) -> Result<u64> {
        let completed = JobState::Completed as i64;
        let mut sql =
            Sql::new("DELETE FROM jobs WHERE id IN (SELECT j.id FROM jobs j WHERE j.state IN (");
        sql.int(completed)
            .push(", ")
            .int(JobState::Failed as i64)
            .push(", ")
            .int(JobState::Cancelled as i64);
        sql.push(") AND COALESCE(j.end_time, j.update_time) < ")
            .int(cutoff);
        sql.push(" AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.job = j.id)");
        sql.push(" AND NOT (j.state = ").int(completed);
        sql.push(
            " AND j.create_time = (SELECT MAX(n.create_time) FROM jobs n \
             WHERE n.configuration = j.configuration AND n.kind = j.kind AND n.state = ",
        )
        .int(completed)
        .push("))");
        sql.push(" ORDER BY j.create_time LIMIT ")
            .int(CHUNK)
            .push(")");
        Ok(sql.query().execute(self.db.writer()).await?.rows_affected())
    }
}
