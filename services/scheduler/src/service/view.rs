//! Building [`ScheduleView`]s: the stored state, the definition, the next
//! due times and a live check that a stale stored health never hides a
//! schedule that is not firing.

use chrono::{DateTime, Utc};
use vigil_proto::catalog::v1::{ScheduleHealth, ScheduleOutcome, ScheduleState};
use vigil_proto::scheduler::v1::ScheduleView;

use crate::health::{Facts, assess};
use crate::key::ScheduleKey;
use crate::spec::{Def, time_to_ts, ts_to_time};

/// What a view is built from.
pub(crate) struct ViewInput<'a> {
    pub key: &'a str,
    pub state: Option<ScheduleState>,
    pub def: Option<&'a Def>,
    /// The schedule message the definition was built from.
    pub spec: Option<vigil_proto::catalog::v1::Schedule>,
    pub enabled: bool,
    pub next_count: usize,
    pub outcomes: Vec<ScheduleOutcome>,
    pub now: DateTime<Utc>,
}

/// Builds the view of one schedule.
pub(crate) fn build(input: ViewInput<'_>) -> ScheduleView {
    let def = input.def.and_then(|d| d.as_ref().ok());
    let mut state = input
        .state
        .unwrap_or_else(|| missing_state(input.key, input.def, input.enabled));
    if let Some(def) = def {
        let live = assess(&Facts {
            now: input.now,
            paused: state.paused,
            next_due: state.next_due_time.as_ref().map(ts_to_time),
            last_due: state.last_due_time.as_ref().map(ts_to_time),
            fired_count: state.fired_count,
            armed: state.armed_time.as_ref().map(ts_to_time),
            tolerance: def.tolerance(),
            tick: None,
            jobs: &[],
            executor_problem: None,
            unarmed_reason: None,
            previous: (state.health(), &state.health_reason),
        });
        // The stored health comes from the last tick; if no replica has
        // ticked since a due time plus grace passed, say so.
        if live.health == ScheduleHealth::Down && state.health() != ScheduleHealth::Down {
            state.set_health(live.health);
            state.health_reason = live.reason;
        }
    }
    let next_due_times = match (def, state.next_due_time.as_ref().map(ts_to_time)) {
        (Some(def), Some(next)) if input.next_count > 0 => {
            let mut times = vec![next];
            times.extend(def.schedule.next_n(next, input.next_count - 1));
            times.into_iter().map(time_to_ts).collect()
        }
        _ => Vec::new(),
    };
    ScheduleView {
        never_fired: state.fired_count == 0,
        state: Some(state),
        schedule: def.and(input.spec),
        description: def.map(|d| d.describe()).unwrap_or_default(),
        next_due_times,
        recent_outcomes: input.outcomes,
        expected_interval: def.map(|d| vigil_proto::duration_to_proto(d.expected_interval)),
        grace: def.map(|d| vigil_proto::duration_to_proto(d.grace)),
        enabled: input.enabled,
    }
}

/// The state shown for a schedule that should exist but has none stored:
/// UNARMED, never healthy.
fn missing_state(key: &str, def: Option<&Def>, enabled: bool) -> ScheduleState {
    let parsed = ScheduleKey::parse(key, "schedule").ok();
    let reason = match def {
        Some(Err(u)) => u.reason.clone(),
        Some(Ok(_)) => "no scheduler replica has armed this schedule yet".to_owned(),
        None if !enabled => "the configuration is disabled".to_owned(),
        None => "the schedule is not armed".to_owned(),
    };
    let mut state = ScheduleState {
        schedule: key.to_owned(),
        configuration: parsed
            .as_ref()
            .map(|k| k.configuration.clone())
            .unwrap_or_default(),
        role: parsed.map(|k| k.role.to_proto() as i32).unwrap_or_default(),
        health_reason: reason,
        ..Default::default()
    };
    state.set_health(ScheduleHealth::Unarmed);
    state
}
