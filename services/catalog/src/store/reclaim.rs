//! Reclaiming expired leases, so no job stays RUNNING past its lease:
//! requeue, or FAILED with "executor lost" after the last attempt.

use vigil_proto::catalog::v1::{Alert, AlertKind, AlertSeverity, EventKind, JobState};

use super::{Store, alerts};
use crate::db::{Db, RowExt, Sql};
use crate::error::Result;

/// Error recorded on a job whose last lease expired.
pub const EXECUTOR_LOST: &str = "executor lost";

/// What a reclaim pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Jobs put back in the queue.
    pub requeued: u32,
    /// Jobs failed with "executor lost" (or cancelled, when a cancel was pending).
    pub failed: u32,
}

impl Store {
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
            requeue.push(", lease_owner = NULL, lease_token_hash = NULL, lease_expire_time = NULL");
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
