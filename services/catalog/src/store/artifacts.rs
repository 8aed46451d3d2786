//! Artifacts: snapshots and archives recorded by completed jobs.

use std::collections::HashMap;

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use vigil_proto::catalog::v1::{
    Artifact, ArtifactFormat, ArtifactState, BackupJob, BackupKind, JobKind, ListArtifactsRequest,
    ListArtifactsResponse, UpdateArtifactsRequest,
};
use vigil_proto::{timestamp_from_micros, timestamp_to_micros};

use super::Store;
use super::holder::{check_holder, held};
use crate::db::{RowExt, Sql, u64_from_db, u64_to_db};
use crate::error::{Error, Result};
use crate::page::Page;
use crate::validate::{Checker, check_key, check_terminal_safe, has_control};

pub(crate) const COLUMNS: &str = "id, configuration, job, backup_kind, format, location, size_bytes, \
     stored_bytes, file_count, checksum, create_time, expire_time, state, verify_time, labels";

/// Most artifacts one UpdateArtifacts call may change.
const MAX_UPDATE: usize = 1000;

fn from_row(row: &AnyRow) -> Result<Artifact> {
    let ts = |col: &str| -> Result<_> { Ok(row.opt_int(col)?.map(timestamp_from_micros)) };
    Ok(Artifact {
        id: row.text("id")?,
        configuration: row.text("configuration")?,
        job: row.text("job")?,
        backup_kind: row.int("backup_kind")? as i32,
        format: row.int("format")? as i32,
        location: row.text("location")?,
        size_bytes: u64_from_db(row.int("size_bytes")?),
        stored_bytes: u64_from_db(row.int("stored_bytes")?),
        file_count: u64_from_db(row.int("file_count")?),
        checksum: row.text("checksum")?,
        create_time: ts("create_time")?,
        expire_time: ts("expire_time")?,
        state: row.int("state")? as i32,
        verify_time: ts("verify_time")?,
        labels: serde_json::from_str::<HashMap<String, String>>(&row.text("labels")?)
            .unwrap_or_default(),
    })
}

/// Checks an artifact reported by an executor, found at `field`.
pub(crate) fn check_artifact(v: &mut Checker, field: &str, a: &Artifact) {
    let f = |name: &str| format!("{field}.{name}");
    if !a.id.is_empty() {
        check_key(v, &f("id"), &a.id, 128);
    }
    match ArtifactFormat::try_from(a.format) {
        Ok(ArtifactFormat::Unspecified) => v.add(f("format"), "must be set to SNAPSHOT or ARCHIVE"),
        Err(_) => v.add(f("format"), format!("unknown value {}", a.format)),
        Ok(_) => {}
    }
    if BackupKind::try_from(a.backup_kind).is_err() {
        v.add(f("backup_kind"), format!("unknown value {}", a.backup_kind));
    }
    if ArtifactState::try_from(a.state).is_err() {
        v.add(f("state"), format!("unknown value {}", a.state));
    }
    check_key(v, &f("location"), &a.location, 1024);
    if a.checksum.chars().count() > 256 {
        v.add(f("checksum"), "must be at most 256 characters");
    } else {
        check_terminal_safe(v, &f("checksum"), &a.checksum);
    }
    if a.labels.len() > 64
        || a.labels
            .iter()
            .any(|(k, val)| k.len() > 63 || val.len() > 255)
    {
        v.add(
            f("labels"),
            "must hold at most 64 labels of 63-character keys and 255-character values",
        );
    } else {
        let mut keys: Vec<&String> = a.labels.keys().collect();
        keys.sort();
        for k in keys {
            if has_control(k) {
                check_terminal_safe(v, &f("labels"), k);
            } else {
                check_terminal_safe(v, &format!("{}.{k}", f("labels")), &a.labels[k]);
            }
        }
    }
}

/// Inserts `a` as given (id, times and state already filled in).
pub(crate) async fn insert(conn: &mut AnyConnection, a: &Artifact) -> Result<bool> {
    let mut sql = Sql::new(&format!("INSERT INTO artifacts ({COLUMNS}) VALUES ("));
    push_values(&mut sql, a);
    sql.push(") ON CONFLICT DO NOTHING");
    Ok(sql.query().execute(&mut *conn).await?.rows_affected() == 1)
}

/// Appends the values of `a`'s row, in [`COLUMNS`] order, without parentheses.
pub(crate) fn push_values(sql: &mut Sql, a: &Artifact) {
    let ts = |t: &Option<prost_types::Timestamp>| t.as_ref().map(timestamp_to_micros);
    sql.text(&a.id)
        .push(", ")
        .text(&a.configuration)
        .push(", ")
        .text(&a.job);
    sql.push(", ")
        .int(i64::from(a.backup_kind))
        .push(", ")
        .int(i64::from(a.format));
    sql.push(", ")
        .text(&a.location)
        .push(", ")
        .int(u64_to_db(a.size_bytes));
    sql.push(", ")
        .int(u64_to_db(a.stored_bytes))
        .push(", ")
        .int(u64_to_db(a.file_count));
    sql.push(", ")
        .text(&a.checksum)
        .push(", ")
        .int(ts(&a.create_time));
    sql.push(", ")
        .int(ts(&a.expire_time))
        .push(", ")
        .int(i64::from(a.state));
    sql.push(", ").int(ts(&a.verify_time));
    sql.push(", ")
        .text(serde_json::to_string(&a.labels).unwrap_or_default());
}

/// The artifact with this id.
pub(crate) async fn find(conn: &mut AnyConnection, id: &str) -> Result<Option<Artifact>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM artifacts WHERE id = "));
    sql.text(id);
    let row = sql.query().fetch_optional(&mut *conn).await?;
    row.as_ref().map(from_row).transpose()
}

impl Store {
    /// The artifact with this id.
    pub async fn get_artifact(&self, id: &str) -> Result<Artifact> {
        let mut v = Checker::new();
        check_key(&mut v, "id", id, 128);
        v.finish()?;
        let mut conn = self.db.pool().acquire().await?;
        find(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("artifact", id))
    }

    /// One page of artifacts, newest first.
    pub async fn list_artifacts(
        &self,
        req: &ListArtifactsRequest,
    ) -> Result<ListArtifactsResponse> {
        let page = Page::parse("artifacts", req.page_size, &req.page_token)?;
        let collate = self.db.dialect().collate_c();
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM artifacts WHERE 1 = 1"));
        if !req.configuration.is_empty() {
            sql.push(" AND configuration = ").text(&req.configuration);
        }
        if !req.include_pruned {
            sql.push(" AND state <> ").int(ArtifactState::Pruned as i64);
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
        let artifacts = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        let (artifacts, next_page_token) = page.finish(artifacts, |a| {
            (
                a.id.clone(),
                a.create_time.as_ref().map(timestamp_to_micros).unwrap_or(0),
            )
        });
        Ok(ListArtifactsResponse {
            artifacts,
            next_page_token,
        })
    }

    /// Marks artifacts pruned, damaged or available again; returns how many
    /// changed. Only the holder of a running PRUNE job may mark them pruned,
    /// and only the holder of a running VERIFY job damaged or verified.
    pub async fn update_artifacts(&self, req: &UpdateArtifactsRequest) -> Result<u32> {
        check_holder(&req.job_id, &req.executor_id, &req.lease_token)?;
        let mut v = Checker::new();
        if req.ids.is_empty() {
            v.add("ids", "must not be empty");
        } else if req.ids.len() > MAX_UPDATE {
            v.add("ids", format!("must hold at most {MAX_UPDATE} ids"));
        }
        for (i, id) in req.ids.iter().enumerate().take(MAX_UPDATE) {
            check_key(&mut v, &format!("ids[{i}]"), id, 128);
        }
        match ArtifactState::try_from(req.state) {
            Ok(ArtifactState::Unspecified) => v.add("state", "must be set"),
            Err(_) => v.add("state", format!("unknown value {}", req.state)),
            Ok(_) => {}
        }
        v.finish()?;
        let mut tx = self.db.begin().await?;
        let job = held(
            self,
            &mut tx,
            &req.job_id,
            &req.executor_id,
            &req.lease_token,
        )
        .await;
        let allowed = job.and_then(|job| may_mark(&job, req.state()));
        if let Err(e) = allowed {
            tx.rollback().await?;
            return Err(e);
        }
        let mut sql = Sql::new("UPDATE artifacts SET state = ");
        sql.int(i64::from(req.state));
        if let Some(t) = &req.verify_time {
            sql.push(", verify_time = ").int(timestamp_to_micros(t));
        }
        sql.push(" WHERE id IN (")
            .text_list(req.ids.iter().cloned())
            .push(")");
        let updated = sql.query().execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(updated as u32)
    }
}

/// Whether the running `job` may set artifacts to `state`.
fn may_mark(job: &BackupJob, state: ArtifactState) -> Result<()> {
    let ok = match job.kind() {
        JobKind::Prune => state == ArtifactState::Pruned,
        JobKind::Verify => matches!(state, ArtifactState::Damaged | ArtifactState::Available),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::FailedPrecondition(format!(
            "state: a {} job may not mark artifacts {}",
            job.kind().as_str_name(),
            state.as_str_name()
        )))
    }
}
