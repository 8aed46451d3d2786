//! Heartbeats of schedulers, executors and catalogs. A component is alive
//! when its last heartbeat is within the configured timeout.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use vigil_proto::catalog::v1::{
    Component, ComponentKind, ListComponentsRequest, ListComponentsResponse,
};
use vigil_proto::{timestamp_from_micros, timestamp_to_micros};

use super::Store;
use crate::db::{RowExt, Sql};
use crate::error::{Error, Result};
use crate::page::Page;
use crate::validate::{Checker, check_key};

const COLUMNS: &str =
    "id, kind, capabilities, version, host, start_time, heartbeat_time, details, endpoint";

impl Store {
    fn component_from_row(&self, row: &AnyRow, now: i64) -> Result<Component> {
        let heartbeat = row.int("heartbeat_time")?;
        let timeout = micros(self.lifetimes.component_timeout);
        Ok(Component {
            id: row.text("id")?,
            kind: row.int("kind")? as i32,
            capabilities: serde_json::from_str(&row.text("capabilities")?).unwrap_or_default(),
            version: row.text("version")?,
            host: row.text("host")?,
            start_time: row.opt_int("start_time")?.map(timestamp_from_micros),
            heartbeat_time: Some(timestamp_from_micros(heartbeat)),
            alive: now.saturating_sub(heartbeat) <= timeout,
            details: serde_json::from_str::<HashMap<String, String>>(&row.text("details")?)
                .unwrap_or_default(),
            endpoint: row.text("endpoint")?,
        })
    }

    /// Records a heartbeat of `component`, stamped with the catalog's clock.
    pub async fn report_heartbeat(&self, component: &Component) -> Result<Component> {
        let mut v = Checker::new();
        check_key(&mut v, "component.id", &component.id, 255);
        match ComponentKind::try_from(component.kind) {
            Ok(ComponentKind::Unspecified) => v.add("component.kind", "must be set"),
            Err(_) => v.add(
                "component.kind",
                format!("unknown value {}", component.kind),
            ),
            Ok(_) => {}
        }
        if component.capabilities.len() > 64 || component.capabilities.iter().any(|c| c.len() > 64)
        {
            v.add(
                "component.capabilities",
                "must hold at most 64 items of 64 characters",
            );
        }
        if component.version.len() > 128 {
            v.add("component.version", "must be at most 128 characters");
        }
        if component.host.len() > 255 {
            v.add("component.host", "must be at most 255 characters");
        }
        if component.details.len() > 64
            || component
                .details
                .iter()
                .any(|(k, val)| k.len() > 63 || val.len() > 1024)
        {
            v.add(
                "component.details",
                "must hold at most 64 entries of 63-character keys and 1024-character values",
            );
        }
        if let Err(reason) = check_endpoint(&component.endpoint) {
            v.add("component.endpoint", reason);
        }
        v.finish()?;
        let now = self.now();
        let start = component.start_time.as_ref().map(timestamp_to_micros);
        let caps = serde_json::to_string(&component.capabilities).unwrap_or_default();
        let details = serde_json::to_string(&component.details).unwrap_or_default();
        let mut sql = Sql::new(&format!("INSERT INTO components ({COLUMNS}) VALUES ("));
        sql.text(&component.id)
            .push(", ")
            .int(i64::from(component.kind))
            .push(", ")
            .text(caps);
        sql.push(", ")
            .text(&component.version)
            .push(", ")
            .text(&component.host);
        sql.push(", ")
            .int(start)
            .push(", ")
            .int(now)
            .push(", ")
            .text(details)
            .push(", ")
            .text(&component.endpoint);
        sql.push(") ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, capabilities = excluded.capabilities, \
                  version = excluded.version, host = excluded.host, \
                  start_time = COALESCE(excluded.start_time, components.start_time), \
                  heartbeat_time = excluded.heartbeat_time, details = excluded.details, \
                  endpoint = excluded.endpoint");
        sql.push(&format!(" RETURNING {COLUMNS}"));
        let mut tx = self.db.begin().await?;
        let row = sql.query().fetch_one(&mut *tx).await?;
        tx.commit().await?;
        self.component_from_row(&row, now)
    }

    /// One page of known components by id, optionally of one kind. Those
    /// without a heartbeat for `component_gone_after` are left out unless
    /// `include_gone` is set.
    pub async fn list_components(
        &self,
        req: &ListComponentsRequest,
    ) -> Result<ListComponentsResponse> {
        if ComponentKind::try_from(req.kind).is_err() {
            return Err(Error::invalid(
                "kind",
                format!("unknown value {}", req.kind),
            ));
        }
        let page = Page::parse("components", req.page_size, &req.page_token)?;
        let now = self.now();
        let collate = self.db.dialect().collate_c();
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM components WHERE 1 = 1"));
        if req.kind != ComponentKind::Unspecified as i32 {
            sql.push(" AND kind = ").int(i64::from(req.kind));
        }
        if !req.include_gone {
            let gone = micros(self.lifetimes.component_gone_after);
            sql.push(" AND heartbeat_time >= ")
                .int(now.saturating_sub(gone));
        }
        if let Some(after) = &page.after {
            sql.push(&format!(" AND id{collate} > ")).text(&after.key);
        }
        sql.push(&format!(" ORDER BY id{collate} LIMIT "))
            .int(page.limit());
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        let components = rows
            .iter()
            .map(|r| self.component_from_row(r, now))
            .collect::<Result<Vec<_>>>()?;
        let (components, next_page_token) = page.finish(components, |c| (c.id.clone(), 0));
        Ok(ListComponentsResponse {
            components,
            next_page_token,
        })
    }

    /// Deletes components without a heartbeat for `component_delete_after`.
    pub async fn delete_gone_components(&self) -> Result<u64> {
        let cutoff = self
            .now()
            .saturating_sub(micros(self.lifetimes.component_delete_after));
        let mut sql = Sql::new("DELETE FROM components WHERE heartbeat_time < ");
        sql.int(cutoff);
        Ok(sql.query().execute(self.db.writer()).await?.rows_affected())
    }
}

/// An endpoint is empty, or an `http://` or `https://` URL with a host (and
/// a port) and nothing after them.
fn check_endpoint(endpoint: &str) -> std::result::Result<(), &'static str> {
    if endpoint.is_empty() {
        return Ok(());
    }
    if endpoint.len() > 255 {
        return Err("must be at most 255 characters");
    }
    let Ok(url) = url::Url::parse(endpoint) else {
        return Err("must be a URL such as http://10.0.0.7:50053");
    };
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !plain {
        return Err(
            "must be http:// or https:// with a host and a port, and no path, query or user",
        );
    }
    Ok(())
}

fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
