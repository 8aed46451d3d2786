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

/// Whether `token` is the one handed out with the lease of `job_id`.
pub(super) async fn token_matches(
    conn: &mut AnyConnection,
    job_id: &str,
    token: &str,
) -> Result<bool> {
    let stored = stored_hash(conn, job_id).await?.unwrap_or_default();
    Ok(!stored.is_empty() && stored == token_hash(token))
}

/// Why `job` cannot be acted on by `executor_id` with `token`: ABORTED when
/// the lease is gone or someone else's, FAILED_PRECONDITION when the
/// executor id matches but the token does not.
pub(super) async fn refusal(
    conn: &mut AnyConnection,
    job: &BackupJob,
    executor_id: &str,
    token: &str,
) -> Result<Error> {
    if job.state == JobState::Running as i32
        && job.lease_owner == executor_id
        && !token_matches(conn, &job.id, token).await?
    {
        return Ok(wrong_token());
    }
    let state = JobState::try_from(job.state)
        .map(|s| s.as_str_name())
        .unwrap_or("UNKNOWN");
    Ok(Error::Aborted(format!(
        "job {} is not leased by this executor (state {state})",
        job.name
    )))
}

/// The running job `job_id` held by `executor_id` with `token`, locked.
pub(super) async fn held(
    store: &Store,
    conn: &mut AnyConnection,
    job_id: &str,
    executor_id: &str,
    token: &str,
) -> Result<BackupJob> {
    let lock = store.db.dialect().for_update();
    let job = jobs::find(conn, job_id, lock)
        .await?
        .ok_or_else(|| Error::not_found("job", job_id))?;
    if job.state == JobState::Running as i32
        && job.lease_owner == executor_id
        && token_matches(conn, &job.id, token).await?
    {
        return Ok(job);
    }
    Err(refusal(conn, &job, executor_id, token).await?)
}
