//! Bearer tokens (stored as hashes) and the audit trail.

use sqlx::any::AnyRow;
use vigil_auth::{Caller, Role};
use vigil_proto::catalog::v1::{
    AuditEvent, ListAuditEventsRequest, ListAuditEventsResponse, TokenInfo,
};
use vigil_proto::{timestamp_from_micros, timestamp_to_micros};
use vigil_server_common::auth::role_to_proto;

use super::Store;
use crate::db::{RowExt, Sql};
use crate::error::{Error, Result};
use crate::page::Page;
use crate::validate::Checker;

/// Longest token name.
const MAX_TOKEN_NAME: usize = 63;
/// A token's last use is written at most this often (microseconds).
const LAST_USE_RESOLUTION: i64 = 60_000_000;
/// Longest audit target kept; longer ones are cut.
const MAX_TARGET: usize = 512;

/// A stored token, found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Who bears it.
    pub caller: Caller,
    /// The stored SHA-256 (hex).
    pub hash: String,
    /// Last recorded use, microseconds.
    pub last_use_time: Option<i64>,
}

/// Checks a token name: 1 to 63 of letters, digits, '-', '_' and '.'.
pub fn check_token_name(v: &mut Checker, field: &str, name: &str) {
    if name.is_empty() {
        v.add(field, "must not be empty");
    } else if name.len() > MAX_TOKEN_NAME {
        v.add(
            field,
            format!("must be at most {MAX_TOKEN_NAME} characters"),
        );
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        v.add(field, "must hold only letters, digits, '-', '_' and '.'");
    }
}

fn role_of(row: &AnyRow) -> Result<Role> {
    let text = row.text("role")?;
    text.parse()
        .map_err(|_| Error::Internal(format!("stored role {text:?} is unknown")))
}

fn token_info(row: &AnyRow) -> Result<TokenInfo> {
    Ok(TokenInfo {
        name: row.text("name")?,
        role: role_to_proto(role_of(row)?) as i32,
        create_time: Some(timestamp_from_micros(row.int("create_time")?)),
        last_use_time: row.opt_int("last_use_time")?.map(timestamp_from_micros),
    })
}

impl Store {
    /// Stores a token by its hash. ALREADY_EXISTS when the name is taken.
    pub async fn insert_token(&self, name: &str, role: Role, hash: &str) -> Result<TokenInfo> {
        let mut v = Checker::new();
        check_token_name(&mut v, "name", name);
        v.finish()?;
        let mut sql = Sql::new("INSERT INTO tokens (name, token_hash, role, create_time) VALUES (");
        sql.text(name)
            .push(", ")
            .text(hash)
            .push(", ")
            .text(role.as_str());
        sql.push(", ").int(self.now());
        sql.push(
            ") ON CONFLICT (name) DO NOTHING RETURNING name, role, create_time, last_use_time",
        );
        let row = sql.query().fetch_optional(self.db.writer()).await?;
        match row {
            Some(row) => token_info(&row),
            None => Err(Error::already_exists("token", name)),
        }
    }

    /// Every token, by name.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let collate = self.db.dialect().collate_c();
        let sql = Sql::new(&format!(
            "SELECT name, role, create_time, last_use_time FROM tokens ORDER BY name{collate}"
        ));
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        rows.iter().map(token_info).collect()
    }

    /// How many tokens exist.
    pub async fn count_tokens(&self) -> Result<i64> {
        let row = Sql::new("SELECT COUNT(*) AS n FROM tokens")
            .query()
            .fetch_one(self.db.pool())
            .await?;
        row.int("n")
    }

    /// Deletes the token named `name`. NOT_FOUND when there is none.
    pub async fn revoke_token(&self, name: &str) -> Result<()> {
        let mut sql = Sql::new("DELETE FROM tokens WHERE name = ");
        sql.text(name);
        let done = sql.query().execute(self.db.writer()).await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("token", name));
        }
        Ok(())
    }

    /// The token whose hash is `hash`, if any.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
        let mut sql = Sql::new(
            "SELECT name, role, token_hash, last_use_time FROM tokens WHERE token_hash = ",
        );
        sql.text(hash);
        let Some(row) = sql.query().fetch_optional(self.db.pool()).await? else {
            return Ok(None);
        };
        Ok(Some(TokenRecord {
            caller: Caller {
                name: row.text("name")?,
                role: role_of(&row)?,
            },
            hash: row.text("token_hash")?,
            last_use_time: row.opt_int("last_use_time")?,
        }))
    }

    /// Records that the token `name` was used now, when the stored time is
    /// more than a minute old (so checks do not turn into writes).
    pub async fn touch_token(&self, record: &TokenRecord) -> Result<()> {
        let now = self.now();
        if record
            .last_use_time
            .is_some_and(|t| now.saturating_sub(t) < LAST_USE_RESOLUTION)
        {
            return Ok(());
        }
        let mut sql = Sql::new("UPDATE tokens SET last_use_time = ");
        sql.int(now)
            .push(" WHERE name = ")
            .text(&record.caller.name);
        sql.query().execute(self.db.writer()).await?;
        Ok(())
    }

    /// Appends one event to the audit trail, stamped with the catalog's clock.
    pub async fn record_audit_event(&self, event: &AuditEvent) -> Result<()> {
        let id = uuid::Uuid::now_v7().to_string();
        let role = vigil_server_common::auth::role_from_proto(event.role)
            .map(Role::as_str)
            .unwrap_or("unknown");
        let target: String = event.target.chars().take(MAX_TARGET).collect();
        let mut sql = Sql::new(
            "INSERT INTO audit_events (id, time, caller, role, method, target, outcome) VALUES (",
        );
        sql.text(id).push(", ").int(self.now()).push(", ");
        sql.text(&event.caller).push(", ").text(role).push(", ");
        sql.text(&event.method).push(", ").text(target).push(", ");
        sql.text(&event.outcome).push(")");
        sql.query().execute(self.db.writer()).await?;
        Ok(())
    }

    /// Audit events, newest first, one page at a time.
    pub async fn list_audit_events(
        &self,
        req: &ListAuditEventsRequest,
    ) -> Result<ListAuditEventsResponse> {
        let page = Page::parse("audit", req.page_size, &req.page_token)?;
        let collate = self.db.dialect().collate_c();
        let mut sql = Sql::new(
            "SELECT id, time, caller, role, method, target, outcome FROM audit_events WHERE 1 = 1",
        );
        if let Some(after) = &page.after {
            sql.push(" AND (time < ").int(after.time);
            sql.push(" OR (time = ").int(after.time);
            sql.push(&format!(" AND id{collate} < "))
                .text(&after.key)
                .push("))");
        }
        sql.push(&format!(" ORDER BY time DESC, id{collate} DESC LIMIT "))
            .int(page.limit());
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        let events = rows
            .iter()
            .map(audit_from_row)
            .collect::<Result<Vec<_>>>()?;
        let (events, next_page_token) = page.finish(events, |e| {
            (
                e.id.clone(),
                e.time.as_ref().map(timestamp_to_micros).unwrap_or(0),
            )
        });
        Ok(ListAuditEventsResponse {
            events,
            next_page_token,
        })
    }
}

fn audit_from_row(row: &AnyRow) -> Result<AuditEvent> {
    let role = row
        .text("role")?
        .parse::<Role>()
        .map(|r| role_to_proto(r) as i32)
        .unwrap_or(0);
    Ok(AuditEvent {
        id: row.text("id")?,
        time: Some(timestamp_from_micros(row.int("time")?)),
        caller: row.text("caller")?,
        role,
        method: row.text("method")?,
        target: row.text("target")?,
        outcome: row.text("outcome")?,
    })
}
