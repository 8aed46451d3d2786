//! The common completion on PostgreSQL in two round trips instead of five
//! (begin, lock, insert the artifact, update the job, commit): the job is
//! read without a lock, and one statement ends the job and records its
//! artifact. The update ends the job only if the caller still holds its
//! running lease with the token it presents, and the artifact is inserted
//! only for a job so ended. A statement is atomic: when the artifact's id is
//! already taken, the insert fails and takes the update with it.
//!
//! Whenever that path does not end the job (the lease changed after the
//! read, a wrong token, an artifact id already taken, a retried completion,
//! a completion the job cannot record), it returns `None` and the caller
//! takes the transaction of `finish.rs`, which gives the answer and the
//! error the API defines. SQLite has no data-modifying `WITH`, and no round
//! trips to save: it always takes the transaction.

use vigil_proto::catalog::v1::{Artifact, BackupJob, CompleteJobRequest, JobState};

use super::consistency::check_completion;
use super::finish::{filled_artifact, push_completion};
use super::holder::token_hash;
use super::{Store, artifacts, jobs};
use crate::db::Sql;
use crate::error::Result;

impl Store {
    /// Completes a job its caller holds in one statement; `None` when the
    /// transaction must decide (see the module docs). `req` is validated.
    pub(super) async fn complete_in_one_statement(
        &self,
        req: &CompleteJobRequest,
    ) -> Result<Option<(BackupJob, Option<Artifact>)>> {
        let mut conn = self.db.pool().acquire().await?;
        // By id only: a name (or an id that is not there) takes the
        // transaction, and an OR of two indexes is no plan to keep.
        let mut read = Sql::new(&format!("SELECT {} FROM jobs WHERE id = ", jobs::COLUMNS));
        read.text(&req.job_id);
        let Some(row) = read.query().fetch_optional(&mut *conn).await? else {
            return Ok(None);
        };
        let job = jobs::from_row(&row)?;
        if job.state != JobState::Running as i32
            || job.lease_owner != req.executor_id
            || check_completion(&job, req.artifact.as_ref()).is_err()
        {
            return Ok(None);
        }
        let now = self.now();
        let artifact = req.artifact.as_ref().map(|a| filled_artifact(a, &job, now));
        // The update comes first and locks the row as it changes it: no
        // separate row lock, and no second pass over the job.
        let mut sql = Sql::new("WITH done AS (UPDATE jobs SET state = ");
        push_completion(&mut sql, req, artifact.as_ref(), now);
        sql.push(" WHERE id = ")
            .text(&job.id)
            .push(" AND state = ")
            .int(JobState::Running as i64);
        sql.push(" AND lease_owner = ")
            .text(&req.executor_id)
            .push(" AND lease_token_hash = ")
            .text(token_hash(&req.lease_token));
        sql.push(&format!(" RETURNING {})", jobs::COLUMNS));
        if let Some(a) = &artifact {
            sql.push(&format!(
                ", recorded AS (INSERT INTO artifacts ({}) SELECT ",
                artifacts::COLUMNS
            ));
            artifacts::push_values(&mut sql, a);
            sql.push(" FROM done)");
        }
        sql.push(&format!(" SELECT {} FROM done", jobs::COLUMNS));
        let row = match sql.query().fetch_optional(&mut *conn).await {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(None),
            // The artifact's id is taken; the statement changed nothing.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(Some((jobs::from_row(&row)?, artifact)))
    }
}
