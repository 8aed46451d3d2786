//! Repairing a persisted next due time that disagrees with the schedule (A3).
//!
//! A state armed for the current version of a schedule holds, as its next
//! due time, the schedule's first occurrence after the later of the last
//! handled due time and the configuration's last edit: arming stores exactly
//! that, and every tick moves it to the occurrence after its last run. Any
//! other value was written by someone else (a component that lied, or a hand
//! in the database): a date in 2099 would switch the schedule off, one in 1970
//! would flood the catalog with missed runs. The reconciler stores the right
//! value and raises an alert that says what it found.

use chrono::{DateTime, Utc};
use vigil_proto::catalog::v1::{Alert, AlertKind, AlertSeverity, ScheduleState};

use crate::alerts::Transition;
use crate::engine::Engine;
use crate::error::Result;
use crate::plan::stamp;
use crate::spec::{ScheduleDef, ts_to_time};

/// Dedup key prefix of the repair alert. It is not resolved by the
/// scheduler: someone should look at who wrote the bad value.
pub const SCHEDULE_REPAIRED: &str = "schedule-repaired:";

/// How far a replica's clock may run behind the one that ticked.
fn max_skew() -> chrono::TimeDelta {
    chrono::TimeDelta::minutes(5)
}

/// A persisted next due time that disagrees with the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// What the state holds.
    pub found: DateTime<Utc>,
    /// What it should hold.
    pub expected: Option<DateTime<Utc>>,
    /// The last handled due time lies in the future and is dropped too.
    pub drop_last_due: bool,
}

/// The disagreement of `state`, armed for `def`, if any.
pub fn disagreement(
    def: &ScheduleDef,
    state: &ScheduleState,
    now: DateTime<Utc>,
) -> Option<Disagreement> {
    if state.armed_etag != def.etag {
        return None;
    }
    let found = ts_to_time(state.next_due_time.as_ref()?);
    let last_due = state.last_due_time.as_ref().map(ts_to_time);
    let drop_last_due = last_due.is_some_and(|d| d > now + max_skew());
    let anchor = match last_due {
        Some(d) if !drop_last_due => d.max(def.edit_time),
        Some(_) => now.max(def.edit_time),
        None => def.edit_time,
    };
    let expected = def.schedule.next_after(anchor);
    (expected != Some(found) || drop_last_due).then_some(Disagreement {
        found,
        expected,
        drop_last_due,
    })
}

impl Engine {
    /// Stores the expected next due time of `state` and raises the alert.
    pub(crate) async fn repair(
        &self,
        def: &ScheduleDef,
        mut state: ScheduleState,
        d: &Disagreement,
        now: DateTime<Utc>,
    ) -> Result<ScheduleState> {
        let expected = d.expected.map_or_else(|| "none".to_owned(), stamp);
        let message = format!(
            "schedule {}: the persisted next due time {} disagreed with the schedule ({} expected) and was repaired",
            def.name,
            stamp(d.found),
            expected
        );
        tracing::warn!(schedule = %def.name, found = %stamp(d.found), %expected, "repairing a next due time that disagrees with the schedule");
        if d.drop_last_due {
            state.last_due_time = None;
        }
        let stored = self.store_armed(def, state, d.expected, now).await?;
        let alert = Alert {
            kind: AlertKind::ScheduleRepaired as i32,
            severity: AlertSeverity::Critical as i32,
            configuration: def.key.configuration.clone(),
            message,
            dedup_key: format!("{SCHEDULE_REPAIRED}{}", def.name),
            ..Default::default()
        };
        match self.catalog.raise_alert(alert).await {
            Ok(resp) if resp.opened => {
                if let Some(alert) = resp.alert {
                    self.notify(alert, Transition::Opened);
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(schedule = %def.name, error = %e, "cannot raise the repair alert")
            }
        }
        Ok(stored)
    }
}
