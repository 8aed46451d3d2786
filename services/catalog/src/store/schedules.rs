//! Schedule state owned by the scheduler and stored here: listing, reading
//! and compare-and-set puts. The guarded tick lives in `tick`.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use vigil_proto::catalog::v1::{
    EventKind, ListScheduleStatesRequest, ListScheduleStatesResponse, ScheduleHealth,
    ScheduleOutcome, ScheduleRole, ScheduleState,
};
use vigil_proto::{timestamp_from_micros, timestamp_to_micros};

use super::Store;
use crate::db::{Db, RowExt, Sql, u64_from_db, u64_to_db};
use crate::error::{Error, Result};
use crate::page::Page;
use crate::validate::{Checker, check_key};

pub(super) const COLUMNS: &str = "schedule, configuration, role, health, next_due_time, last_due_time, \
     last_fire_time, armed_time, armed_etag, paused, fired_count, skipped_count, missed_count, \
     owner, health_reason, revision, update_time";

pub(super) const OUTCOME_COLUMNS: &str =
    "schedule, due_time, outcome, job, record_time, detail, last_due_time, run_count";

pub(super) fn from_row(row: &AnyRow) -> Result<ScheduleState> {
    let ts = |col: &str| -> Result<_> { Ok(row.opt_int(col)?.map(timestamp_from_micros)) };
    Ok(ScheduleState {
        schedule: row.text("schedule")?,
        configuration: row.text("configuration")?,
        role: row.int("role")? as i32,
        health: row.int("health")? as i32,
        next_due_time: ts("next_due_time")?,
        last_due_time: ts("last_due_time")?,
        last_fire_time: ts("last_fire_time")?,
        armed_time: ts("armed_time")?,
        armed_etag: row.text("armed_etag")?,
        paused: row.flag("paused")?,
        fired_count: u64_from_db(row.int("fired_count")?),
        skipped_count: u64_from_db(row.int("skipped_count")?),
        missed_count: u64_from_db(row.int("missed_count")?),
        owner: row.text("owner")?,
        health_reason: row.text("health_reason")?,
        etag: row.int("revision")?.to_string(),
        update_time: ts("update_time")?,
    })
}

pub(super) fn outcome_from_row(row: &AnyRow) -> Result<ScheduleOutcome> {
    Ok(ScheduleOutcome {
        schedule: row.text("schedule")?,
        due_time: Some(timestamp_from_micros(row.int("due_time")?)),
        outcome: row.int("outcome")? as i32,
        job: row.text_or_empty("job")?,
        record_time: Some(timestamp_from_micros(row.int("record_time")?)),
        detail: row.text("detail")?,
        last_due_time: row.opt_int("last_due_time")?.map(timestamp_from_micros),
        count: u64_from_db(row.int("run_count")?),
    })
}

fn check_schedule_key(field: &str, key: &str) -> Result<()> {
    let mut v = Checker::new();
    check_key(&mut v, field, key, 200);
    v.finish()
}

fn check_state(s: &ScheduleState) -> Result<()> {
    let mut v = Checker::new();
    check_key(&mut v, "state.schedule", &s.schedule, 200);
    if s.configuration.chars().count() > 200 {
        v.add("state.configuration", "must be at most 200 characters");
    }
    if ScheduleRole::try_from(s.role).is_err() {
        v.add("state.role", format!("unknown value {}", s.role));
    }
    if ScheduleHealth::try_from(s.health).is_err() {
        v.add("state.health", format!("unknown value {}", s.health));
    }
    for (name, text, max) in [
        ("armed_etag", &s.armed_etag, 128),
        ("owner", &s.owner, 255),
        ("health_reason", &s.health_reason, 4096),
    ] {
        if text.chars().count() > max {
            v.add(
                format!("state.{name}"),
                format!("must be at most {max} characters"),
            );
        }
    }
    v.finish()
}

/// The bounds of a batch as a whole; each state is checked by [`check_state`].
fn check_state_batch(states: &[ScheduleState]) -> Result<()> {
    let mut v = Checker::new();
    if states.len() > MAX_STATES_PER_BATCH {
        v.add(
            "states",
            format!("must hold at most {MAX_STATES_PER_BATCH} states"),
        );
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = states.iter().find(|s| !seen.insert(s.schedule.as_str())) {
        v.add(
            "states",
            format!("names schedule {} more than once", twice.schedule),
        );
    }
    v.finish()
}

/// Most states in one `PutScheduleStates`.
const MAX_STATES_PER_BATCH: usize = 1000;

/// The stored columns of `state` after its key, up to its revision.
fn state_values(sql: &mut Sql, state: &ScheduleState) {
    sql.text(&state.configuration)
        .push(", ")
        .int(i64::from(state.role));
    sql.push(", ")
        .int(i64::from(state.health))
        .push(", ")
        .int(ts(&state.next_due_time));
    sql.push(", ")
        .int(ts(&state.last_due_time))
        .push(", ")
        .int(ts(&state.last_fire_time));
    sql.push(", ")
        .int(ts(&state.armed_time))
        .push(", ")
        .text(&state.armed_etag);
    sql.push(", ")
        .int(i64::from(state.paused))
        .push(", ")
        .int(u64_to_db(state.fired_count));
    sql.push(", ")
        .int(u64_to_db(state.skipped_count))
        .push(", ")
        .int(u64_to_db(state.missed_count));
    sql.push(", ")
        .text(&state.owner)
        .push(", ")
        .text(&state.health_reason);
}

pub(super) async fn find(
    store: &Store,
    conn: &mut AnyConnection,
    key: &str,
    lock: bool,
) -> Result<Option<ScheduleState>> {
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM schedule_states WHERE schedule = "
    ));
    sql.text(key);
    if lock {
        sql.push(store.db.dialect().for_update());
    }
    let row = sql.query().fetch_optional(&mut *conn).await?;
    row.as_ref().map(from_row).transpose()
}

pub(super) fn ts(t: &Option<prost_types::Timestamp>) -> Option<i64> {
    t.as_ref().map(timestamp_to_micros)
}

impl Store {
    /// One page of schedule states in key order.
    pub async fn list_schedule_states(
        &self,
        req: &ListScheduleStatesRequest,
    ) -> Result<ListScheduleStatesResponse> {
        let page = Page::parse("schedule_states", req.page_size, &req.page_token)?;
        let collate = self.db.dialect().collate_c();
        let mut sql = Sql::new(&format!(
            "SELECT {COLUMNS} FROM schedule_states WHERE 1 = 1"
        ));
        if let Some(after) = &page.after {
            sql.push(&format!(" AND schedule{collate} > "))
                .text(&after.key);
        }
        sql.push(&format!(" ORDER BY schedule{collate} LIMIT "))
            .int(page.limit());
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        let states = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        let (states, next_page_token) = page.finish(states, |s| (s.schedule.clone(), 0));
        Ok(ListScheduleStatesResponse {
            states,
            next_page_token,
        })
    }

    /// Every schedule state (for reports).
    pub async fn all_schedule_states(&self) -> Result<Vec<ScheduleState>> {
        let mut out = Vec::new();
        let mut req = ListScheduleStatesRequest {
            page_size: 1000,
            ..Default::default()
        };
        loop {
            let page = self.list_schedule_states(&req).await?;
            out.extend(page.states);
            if page.next_page_token.is_empty() {
                return Ok(out);
            }
            req.page_token = page.next_page_token;
        }
    }

    /// One schedule state and its `outcome_count` most recent outcomes (0 means 10).
    pub async fn get_schedule_state(
        &self,
        key: &str,
        outcome_count: i32,
    ) -> Result<(ScheduleState, Vec<ScheduleOutcome>)> {
        check_schedule_key("schedule", key)?;
        let count = match outcome_count {
            n if n < 0 => return Err(Error::invalid("outcome_count", "must not be negative")),
            0 => 10,
            n => n.min(1000),
        };
        let mut conn = self.db.pool().acquire().await?;
        let state = find(self, &mut conn, key, false)
            .await?
            .ok_or_else(|| Error::not_found("schedule", key))?;
        let mut sql = Sql::new(&format!(
            "SELECT {OUTCOME_COLUMNS} FROM schedule_outcomes WHERE schedule = "
        ));
        sql.text(key)
            .push(" ORDER BY due_time DESC LIMIT ")
            .int(i64::from(count));
        let rows = sql.query().fetch_all(&mut *conn).await?;
        let outcomes = rows
            .iter()
            .map(outcome_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok((state, outcomes))
    }

    /// Creates (empty etag) or replaces (matching etag) a schedule state.
    pub async fn put_schedule_state(&self, state: &ScheduleState) -> Result<ScheduleState> {
        check_state(state)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let result = self.write_state(&mut tx, state, now).await;
        let row = Db::finish(tx, result).await?;
        let stored = from_row(&row)?;
        self.events.publish([self.event(
            EventKind::ScheduleChanged,
            &stored.schedule,
            &stored.etag,
        )]);
        Ok(stored)
    }

    /// Creates or replaces many schedule states in one transaction. Each is
    /// checked on its own: a refused state gets its error as its result and
    /// changes nothing, the others are stored. A storage error fails the
    /// whole batch, which then changes nothing either.
    pub async fn put_schedule_states(
        &self,
        states: &[ScheduleState],
    ) -> Result<Vec<Result<ScheduleState>>> {
        check_state_batch(states)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let result: Result<Vec<Result<AnyRow>>> = async {
            let mut rows = Vec::with_capacity(states.len());
            for state in states {
                rows.push(match check_state(state) {
                    Ok(()) => self.write_state(&mut tx, state, now).await,
                    Err(refused) => Err(refused),
                });
            }
            Ok(rows)
        }
        .await;
        let rows = Db::finish(tx, result).await?;
        let stored: Vec<Result<ScheduleState>> = rows
            .into_iter()
            .map(|row| row.and_then(|r| from_row(&r)))
            .collect();
        self.events.publish(
            stored
                .iter()
                .flatten()
                .map(|s| self.event(EventKind::ScheduleChanged, &s.schedule, &s.etag)),
        );
        Ok(stored)
    }

    /// Stores one state under its compare-and-set: an empty etag creates, a
    /// matching one replaces. A refusal writes nothing.
    async fn write_state(
        &self,
        tx: &mut AnyConnection,
        state: &ScheduleState,
        now: i64,
    ) -> Result<AnyRow> {
        let stored = find(self, tx, &state.schedule, true).await?;
        let revision = match (&stored, state.etag.as_str()) {
            (None, "") => 1,
            (Some(_), "") => return Err(Error::already_exists("schedule", &state.schedule)),
            (None, _) => return Err(Error::not_found("schedule", &state.schedule)),
            (Some(s), etag) if s.etag != etag => {
                return Err(Error::Aborted(
                    "state.etag: does not match the stored etag, read the schedule state again"
                        .into(),
                ));
            }
            (Some(s), _) => s.etag.parse::<i64>().unwrap_or(0) + 1,
        };
        let mut sql = Sql::new("");
        if stored.is_none() {
            sql.push(&format!("INSERT INTO schedule_states ({COLUMNS}) VALUES ("));
            sql.text(&state.schedule).push(", ");
        } else {
            sql.push("UPDATE schedule_states SET (");
            sql.push(COLUMNS.trim_start_matches("schedule, "));
            sql.push(") = (");
        }
        state_values(&mut sql, state);
        sql.push(", ").int(revision).push(", ").int(now).push(")");
        if stored.is_some() {
            sql.push(" WHERE schedule = ").text(&state.schedule);
        } else {
            // Two creators racing: the loser finds the key taken.
            sql.push(" ON CONFLICT DO NOTHING");
        }
        sql.push(&format!(" RETURNING {COLUMNS}"));
        let row = sql.query().fetch_optional(&mut *tx).await?;
        row.ok_or_else(|| Error::already_exists("schedule", &state.schedule))
    }

    /// Removes a schedule state and its outcomes; jobs stay in the history.
    pub async fn delete_schedule_state(&self, key: &str) -> Result<()> {
        check_schedule_key("schedule", key)?;
        let mut tx = self.db.begin().await?;
        let result: Result<()> = async {
            let mut sql = Sql::new("DELETE FROM schedule_states WHERE schedule = ");
            sql.text(key);
            if sql.query().execute(&mut *tx).await?.rows_affected() == 0 {
                return Err(Error::not_found("schedule", key));
            }
            let mut sql = Sql::new("DELETE FROM schedule_outcomes WHERE schedule = ");
            sql.text(key);
            sql.query().execute(&mut *tx).await?;
            Ok(())
        }
        .await;
        Db::finish(tx, result).await?;
        self.events
            .publish([self.event(EventKind::ScheduleChanged, key, "")]);
        Ok(())
    }
}
