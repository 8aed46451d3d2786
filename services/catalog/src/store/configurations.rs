//! Backup configurations: create, read, list, update, delete and apply.
//!
//! A configuration is stored as its normalised protobuf encoding plus the
//! columns that lists filter on. Its etag is a hash of its content, so it
//! changes exactly when the content changes and an unchanged apply keeps it.

use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use vigil_proto::catalog::v1::{
    BackupConfiguration, EventKind, ListConfigurationsRequest, ListConfigurationsResponse, Purpose,
};
use vigil_proto::timestamp_from_micros;

use super::Store;
use crate::db::{Db, RowExt, Sql};
use crate::error::{Error, Result};
use crate::mask::{apply_mask, check_mask};
use crate::page::Page;
use crate::validate::{Checker, check_configuration, normalize_configuration};

pub(super) const COLUMNS: &str = "name, body, etag, create_time, update_time";

pub(super) fn from_row(row: &AnyRow) -> Result<BackupConfiguration> {
    decode(
        row.text("name")?,
        &row.blob("body")?,
        row.text("etag")?,
        row.int("create_time")?,
        row.int("update_time")?,
    )
}

fn decode(
    name: String,
    body: &[u8],
    etag: String,
    create_time: i64,
    update_time: i64,
) -> Result<BackupConfiguration> {
    let mut c = BackupConfiguration::decode(body)
        .map_err(|e| Error::Internal(format!("stored configuration does not decode: {e}")))?;
    c.name = name;
    // Bodies written before `enabled` had presence leave a false one out.
    c.enabled = Some(c.enabled());
    c.etag = etag;
    c.create_time = Some(timestamp_from_micros(create_time));
    c.update_time = Some(timestamp_from_micros(update_time));
    Ok(c)
}

/// Columns that read the configuration of a job in a statement on `jobs`
/// (its `RETURNING`), so a lease hands out the job and its configuration in
/// one round trip; read back with [`of_job_from_row`].
pub(super) const OF_JOB: &str = "\
     (SELECT c.body FROM configurations c WHERE c.name = jobs.configuration) AS config_body, \
     (SELECT c.etag FROM configurations c WHERE c.name = jobs.configuration) AS config_etag, \
     (SELECT c.create_time FROM configurations c WHERE c.name = jobs.configuration) \
     AS config_create_time, \
     (SELECT c.update_time FROM configurations c WHERE c.name = jobs.configuration) \
     AS config_update_time";

/// The configuration named `name` read through [`OF_JOB`]; `None` when
/// there is none (a standalone job, or the configuration was deleted).
pub(super) fn of_job_from_row(row: &AnyRow, name: &str) -> Result<Option<BackupConfiguration>> {
    let (Some(etag), Some(create_time), Some(update_time)) = (
        row.opt_text("config_etag")?,
        row.opt_int("config_create_time")?,
        row.opt_int("config_update_time")?,
    ) else {
        return Ok(None);
    };
    let body = row.blob("config_body")?;
    decode(name.to_owned(), &body, etag, create_time, update_time).map(Some)
}

/// The etag of a normalised configuration: a hash of its content.
pub(super) fn content_etag(c: &BackupConfiguration) -> String {
    let mut canon = c.clone();
    canon.create_time = None;
    canon.update_time = None;
    canon.etag.clear();
    // A false `enabled` is hashed as absent, as it was before the field had
    // presence, so upgrading changes no etag.
    canon.enabled = canon.enabled.filter(|on| *on);
    let labels = std::mem::take(&mut canon.labels);
    let mut bytes = canon.encode_to_vec();
    // Map order is not stable in the encoding; hash the labels sorted.
    let mut sorted: Vec<_> = labels.iter().collect();
    sorted.sort();
    for (k, v) in sorted {
        for part in [k, v] {
            bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
            bytes.extend_from_slice(part.as_bytes());
        }
    }
    hex::encode(&Sha256::digest(&bytes)[..12])
}

/// Validates `c` (found at `path`) and normalises it for storage.
pub(super) fn prepare(c: &mut BackupConfiguration, path: &str) -> Result<()> {
    let mut v = Checker::new();
    check_configuration(&mut v, path, c);
    v.finish()?;
    normalize_configuration(c);
    Ok(())
}

fn check_name_field(field: &str, name: &str) -> Result<()> {
    let mut v = Checker::new();
    crate::validate::check_name(&mut v, field, name);
    v.finish()
}

/// The configuration called `name`, if any.
pub(crate) async fn find(
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<BackupConfiguration>> {
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM configurations WHERE name = "
    ));
    sql.text(name);
    let row = sql.query().fetch_optional(&mut *conn).await?;
    row.as_ref().map(from_row).transpose()
}

pub(super) async fn find_for_update(
    store: &Store,
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<BackupConfiguration>> {
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM configurations WHERE name = "
    ));
    sql.text(name).push(store.db.dialect().for_update());
    let row = sql.query().fetch_optional(&mut *conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// Inserts `c` (normalised); false when the name is taken.
pub(super) async fn insert_row(
    conn: &mut AnyConnection,
    c: &BackupConfiguration,
    etag: &str,
    now: i64,
) -> Result<bool> {
    let mut sql = Sql::new(
        "INSERT INTO configurations \
         (name, kind, purpose, enabled, has_schedule, body, etag, create_time, update_time) VALUES (",
    );
    sql.text(&c.name)
        .push(", ")
        .int(i64::from(c.kind))
        .push(", ")
        .int(i64::from(c.purpose));
    sql.push(", ")
        .int(i64::from(c.enabled()))
        .push(", ")
        .int(i64::from(c.schedule.is_some()));
    sql.push(", ")
        .blob(Some(c.encode_to_vec()))
        .push(", ")
        .text(etag);
    sql.push(", ")
        .int(now)
        .push(", ")
        .int(now)
        .push(") ON CONFLICT DO NOTHING");
    if sql.query().execute(&mut *conn).await?.rows_affected() == 0 {
        return Ok(false);
    }
    write_labels(conn, c).await?;
    Ok(true)
}

pub(super) async fn update_row(
    conn: &mut AnyConnection,
    c: &BackupConfiguration,
    etag: &str,
    now: i64,
) -> Result<()> {
    let mut sql = Sql::new("UPDATE configurations SET kind = ");
    sql.int(i64::from(c.kind))
        .push(", purpose = ")
        .int(i64::from(c.purpose));
    sql.push(", enabled = ").int(i64::from(c.enabled()));
    sql.push(", has_schedule = ")
        .int(i64::from(c.schedule.is_some()));
    sql.push(", body = ")
        .blob(Some(c.encode_to_vec()))
        .push(", etag = ")
        .text(etag);
    sql.push(", update_time = ")
        .int(now)
        .push(" WHERE name = ")
        .text(&c.name);
    sql.query().execute(&mut *conn).await?;
    let mut del = Sql::new("DELETE FROM configuration_labels WHERE name = ");
    del.text(&c.name);
    del.query().execute(&mut *conn).await?;
    write_labels(conn, c).await
}

async fn write_labels(conn: &mut AnyConnection, c: &BackupConfiguration) -> Result<()> {
    for (key, value) in &c.labels {
        let mut sql = Sql::new("INSERT INTO configuration_labels (name, key, value) VALUES (");
        sql.text(&c.name)
            .push(", ")
            .text(key)
            .push(", ")
            .text(value)
            .push(")");
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// `stored` as it reads after a write of `c` with `etag` at `now`.
pub(super) fn stored_view(
    c: &BackupConfiguration,
    etag: String,
    create: i64,
    update: i64,
) -> BackupConfiguration {
    let mut out = c.clone();
    out.etag = etag;
    out.create_time = Some(timestamp_from_micros(create));
    out.update_time = Some(timestamp_from_micros(update));
    out
}

/// A stale etag at `field`: ABORTED (AIP-154), so a client re-reads and retries.
fn stale_etag(field: &str) -> Error {
    Error::Aborted(format!(
        "{field}: does not match the stored etag, read the configuration again and retry"
    ))
}

impl Store {
    /// Registers a new configuration.
    pub async fn create_configuration(
        &self,
        mut c: BackupConfiguration,
    ) -> Result<BackupConfiguration> {
        prepare(&mut c, "configuration")?;
        let now = self.now();
        let etag = content_etag(&c);
        let mut tx = self.db.begin().await?;
        let result = match insert_row(&mut tx, &c, &etag, now).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::already_exists("configuration", &c.name)),
            Err(e) => Err(e),
        };
        Db::finish(tx, result).await?;
        self.events
            .publish([self.event(EventKind::ConfigurationChanged, &c.name, "")]);
        Ok(stored_view(&c, etag, now, now))
    }

    /// The configuration called `name`.
    pub async fn get_configuration(&self, name: &str) -> Result<BackupConfiguration> {
        check_name_field("name", name)?;
        let mut conn = self.db.pool().acquire().await?;
        find(&mut conn, name)
            .await?
            .ok_or_else(|| Error::not_found("configuration", name))
    }

    /// One page of configurations in name order.
    pub async fn list_configurations(
        &self,
        req: &ListConfigurationsRequest,
    ) -> Result<ListConfigurationsResponse> {
        let page = Page::parse("configurations", req.page_size, &req.page_token)?;
        if Purpose::try_from(req.purpose).is_err() {
            return Err(Error::invalid(
                "purpose",
                format!("unknown value {}", req.purpose),
            ));
        }
        let collate = self.db.dialect().collate_c();
        let mut sql = Sql::new(&format!(
            "SELECT {COLUMNS} FROM configurations c WHERE 1 = 1"
        ));
        if let Some(after) = &page.after {
            sql.push(&format!(" AND c.name{collate} > "))
                .text(&after.key);
        }
        if req.purpose != Purpose::Unspecified as i32 {
            sql.push(" AND c.purpose = ").int(i64::from(req.purpose));
        }
        let mut labels: Vec<_> = req.labels.iter().collect();
        labels.sort();
        for (key, value) in labels {
            sql.push(" AND EXISTS (SELECT 1 FROM configuration_labels l WHERE l.name = c.name AND l.key = ");
            sql.text(key).push(" AND l.value = ").text(value).push(")");
        }
        sql.push(&format!(" ORDER BY c.name{collate} LIMIT "))
            .int(page.limit());
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        let configs = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        let (configurations, next_page_token) = page.finish(configs, |c| (c.name.clone(), 0));
        Ok(ListConfigurationsResponse {
            configurations,
            next_page_token,
        })
    }

    /// Every configuration, in name order (for reports).
    pub async fn all_configurations(&self) -> Result<Vec<BackupConfiguration>> {
        let mut out = Vec::new();
        let mut req = ListConfigurationsRequest {
            page_size: 1000,
            ..Default::default()
        };
        loop {
            let page = self.list_configurations(&req).await?;
            out.extend(page.configurations);
            if page.next_page_token.is_empty() {
                return Ok(out);
            }
            req.page_token = page.next_page_token;
        }
    }

    /// Changes the fields of `new` named by `mask_paths` (all mutable fields when empty).
    pub async fn update_configuration(
        &self,
        new: &BackupConfiguration,
        mask_paths: &[String],
    ) -> Result<BackupConfiguration> {
        check_mask(mask_paths)?;
        check_name_field("configuration.name", &new.name)?;
        self.modify(&new.name, &new.etag, |stored| {
            Ok(apply_mask(stored, new, mask_paths))
        })
        .await
    }

    /// Sets `enabled` on the configuration called `name`.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<BackupConfiguration> {
        check_name_field("name", name)?;
        self.modify(name, "", |stored| {
            let mut c = stored.clone();
            c.enabled = Some(enabled);
            Ok(c)
        })
        .await
    }

    /// Read, change with `f`, validate and write back when the content changed.
    async fn modify(
        &self,
        name: &str,
        expected_etag: &str,
        f: impl FnOnce(&BackupConfiguration) -> Result<BackupConfiguration>,
    ) -> Result<BackupConfiguration> {
        let mut tx = self.db.begin().await?;
        let result: Result<(BackupConfiguration, bool)> = async {
            let stored = find_for_update(self, &mut tx, name)
                .await?
                .ok_or_else(|| Error::not_found("configuration", name))?;
            if !expected_etag.is_empty() && expected_etag != stored.etag {
                return Err(stale_etag("configuration.etag"));
            }
            let mut merged = f(&stored)?;
            prepare(&mut merged, "configuration")?;
            let etag = content_etag(&merged);
            if etag == stored.etag {
                return Ok((stored, false));
            }
            let now = self.now();
            update_row(&mut tx, &merged, &etag, now).await?;
            let create = stored
                .create_time
                .as_ref()
                .map(vigil_proto::timestamp_to_micros)
                .unwrap_or(now);
            Ok((stored_view(&merged, etag, create, now), true))
        }
        .await;
        let (config, changed) = Db::finish(tx, result).await?;
        if changed {
            self.events
                .publish([self.event(EventKind::ConfigurationChanged, name, "")]);
        }
        Ok(config)
    }

    /// Removes the configuration called `name`; its jobs and artifacts stay.
    pub async fn delete_configuration(&self, name: &str, expected_etag: &str) -> Result<()> {
        check_name_field("name", name)?;
        let mut tx = self.db.begin().await?;
        let result = async {
            let stored = find_for_update(self, &mut tx, name)
                .await?
                .ok_or_else(|| Error::not_found("configuration", name))?;
            if !expected_etag.is_empty() && expected_etag != stored.etag {
                return Err(stale_etag("etag"));
            }
            let mut sql = Sql::new("DELETE FROM configurations WHERE name = ");
            sql.text(name);
            sql.query().execute(&mut *tx).await?;
            Ok(())
        }
        .await;
        Db::finish(tx, result).await?;
        self.events
            .publish([self.event(EventKind::ConfigurationChanged, name, "")]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_ignores_label_order_and_output_fields() {
        let mut a = BackupConfiguration {
            name: "x".into(),
            ..Default::default()
        };
        for i in 0..20 {
            a.labels.insert(format!("k{i}"), format!("v{i}"));
        }
        let mut b = a.clone();
        b.etag = "old".into();
        b.update_time = Some(timestamp_from_micros(5));
        assert_eq!(content_etag(&a), content_etag(&b));
        b.enabled = Some(true);
        assert_ne!(content_etag(&a), content_etag(&b));
    }

    proptest::proptest! {
        #[test]
        fn etag_depends_on_labels_not_their_insertion_order(
            labels in proptest::collection::vec(("[a-z]{1,8}", "[a-z0-9]{0,8}"), 0..20),
        ) {
            let mut forward = BackupConfiguration { name: "x".into(), ..Default::default() };
            let mut backward = forward.clone();
            for (k, v) in &labels {
                forward.labels.insert(k.clone(), v.clone());
            }
            for (k, v) in labels.iter().rev() {
                backward.labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            // Built in opposite orders, the maps hold the same entries.
            proptest::prop_assert_eq!(&forward.labels, &backward.labels);
            proptest::prop_assert_eq!(content_etag(&forward), content_etag(&backward));
        }
    }
}
