//! The common completion on PostgreSQL in one or two round trips instead of
//! five (begin, lock, insert the artifact, update the job, commit), shared
//! by every completion that arrives while others run (see `combine.rs`):
//! the batch's jobs are read without a lock (unless the lease kept a copy,
//! below), and one statement ends them and
//! records their artifacts. The update ends a job only if its caller still
//! holds its running lease with the token it presents, and an artifact is
//! inserted only for a job so ended. A statement is atomic: when an
//! artifact's id is already taken, the insert fails and takes every update
//! with it, and the batch's completions are tried again one by one.
//!
//! A job leased through this catalog is not read again: the lease keeps a
//! copy of it under its token's hash ([`RecentLeases`]), and a completion
//! that presents that token uses the copy. Only fields fixed when the job
//! was queued are taken from it (its configuration, kind and backup kind);
//! the statement still ends the job only under the running lease, and the
//! job returned is the row as the statement left it.
//!
//! Whenever that path does not end a job (the lease changed after the
//! read, a wrong token, an artifact id already taken, a retried completion,
//! a completion the job cannot record), it returns `None` for it and the
//! caller takes the transaction of `finish.rs`, which gives the answer and
//! the error the API defines. SQLite has no data-modifying `WITH`, and no
//! round trips to save: it always takes the transaction.

use std::collections::HashMap;
use std::sync::Mutex;

use vigil_proto::catalog::v1::{Artifact, BackupJob, CompleteJobRequest, JobState};

use super::combine::{push_rows, together_or_alone};
use super::consistency::check_completion;
use super::finish::{Completion, CompletionValues, filled_artifact};
use super::holder::token_hash;
use super::{Store, artifacts, jobs};
use crate::db::Sql;
use crate::error::Result;

/// An ended job and the artifact recorded with it.
pub(super) type Completed = (BackupJob, Option<Artifact>);

/// Most leased jobs remembered; when full, the memory starts again empty.
const MAX_RECENT_LEASES: usize = 4096;

/// The jobs this catalog leased and has not seen completed, by job id, each
/// with its lease token's hash. Bounded; a job missing here is read.
#[derive(Debug, Default)]
pub(super) struct RecentLeases(Mutex<HashMap<String, (String, BackupJob)>>);

impl RecentLeases {
    /// Remembers `job`, just leased under the token with `token_hash`.
    pub(super) fn remember(&self, job: &BackupJob, token_hash: &str) {
        let mut recent = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() >= MAX_RECENT_LEASES {
            recent.clear();
        }
        recent.insert(job.id.clone(), (token_hash.to_owned(), job.clone()));
    }

    /// The job `id` as leased under the token with `token_hash`, forgotten.
    fn take(&self, id: &str, token_hash: &str) -> Option<BackupJob> {
        let mut recent = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match recent.get(id) {
            Some((hash, _)) if hash == token_hash => recent.remove(id).map(|(_, job)| job),
            _ => None,
        }
    }
}

impl Store {
    /// Completes a job its caller holds in a statement shared with
    /// concurrent completions; `None` when the transaction must decide (see
    /// the module docs). `req` is validated.
    pub(super) async fn complete_in_one_statement(
        &self,
        req: &CompleteJobRequest,
    ) -> Result<Option<Completed>> {
        let store = self.clone();
        self.combined
            .completions
            .call(req.clone(), move |reqs| {
                let store = store.clone();
                async move { store.complete_batch(reqs).await }
            })
            .await
    }

    /// Completions for a batch of callers in one statement (see
    /// `together_or_alone`).
    async fn complete_batch(
        &self,
        reqs: Vec<CompleteJobRequest>,
    ) -> Vec<Result<Option<Completed>>> {
        together_or_alone(&reqs, |r| &r.job_id, |group| self.complete_group(group)).await
    }

    /// Reads the jobs of `reqs` (each for a different job) and ends in one
    /// statement those whose callers hold them and whose completion the job
    /// can record. Returns the ended jobs by id. An artifact id already
    /// taken fails the statement; alone, that completion is left to the
    /// transaction.
    async fn complete_group(
        &self,
        reqs: Vec<&CompleteJobRequest>,
    ) -> Result<HashMap<String, Completed>> {
        let mut conn = self.db.writer().acquire().await?;
        let mut found = HashMap::with_capacity(reqs.len());
        for req in &reqs {
            let hash = token_hash(&req.lease_token);
            if let Some(job) = self.recent_leases.take(&req.job_id, &hash) {
                found.insert(job.id.clone(), job);
            }
        }
        let unknown: Vec<String> = reqs
            .iter()
            .filter(|r| !found.contains_key(&r.job_id))
            .map(|r| r.job_id.clone())
            .collect();
        if !unknown.is_empty() {
            // By id only: a name (or an id that is not there) takes the
            // transaction, and an OR of two indexes is no plan to keep.
            let mut read = Sql::new(&format!("SELECT {} FROM jobs WHERE id IN (", jobs::COLUMNS));
            read.text_list(unknown).push(")");
            for row in read.query().fetch_all(&mut *conn).await? {
                let job = jobs::from_row(&row)?;
                found.insert(job.id.clone(), job);
            }
        }
        let now = self.now();
        let mut ending = Vec::with_capacity(reqs.len());
        for req in &reqs {
            let Some(job) = found.remove(&req.job_id) else {
                continue;
            };
            if job.state != JobState::Running as i32
                || job.lease_owner != req.executor_id
                || check_completion(&job, req.artifact.as_ref()).is_err()
            {
                continue;
            }
            let artifact = req.artifact.as_ref().map(|a| filled_artifact(a, &job, now));
            ending.push((*req, artifact));
        }
        if ending.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = completion_statement(&ending, now);
        let rows = match sql.query().fetch_all(&mut *conn).await {
            Ok(rows) => rows,
            // An artifact's id is taken; the statement changed nothing.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && reqs.len() == 1 => {
                return Ok(HashMap::new());
            }
            Err(e) => return Err(e.into()),
        };
        let mut artifacts: HashMap<&str, Option<Artifact>> = ending
            .iter()
            .map(|(req, a)| (req.job_id.as_str(), a.clone()))
            .collect();
        let mut done = HashMap::with_capacity(rows.len());
        for row in rows {
            let job = jobs::from_row(&row)?;
            let artifact = artifacts.remove(job.id.as_str()).flatten();
            done.insert(job.id.clone(), (job, artifact));
        }
        Ok(done)
    }
}

/// The statement that ends the jobs of `ending` and records their
/// artifacts. The update comes first and locks each row as it changes it:
/// no separate row lock, and no second pass over the jobs.
fn completion_statement(ending: &[(&CompleteJobRequest, Option<Artifact>)], now: i64) -> Sql {
    let mut sql = Sql::new("WITH ending (e_id, e_owner, e_token");
    for column in Completion::COLUMNS {
        sql.push(&format!(", e_{column}"));
    }
    sql.push(") AS (VALUES ");
    // Padded with rows for no job, so the statement's shape repeats.
    push_rows(
        &mut sql,
        ending,
        |row, _, (req, artifact)| {
            row.text(&req.job_id)
                .push(", ")
                .text(&req.executor_id)
                .push(", ")
                .text(token_hash(&req.lease_token))
                .push(", ");
            Completion::new(req, artifact.as_ref()).push_values(row);
        },
        |row| {
            row.text("")
                .push(", ")
                .text("")
                .push(", ")
                .text("")
                .push(", ");
            Completion::nothing().push_values(row);
        },
    );
    sql.push("), done AS (UPDATE jobs SET state = ");
    Completion::push_assignments(&mut sql, now, CompletionValues::Column("ending.e_"));
    sql.push(" FROM ending WHERE jobs.id = ending.e_id AND jobs.state = ")
        .int(JobState::Running as i64);
    sql.push(" AND jobs.lease_owner = ending.e_owner AND jobs.lease_token_hash = ending.e_token");
    sql.push(&format!(" RETURNING {})", jobs::COLUMNS));
    let recorded: Vec<&Artifact> = ending.iter().filter_map(|(_, a)| a.as_ref()).collect();
    if !recorded.is_empty() {
        sql.push(&format!(
            ", recorded AS (INSERT INTO artifacts ({0}) SELECT {0} FROM (VALUES ",
            artifacts::COLUMNS
        ));
        // Padded with artifacts of no job, never inserted.
        push_rows(
            &mut sql,
            &recorded,
            |row, _, a| artifacts::push_values(row, a),
            |row| artifacts::push_values(row, &Artifact::default()),
        );
        sql.push(&format!(
            ") AS given ({}) WHERE given.job IN (SELECT id FROM done))",
            artifacts::COLUMNS
        ));
    }
    sql.push(&format!(" SELECT {} FROM done", jobs::COLUMNS));
    sql
}
