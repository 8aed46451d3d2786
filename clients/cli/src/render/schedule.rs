//! Schedules as tables.

use comfy_table::Table;
use vigil_proto::scheduler::v1::{PreviewScheduleResponse, ScheduleView};

use crate::output::format::{self, or_none};
use crate::output::{Short, fields, table};

fn health(v: &ScheduleView) -> String {
    let state = v.state.clone().unwrap_or_default();
    let mut h = state.health().short().to_owned();
    if v.never_fired && v.enabled {
        h.push_str(" (never fired)");
    }
    h
}

/// The schedule list.
pub(crate) fn list(views: &[ScheduleView]) -> Table {
    let mut t = table([
        "SCHEDULE",
        "ROLE",
        "ENABLED",
        "HEALTH",
        "WHEN",
        "NEXT DUE",
        "LAST FIRE",
        "FIRED",
        "SKIPPED",
        "MISSED",
    ]);
    for v in views {
        let s = v.state.clone().unwrap_or_default();
        t.add_row(vec![
            s.schedule.clone(),
            s.role().short().to_owned(),
            format!(
                "{}{}",
                format::yes_no(v.enabled),
                if s.paused { ", paused" } else { "" }
            ),
            health(v),
            or_none(&v.description).to_owned(),
            format::time(v.next_due_times.first().or(s.next_due_time.as_ref())),
            format::time(s.last_fire_time.as_ref()),
            s.fired_count.to_string(),
            s.skipped_count.to_string(),
            s.missed_count.to_string(),
        ]);
    }
    t
}

/// One schedule: state, next due times, counters and recent outcomes.
pub(crate) fn detail(v: &ScheduleView) -> String {
    let s = v.state.clone().unwrap_or_default();
    let next: Vec<String> = v
        .next_due_times
        .iter()
        .map(|t| format::time(Some(t)))
        .collect();
    let state = fields([
        ("schedule", s.schedule.clone()),
        ("configuration", s.configuration.clone()),
        ("role", s.role().short().to_owned()),
        ("when", or_none(&v.description).to_owned()),
        ("enabled", format::yes_no(v.enabled).to_owned()),
        ("paused", format::yes_no(s.paused).to_owned()),
        ("health", health(v)),
        ("reason", or_none(&s.health_reason).to_owned()),
        ("armed since", format::time(s.armed_time.as_ref())),
        (
            "next due",
            if next.is_empty() {
                format::NONE.to_owned()
            } else {
                next.join("\n")
            },
        ),
        ("last due", format::time(s.last_due_time.as_ref())),
        ("last fire", format::time(s.last_fire_time.as_ref())),
        ("interval", format::duration(v.expected_interval.as_ref())),
        ("grace", format::duration(v.grace.as_ref())),
        ("fired", s.fired_count.to_string()),
        ("skipped (overlap)", s.skipped_count.to_string()),
        ("missed", s.missed_count.to_string()),
        ("owner", or_none(&s.owner).to_owned()),
    ]);
    let mut out = state.to_string();
    if !v.recent_outcomes.is_empty() {
        let mut t = table(["DUE", "OUTCOME", "JOB", "RECORDED", "DETAIL"]);
        for o in &v.recent_outcomes {
            let due = match &o.last_due_time {
                Some(last) => format!(
                    "{} .. {} ({} due times)",
                    format::time(o.due_time.as_ref()),
                    format::time(Some(last)),
                    o.count
                ),
                None => format::time(o.due_time.as_ref()),
            };
            t.add_row(vec![
                due,
                o.outcome().short().to_owned(),
                or_none(&o.job).to_owned(),
                format::time(o.record_time.as_ref()),
                or_none(&o.detail).to_owned(),
            ]);
        }
        out.push_str("\n\nRecent outcomes\n");
        out.push_str(&t.to_string());
    }
    out
}

/// The fire times of a preview.
pub(crate) fn preview(p: &PreviewScheduleResponse) -> String {
    let mut t = table(["#", "FIRE TIME (LOCAL)", "UTC"]);
    for (i, ts) in p.fire_times.iter().enumerate() {
        let utc = format::utc(Some(ts))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        t.add_row(vec![(i + 1).to_string(), format::time(Some(ts)), utc]);
    }
    format!(
        "{}\nevery {} (typical interval)\n{t}",
        or_none(&p.description),
        format::duration(p.expected_interval.as_ref())
    )
}
