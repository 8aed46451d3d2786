//! A component cannot lie about the schedule (A3). Before a tick moves a
//! schedule, its times are checked against the schedule itself, computed here
//! with `vigil-schedule` from the stored configuration:
//! - every ticked due time lies between the persisted next due time and now
//!   (plus a small clock skew), so a tick cannot invent a backlog in 1970;
//! - the new next due time is the schedule's own next occurrence after the
//!   last ticked due time, or after the configuration's last edit (S7), so a
//!   tick cannot switch a schedule off with a date in 2099. While the due runs
//!   of a previous version are finished in slices, it may also be a due time
//!   between the last ticked one and the edit: that is in the past, so the
//!   next tick handles it at once.
//!
//! System schedules (retention prune, verify drill) are defined by the
//! scheduler's settings, which the catalog does not know: their next due time
//! must lie after the last ticked one and within one period (a day for the
//! prune, a week for the drill) of now.

use chrono::{DateTime, Utc};
use vigil_proto::catalog::v1::{
    BackupConfiguration, CommitScheduleTickRequest, ScheduleRole, ScheduleState,
};
use vigil_proto::timestamp_to_micros;

use super::schedules::ts;
use crate::error::{Error, Result};

/// How far a component's clock may run ahead of the catalog's.
const MAX_SKEW_MICROS: i64 = 5 * 60 * 1_000_000;
/// Slack on top of a system schedule's period (a DST shift and jitter).
const SYSTEM_SLACK_MICROS: i64 = 2 * 3600 * 1_000_000;
const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

fn refuse(field: &str, why: String) -> Error {
    Error::FailedPrecondition(format!("{field}: {why}"))
}

fn stamp(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| micros.to_string())
}

fn time(micros: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Checks the due times and the new next due time of `req` against the
/// schedule of `state` (read under the tick's lock). `config` is the stored
/// configuration of a backup schedule, read in the same transaction.
pub(super) fn check_tick_times(
    now: i64,
    state: &ScheduleState,
    req: &CommitScheduleTickRequest,
    config: Option<&BackupConfiguration>,
) -> Result<()> {
    let new_next = ts(&req.new_next_due_time);
    let Some(floor) = ts(&state.next_due_time) else {
        if req.runs.is_empty() && new_next.is_none() {
            return Ok(());
        }
        return Err(refuse(
            "schedule",
            "is not armed: it has no next due time to tick".into(),
        ));
    };
    let mut last = None;
    for (i, run) in req.runs.iter().enumerate() {
        let due = run
            .due_time
            .as_ref()
            .map(timestamp_to_micros)
            .unwrap_or_default();
        if due < floor {
            return Err(refuse(
                &format!("runs[{i}].due_time"),
                format!(
                    "{} is before the schedule's next due time {}",
                    stamp(due),
                    stamp(floor)
                ),
            ));
        }
        if due > now.saturating_add(MAX_SKEW_MICROS) {
            return Err(refuse(
                &format!("runs[{i}].due_time"),
                format!("{} is in the future", stamp(due)),
            ));
        }
        last = Some(last.map_or(due, |l: i64| l.max(due)));
    }
    let Some(last) = last else {
        if new_next == Some(floor) {
            return Ok(());
        }
        return Err(refuse(
            "new_next_due_time",
            "a tick without runs cannot move the next due time".into(),
        ));
    };
    match state.role() {
        ScheduleRole::Prune => check_system(new_next, last, now, DAY_MICROS),
        ScheduleRole::Verify => check_system(new_next, last, now, 7 * DAY_MICROS),
        ScheduleRole::Backup | ScheduleRole::Unspecified => {
            check_backup(config, state, new_next, last, now)
        }
    }
}

fn check_system(new_next: Option<i64>, last: i64, now: i64, period: i64) -> Result<()> {
    let ceiling = last.max(now).saturating_add(period + SYSTEM_SLACK_MICROS);
    match new_next {
        Some(n) if n > last && n <= ceiling => Ok(()),
        Some(n) => Err(refuse(
            "new_next_due_time",
            format!(
                "{} is not within one period of the system schedule after {}",
                stamp(n),
                stamp(last)
            ),
        )),
        None => Err(refuse(
            "new_next_due_time",
            "is required: a system schedule always has a next due time".into(),
        )),
    }
}

fn check_backup(
    config: Option<&BackupConfiguration>,
    state: &ScheduleState,
    new_next: Option<i64>,
    last: i64,
    now: i64,
) -> Result<()> {
    let config = config.ok_or_else(|| {
        refuse(
            "configuration",
            format!("{:?} no longer exists", state.configuration),
        )
    })?;
    let spec = config.schedule.as_ref().ok_or_else(|| {
        refuse(
            "configuration",
            format!("{:?} has no schedule", config.name),
        )
    })?;
    let schedule = vigil_schedule::schedule_from_proto(spec)
        .map_err(|e| refuse("configuration.schedule", e.to_string()))?;
    let edit = config
        .update_time
        .as_ref()
        .or(config.create_time.as_ref())
        .map(timestamp_to_micros)
        .unwrap_or_default();
    let micros = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_micros());
    // The common case first: the occurrence after the last ticked due time.
    if new_next == micros(schedule.next_after(time(last))) {
        return Ok(());
    }
    let after_edit = micros(schedule.next_after(time(last.max(edit))));
    let accepted =
        new_next == after_edit || new_next.is_some_and(|n| n > last && n <= edit.min(now));
    if accepted {
        return Ok(());
    }
    let expected = after_edit.map_or_else(|| "none".to_owned(), stamp);
    let got = new_next.map_or_else(|| "none".to_owned(), stamp);
    Err(refuse(
        "new_next_due_time",
        format!(
            "{got} is not the schedule's next occurrence after the ticked due time {} (expected {expected})",
            stamp(last)
        ),
    ))
}
