//! Who holds a lease (A2). `LeaseJob` hands out a random token that only the
//! caller sees; the catalog keeps its SHA-256. Every call about a running job
//! (heartbeat, complete, fail, artifact updates) must present the token, so
//! knowing an executor's id is not enough to act for it. Tokens are compared
//! as hashes: timing reveals nothing of the token itself.

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use vigil_proto::catalog::v1::{BackupJob, JobState};

use super::{Store, jobs};
use crate::db::{RowExt, Sql};
use crate::error::{Error, Result};
use crate::validate::{Checker, check_key};

/// A fresh lease token (244 random bits) and the hash that is stored.
pub(super) fn new_token() -> (String, String) {
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let hash = token_hash(&token);
    (token, hash)
}

/// The stored form of a lease token.
pub(super) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Checks the fields that name a lease holder. A missing token is a failed
/// precondition, like a wrong one: the caller does not hold the lease.
pub(super) fn check_holder(job_id: &str, executor_id: &str, token: &str) -> Result<()> {
    let mut v = Checker::new();
    check_key(&mut v, "job_id", job_id, 200);
    check_key(&mut v, "executor_id", executor_id, 255);
    v.finish()?;
    if token.is_empty() {
        return Err(Error::FailedPrecondition(
            "lease_token: is required to act on a leased job".into(),
        ));
    }
    if token.len() > 128 {
        return Err(wrong_token());
    }
    Ok(())
}

fn wrong_token() -> Error {
    Error::FailedPrecondition("lease_token: does not match the job's lease".into())
}

/// The hash of the lease token stored for `job_id`.
async fn stored_hash(conn: &mut AnyConnection, job_id: &str) -> Result<Option<String>> {
    let mut sql = Sql::new("SELECT lease_token_hash FROM jobs WHERE id = ");
    sql.text(job_id);
    let row = sql.query().fetch_optional(&mut *conn).await?;
    match row {
        Some(r) => Ok(Some(r.text_or_empty("lease_token_hash")?)),
        None => Ok(None),
    }
}

/// Whether `token` hashes to `stored`, the hash kept with a lease.
fn hash_matches(stored: &str, token: &str) -> bool {
    !stored.is_empty() && stored == token_hash(token)
}

/// Why `job` cannot be acted on by `executor_id`, whose token matches the
/// job's or not: ABORTED when the lease is gone or someone else's,
/// FAILED_PRECONDITION when the executor id matches but the token does not.
fn refusal_of(job: &BackupJob, executor_id: &str, token_ok: bool) -> Error {
    if job.state == JobState::Running as i32 && job.lease_owner == executor_id && !token_ok {
        return wrong_token();
    }
    let state = JobState::try_from(job.state)
        .map(|s| s.as_str_name())
        .unwrap_or("UNKNOWN");
    Error::Aborted(format!(
        "job {} is not leased by this executor (state {state})",
        job.name
    ))
}

/// Why `job` cannot be acted on by `executor_id` with `token`; see
/// [`refusal_of`].
pub(super) async fn refusal(
    conn: &mut AnyConnection,
    job: &BackupJob,
    executor_id: &str,
    token: &str,
) -> Result<Error> {
    let stored = stored_hash(conn, &job.id).await?.unwrap_or_default();
    Ok(refusal_of(job, executor_id, hash_matches(&stored, token)))
}

/// A job locked for an act of its lease holder, with whether the caller's
/// token is the lease's.
pub(super) struct Locked {
    /// The job as it is now.
    pub(super) job: BackupJob,
    /// Whether the caller's token matches the one stored with the lease.
    pub(super) token_ok: bool,
}

impl Locked {
    /// The job when `executor_id` holds its running lease, else the refusal.
    pub(super) fn held_by(self, executor_id: &str) -> Result<BackupJob> {
        if self.job.state == JobState::Running as i32
            && self.job.lease_owner == executor_id
            && self.token_ok
        {
            return Ok(self.job);
        }
        Err(refusal_of(&self.job, executor_id, self.token_ok))
    }
}

/// The job `job_id` (an id or a name), locked, and whether `token` is its
/// lease's: one statement.
pub(super) async fn lock(
    store: &Store,
    conn: &mut AnyConnection,
    job_id: &str,
    token: &str,
) -> Result<Locked> {
    let mut sql = Sql::new(&format!(
        "SELECT {}, lease_token_hash FROM jobs WHERE id = ",
        jobs::COLUMNS
    ));
    sql.text(job_id)
        .push(" OR name = ")
        .text(job_id)
        .push(store.db.dialect().for_update());
    let row = sql
        .query()
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found("job", job_id))?;
    Ok(Locked {
        job: jobs::from_row(&row)?,
        token_ok: hash_matches(&row.text_or_empty("lease_token_hash")?, token),
    })
}

/// The running job `job_id` held by `executor_id` with `token`, locked.
pub(super) async fn held(
    store: &Store,
    conn: &mut AnyConnection,
    job_id: &str,
    executor_id: &str,
    token: &str,
) -> Result<BackupJob> {
    lock(store, conn, job_id, token).await?.held_by(executor_id)
}
