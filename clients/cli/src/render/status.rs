//! The status report, laid out like the hand-written report it replaces:
//! verdict, summary, configurations by category, job history, freshness,
//! adherence, scheduler health, retention, alerts, risk and recommendations.

use vigil_proto::catalog::v1::ScheduleOutcome;
use vigil_proto::status::v1::{RiskLevel, StatusReport, Verdict};

use super::blocks::Block::{self, *};
use crate::output::Short;
use crate::output::format::{self, or_none};

/// `PARTIALLY WORKING` and its marker.
fn verdict_words(v: Verdict) -> (&'static str, String) {
    let icon = match v {
        Verdict::Healthy => "✅",
        Verdict::PartiallyWorking => "⚠️",
        Verdict::Failing => "❌",
        Verdict::Unspecified => "❔",
    };
    (icon, v.short().replace('_', " "))
}

fn risk_words(r: RiskLevel) -> (&'static str, &'static str) {
    let icon = match r {
        RiskLevel::Low => "🟢",
        RiskLevel::Medium => "🟡",
        RiskLevel::High => "🔴",
        RiskLevel::Unspecified => "⚪",
    };
    (icon, r.short())
}

fn mark(ok: bool) -> &'static str {
    if ok { "✅" } else { "❌" }
}

/// The report as blocks; `icons` adds the emoji markers (Markdown only).
pub(crate) fn blocks(r: &StatusReport, icons: bool) -> Vec<Block> {
    let icon = |s: &str| {
        if icons {
            format!("{s} ")
        } else {
            String::new()
        }
    };
    let (v_icon, v_words) = verdict_words(r.verdict());
    let (r_icon, r_words) = risk_words(r.risk());
    let mut b = vec![
        Heading(1, "Backup System Status Report".into()),
        Heading(2, format!("Current Status: {}**{v_words}**", icon(v_icon))),
        Para(format!(
            "{}\n\nGenerated {}",
            or_none(&r.headline),
            format::time(r.generate_time.as_ref())
        )),
        Rule,
        Heading(2, "Summary".into()),
    ];
    let mut summary: Vec<String> = r
        .working
        .iter()
        .map(|w| format!("{}{w}", icon(mark(true))))
        .collect();
    summary.extend(
        r.not_working
            .iter()
            .map(|w| format!("{}{w}", icon(mark(false)))),
    );
    if !summary.is_empty() {
        b.push(Bullets(summary));
    }
    b.push(Rule);
    b.push(Heading(2, "Detailed Analysis".into()));
    configurations(&mut b, r);
    jobs(&mut b, r);
    freshness(&mut b, r);
    adherence(&mut b, r);
    scheduler(&mut b, r, icons);
    retention(&mut b, r);
    alerts(&mut b, r);
    b.push(Rule);
    b.push(Heading(2, "Impact Assessment".into()));
    b.push(Heading(
        3,
        format!("Current Risk Level: {}**{r_words}**", icon(r_icon)),
    ));
    if !r.risk_reasons.is_empty() {
        b.push(Bullets(r.risk_reasons.clone()));
    }
    recommendations(&mut b, r);
    b.push(Rule);
    b.push(Bullets(vec![
        format!("**Status:** {}{v_words}", icon(v_icon)),
        format!("**Risk:** {r_words}"),
    ]));
    b
}

fn configurations(b: &mut Vec<Block>, r: &StatusReport) {
    let c = r.configurations.clone().unwrap_or_default();
    b.push(Heading(3, "1. Backup Configurations".into()));
    b.push(Para(format!("**Total Configurations:** {}", c.total)));
    let groups = [
        ("Active Scheduled Backups", &c.scheduled_active),
        ("Inactive Configurations", &c.inactive),
        ("On-Demand Configurations", &c.on_demand),
        ("Leftover Temporary or Test Configurations", &c.leftovers),
    ];
    for (title, entries) in groups {
        b.push(Heading(4, format!("{title} ({})", entries.len())));
        if entries.is_empty() {
            b.push(Para("None.".into()));
            continue;
        }
        let rows = entries
            .iter()
            .map(|e| {
                vec![
                    e.name.clone(),
                    e.kind().short().to_owned(),
                    e.purpose().short().to_owned(),
                    or_none(&e.frequency).to_owned(),
                    or_none(&e.schedule).to_owned(),
                    format::yes_no(e.enabled).to_owned(),
                ]
            })
            .collect();
        b.push(Table(
            strings(&[
                "Configuration",
                "Type",
                "Purpose",
                "Frequency",
                "Schedule",
                "Enabled",
            ]),
            rows,
        ));
    }
}

fn jobs(b: &mut Vec<Block>, r: &StatusReport) {
    let j = r.jobs.clone().unwrap_or_default();
    b.push(Heading(3, "2. Backup Jobs History".into()));
    let finished = j.completed + j.failed + j.cancelled;
    let rate = if finished == 0 {
        "n/a".to_owned()
    } else {
        format!("{:.0}%", j.success_rate * 100.0)
    };
    b.push(Bullets(vec![
        format!("**Window:** last {}", format::duration(j.window.as_ref())),
        format!(
            "**Total Jobs:** {} ({} completed, {} failed, {} cancelled, {} active)",
            j.total, j.completed, j.failed, j.cancelled, j.active
        ),
        format!("**Success rate:** {rate}"),
        format!(
            "**Triggered:** {} by the scheduler, {} by hand",
            j.scheduled, j.manual
        ),
        format!(
            "**Most recent success:** {} ({})",
            format::time(j.last_success_time.as_ref()),
            format::ago(j.last_success_time.as_ref())
        ),
    ]));
    if !j.operations.is_empty() {
        let counts: Vec<String> = j
            .operations
            .iter()
            .map(|o| {
                format!(
                    "{} {} ({} completed, {} failed)",
                    o.total,
                    o.kind().short().to_lowercase(),
                    o.completed,
                    o.failed
                )
            })
            .collect();
        b.push(Para(format!(
            "**Other jobs (not counted above):** {}",
            counts.join(", ")
        )));
    }
    if !j.recent.is_empty() {
        let rows = j
            .recent
            .iter()
            .map(|e| {
                vec![
                    e.name.clone(),
                    or_none(&e.configuration).to_owned(),
                    e.kind().short().to_owned(),
                    e.trigger().short().to_owned(),
                    e.state().short().to_owned(),
                    format::time(e.start_time.as_ref()),
                    or_none(&e.note).to_owned(),
                ]
            })
            .collect();
        b.push(Table(
            strings(&[
                "Job Name",
                "Configuration",
                "Kind",
                "Trigger",
                "Status",
                "Date",
                "Notes",
            ]),
            rows,
        ));
    }
}

fn freshness(b: &mut Vec<Block>, r: &StatusReport) {
    b.push(Heading(3, "3. Backup Freshness".into()));
    if r.freshness.is_empty() {
        b.push(Para("No configurations.".into()));
        return;
    }
    let rows = r
        .freshness
        .iter()
        .map(|f| {
            vec![
                f.configuration.clone(),
                format::time(f.last_success_time.as_ref()),
                format::duration(f.age.as_ref()),
                format::duration(f.expected_interval.as_ref()),
                format::duration(f.gap.as_ref()),
                or_none(&f.state).to_owned(),
            ]
        })
        .collect();
    b.push(Table(
        strings(&[
            "Configuration",
            "Last Success",
            "Age",
            "Expected Every",
            "Gap",
            "State",
        ]),
        rows,
    ));
}

fn adherence(b: &mut Vec<Block>, r: &StatusReport) {
    b.push(Heading(3, "4. Schedule Adherence".into()));
    if r.adherence.is_empty() {
        b.push(Para("No runs in the window.".into()));
        return;
    }
    let rows = r
        .adherence
        .iter()
        .map(|a| {
            vec![
                a.configuration.clone(),
                a.job.clone(),
                format::time(a.due_time.as_ref()),
                format::time(a.start_time.as_ref()),
                format::duration(a.delay.as_ref()),
                a.trigger().short().to_owned(),
                format::yes_no(a.on_schedule).to_owned(),
            ]
        })
        .collect();
    b.push(Table(
        strings(&[
            "Configuration",
            "Job",
            "Due",
            "Started",
            "Delay",
            "Trigger",
            "On Schedule",
        ]),
        rows,
    ));
}

fn scheduler(b: &mut Vec<Block>, r: &StatusReport, icons: bool) {
    b.push(Heading(3, "5. Scheduler Health".into()));
    b.push(Bullets(liveness_lines(r, icons)));
    if r.schedules.is_empty() {
        b.push(Para("No schedules.".into()));
        return;
    }
    let rows = r
        .schedules
        .iter()
        .map(|s| {
            vec![
                s.schedule.clone(),
                or_none(&s.description).to_owned(),
                s.health().short().to_owned(),
                format::yes_no(s.armed).to_owned(),
                if s.never_fired {
                    "**never**".to_owned()
                } else {
                    format::time(s.last_fire_time.as_ref())
                },
                format::time(s.next_fire_time.as_ref()),
                s.missed_in_window.to_string(),
                or_none(&s.reason).to_owned(),
            ]
        })
        .collect();
    b.push(Table(
        strings(&[
            "Schedule",
            "When",
            "Health",
            "Armed",
            "Last Fire",
            "Next Fire",
            "Missed",
            "Reason",
        ]),
        rows,
    ));
    let missed: Vec<String> = r
        .schedules
        .iter()
        .flat_map(|s| s.missed.iter().map(move |o| missed_line(&s.schedule, o)))
        .collect();
    if !missed.is_empty() {
        b.push(Para("**Missed runs** (newest first):".into()));
        b.push(Bullets(missed));
    }
}

/// The scheduler and executor lines: alive, or down since when.
fn liveness_lines(r: &StatusReport, icons: bool) -> Vec<String> {
    let l = r.liveness.clone().unwrap_or_default();
    let sched = if l.scheduler_alive {
        format!(
            "running ({} replica{})",
            l.schedulers,
            if l.schedulers == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "**DOWN** since {}",
            format::time(l.scheduler_down_since.as_ref())
        )
    };
    let exec = if l.executors > 0 {
        format!(
            "{} alive, offering {}",
            l.executors,
            or_none(&l.executor_capabilities.join(", "))
        )
    } else {
        format!(
            "**none alive** (last seen {})",
            format::time(l.executor_down_since.as_ref())
        )
    };
    let prefix = |ok: bool| {
        if icons {
            format!("{} ", mark(ok))
        } else {
            String::new()
        }
    };
    vec![
        format!("{}**Scheduler:** {sched}", prefix(l.scheduler_alive)),
        format!("{}**Executors:** {exec}", prefix(l.executors > 0)),
    ]
}

/// One MISSED outcome: a single due time or a range of them.
fn missed_line(schedule: &str, o: &ScheduleOutcome) -> String {
    let first = format::time(o.due_time.as_ref());
    let runs = match &o.last_due_time {
        Some(last) if o.count > 1 => format!(
            "{} due runs from {first} to {}",
            o.count,
            format::time(Some(last))
        ),
        _ => format!("the run due {first}"),
    };
    if o.detail.is_empty() {
        format!("{schedule}: {runs}")
    } else {
        format!("{schedule}: {runs} ({})", o.detail)
    }
}

fn retention(b: &mut Vec<Block>, r: &StatusReport) {
    b.push(Heading(3, "6. Retention".into()));
    if r.retention.is_empty() {
        b.push(Para("No retention policies.".into()));
        return;
    }
    let rows = r
        .retention
        .iter()
        .map(|e| {
            vec![
                e.configuration.clone(),
                super::configuration::retention_summary(e.policy.as_ref()),
                e.artifacts.to_string(),
                format::time(e.oldest_artifact_time.as_ref()),
                if e.last_prune_time.is_some() {
                    format::time(e.last_prune_time.as_ref())
                } else {
                    "**never**".to_owned()
                },
                format::yes_no(e.overdue).to_owned(),
                format::bytes(e.stored_bytes),
            ]
        })
        .collect();
    b.push(Table(
        strings(&[
            "Configuration",
            "Policy",
            "Artifacts",
            "Oldest",
            "Last Prune",
            "Overdue",
            "Stored",
        ]),
        rows,
    ));
}

fn alerts(b: &mut Vec<Block>, r: &StatusReport) {
    b.push(Heading(
        3,
        format!("7. Open Alerts ({})", r.open_alerts.len()),
    ));
    if r.open_alerts.is_empty() {
        b.push(Para("None.".into()));
        return;
    }
    let rows = r
        .open_alerts
        .iter()
        .map(|a| {
            vec![
                a.severity().short().to_owned(),
                a.kind().short().to_owned(),
                or_none(&a.configuration).to_owned(),
                a.message.clone(),
                format::time(a.open_time.as_ref()),
            ]
        })
        .collect();
    b.push(Table(
        strings(&["Severity", "Kind", "Configuration", "Message", "Since"]),
        rows,
    ));
}

fn recommendations(b: &mut Vec<Block>, r: &StatusReport) {
    b.push(Rule);
    b.push(Heading(2, "Recommended Actions".into()));
    if r.recommendations.is_empty() {
        b.push(Para("Nothing to do.".into()));
        return;
    }
    let mut recs = r.recommendations.clone();
    recs.sort_by_key(|x| x.priority);
    for rec in recs {
        b.push(Heading(
            3,
            format!("Priority {}: {}", rec.priority, rec.title),
        ));
        if !rec.detail.is_empty() {
            b.push(Para(rec.detail.clone()));
        }
        if !rec.subjects.is_empty() {
            b.push(Bullets(
                rec.subjects.iter().map(|s| format!("`{s}`")).collect(),
            ));
        }
        if !rec.command.is_empty() {
            b.push(Code(rec.command.clone()));
        }
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests;
