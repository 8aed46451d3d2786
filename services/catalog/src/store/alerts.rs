//! Alerts: one open alert per kind and dedup key (a partial unique index),
//! raised again to count occurrences, resolved when the condition clears.
//! Keying by kind as well keeps a component's alert from ever refreshing or
//! blocking one the catalog raised under the same key.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use vigil_proto::catalog::v1::{
    Alert, AlertDelivery, AlertKind, AlertSeverity, AlertState, EventKind, ListAlertsRequest,
    ListAlertsResponse,
};
use vigil_proto::{timestamp_from_micros, timestamp_to_micros};

use super::Store;
use crate::db::{Db, RowExt, Sql};
use crate::error::{Error, Result};
use crate::page::Page;
use crate::validate::{Checker, check_key, check_terminal_safe};

const COLUMNS: &str = "id, kind, severity, configuration, message, state, dedup_key, open_time, \
     last_seen_time, resolve_time, occurrences, delivery_state, delivery_detail";

#[allow(deprecated)] // fills the v1 text `delivery`
fn from_row(row: &AnyRow) -> Result<Alert> {
    let delivery_state = AlertDelivery::try_from(row.int("delivery_state")? as i32)
        .unwrap_or(AlertDelivery::Unspecified);
    let delivery_detail = row.text("delivery_detail")?;
    Ok(Alert {
        id: row.text("id")?,
        kind: row.int("kind")? as i32,
        severity: row.int("severity")? as i32,
        configuration: row.text("configuration")?,
        message: row.text("message")?,
        state: row.int("state")? as i32,
        dedup_key: row.text("dedup_key")?,
        open_time: Some(timestamp_from_micros(row.int("open_time")?)),
        last_seen_time: Some(timestamp_from_micros(row.int("last_seen_time")?)),
        resolve_time: row.opt_int("resolve_time")?.map(timestamp_from_micros),
        occurrences: row.int("occurrences")? as u32,
        delivery: super::delivery::legacy_text(delivery_state, &delivery_detail),
        delivery_state: delivery_state as i32,
        delivery_detail,
    })
}

fn check_alert(a: &Alert) -> Result<()> {
    let mut v = Checker::new();
    check_key(&mut v, "alert.dedup_key", &a.dedup_key, 255);
    match AlertKind::try_from(a.kind) {
        Ok(AlertKind::Unspecified) => v.add("alert.kind", "must be set"),
        Err(_) => v.add("alert.kind", format!("unknown value {}", a.kind)),
        Ok(_) => {}
    }
    if AlertSeverity::try_from(a.severity).is_err() {
        v.add("alert.severity", format!("unknown value {}", a.severity));
    }
    if a.message.chars().count() > 4096 {
        v.add("alert.message", "must be at most 4096 characters");
    } else {
        check_terminal_safe(&mut v, "alert.message", &a.message);
    }
    if a.configuration.chars().count() > 200 {
        v.add("alert.configuration", "must be at most 200 characters");
    }
    v.finish()
}

/// Opens `alert`, or refreshes the open alert with its dedup key. True when opened.
pub(crate) async fn raise_in(
    store: &Store,
    conn: &mut AnyConnection,
    alert: &Alert,
) -> Result<(Alert, bool)> {
    let now = store.now();
    let severity = if alert.severity == 0 {
        AlertSeverity::Warning as i32
    } else {
        alert.severity
    };
    let message = crate::redact::redact_secrets(&alert.message);
    for _ in 0..4 {
        let mut refresh =
            Sql::new("UPDATE alerts SET occurrences = occurrences + 1, last_seen_time = ");
        refresh
            .int(now)
            .push(", message = ")
            .text(&message)
            .push(", severity = ")
            .int(i64::from(severity));
        refresh.push(" WHERE dedup_key = ").text(&alert.dedup_key);
        refresh
            .push(" AND kind = ")
            .int(i64::from(alert.kind))
            .push(" AND state = ")
            .int(AlertState::Open as i64)
            .push(&format!(" RETURNING {COLUMNS}"));
        if let Some(row) = refresh.query().fetch_optional(&mut *conn).await? {
            return Ok((from_row(&row)?, false));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let mut insert = Sql::new(&format!("INSERT INTO alerts ({COLUMNS}) VALUES ("));
        insert
            .text(&id)
            .push(", ")
            .int(i64::from(alert.kind))
            .push(", ")
            .int(i64::from(severity));
        insert
            .push(", ")
            .text(&alert.configuration)
            .push(", ")
            .text(&message);
        insert
            .push(", ")
            .int(AlertState::Open as i64)
            .push(", ")
            .text(&alert.dedup_key);
        insert
            .push(", ")
            .int(now)
            .push(", ")
            .int(now)
            .push(", NULL, 1, 0, ''");
        insert.push(&format!(") ON CONFLICT DO NOTHING RETURNING {COLUMNS}"));
        if let Some(row) = insert.query().fetch_optional(&mut *conn).await? {
            return Ok((from_row(&row)?, true));
        }
        // Another writer opened the same key in between; refresh that one.
    }
    Err(Error::Aborted(
        "alert.dedup_key: changed concurrently, raise again".into(),
    ))
}

impl Store {
    /// Opens an alert or refreshes the open one with the same dedup key.
    pub async fn raise_alert(&self, alert: &Alert) -> Result<(Alert, bool)> {
        check_alert(alert)?;
        let mut tx = self.db.begin().await?;
        let result = raise_in(self, &mut tx, alert).await;
        let (stored, opened) = Db::finish(tx, result).await?;
        self.events.publish([self.event(
            EventKind::AlertChanged,
            &stored.configuration,
            &stored.id,
        )]);
        Ok((stored, opened))
    }

    /// Resolves the open alerts with `dedup_key` whose kind the caller may
    /// resolve. When only alerts of other kinds hold the key, they stay open
    /// and the call is refused.
    pub async fn resolve_alert(
        &self,
        dedup_key: &str,
        may_resolve: impl Fn(AlertKind) -> bool,
    ) -> Result<Option<Alert>> {
        let mut v = Checker::new();
        check_key(&mut v, "dedup_key", dedup_key, 255);
        v.finish()?;
        let kinds = (0..)
            .map_while(|k| AlertKind::try_from(k).ok())
            .filter(|k| may_resolve(*k))
            .map(|k| (k as i32).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let now = self.now();
        let mut sql = Sql::new("UPDATE alerts SET state = ");
        sql.int(AlertState::Resolved as i64)
            .push(", resolve_time = ")
            .int(now);
        sql.push(" WHERE dedup_key = ")
            .text(dedup_key)
            .push(" AND state = ")
            .int(AlertState::Open as i64)
            .push(&format!(" AND kind IN ({kinds}) RETURNING {COLUMNS}"));
        let mut tx = self.db.begin().await?;
        let rows = sql.query().fetch_all(&mut *tx).await?;
        if rows.is_empty() {
            let mut other = Sql::new("SELECT kind FROM alerts WHERE dedup_key = ");
            other
                .text(dedup_key)
                .push(" AND state = ")
                .int(AlertState::Open as i64);
            if let Some(row) = other.query().fetch_optional(&mut *tx).await? {
                let kind = AlertKind::try_from(row.int("kind")? as i32).unwrap_or_default();
                return Err(Error::FailedPrecondition(format!(
                    "dedup_key: the open alert is {}, which only the catalog resolves",
                    kind.as_str_name()
                )));
            }
        }
        tx.commit().await?;
        let alerts = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        self.events.publish(
            alerts
                .iter()
                .map(|a| self.event(EventKind::AlertChanged, &a.configuration, &a.id)),
        );
        Ok(alerts.into_iter().next())
    }

    /// Records the webhook delivery state of an alert. The detail is stored
    /// without URLs, and with secrets redacted.
    pub async fn set_alert_delivery(
        &self,
        id: &str,
        state: AlertDelivery,
        detail: &str,
    ) -> Result<()> {
        let mut v = Checker::new();
        check_key(&mut v, "id", id, 128);
        if state == AlertDelivery::Unspecified {
            v.add("state", "must be set");
        }
        if detail.chars().count() > 1024 {
            v.add("detail", "must be at most 1024 characters");
        }
        v.finish()?;
        let detail = super::delivery::without_urls(&crate::redact::redact_secrets(detail));
        let mut sql = Sql::new("UPDATE alerts SET delivery_state = ");
        sql.int(state as i64)
            .push(", delivery_detail = ")
            .text(detail)
            .push(" WHERE id = ")
            .text(id);
        let mut tx = self.db.begin().await?;
        let n = sql.query().execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        if n == 0 {
            return Err(Error::not_found("alert", id));
        }
        Ok(())
    }

    /// One page of alerts, newest first.
    pub async fn list_alerts(&self, req: &ListAlertsRequest) -> Result<ListAlertsResponse> {
        let page = Page::parse("alerts", req.page_size, &req.page_token)?;
        let collate = self.db.dialect().collate_c();
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM alerts WHERE 1 = 1"));
        if !req.include_resolved {
            sql.push(" AND state = ").int(AlertState::Open as i64);
        }
        if !req.configuration.is_empty() {
            sql.push(" AND configuration = ").text(&req.configuration);
        }
        if let Some(after) = &page.after {
            sql.push(" AND (open_time < ").int(after.time);
            sql.push(" OR (open_time = ").int(after.time);
            sql.push(&format!(" AND id{collate} < "))
                .text(&after.key)
                .push("))");
        }
        sql.push(&format!(
            " ORDER BY open_time DESC, id{collate} DESC LIMIT "
        ))
        .int(page.limit());
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        let alerts = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        let (alerts, next_page_token) = page.finish(alerts, |a| {
            (
                a.id.clone(),
                a.open_time.as_ref().map(timestamp_to_micros).unwrap_or(0),
            )
        });
        Ok(ListAlertsResponse {
            alerts,
            next_page_token,
        })
    }
}
