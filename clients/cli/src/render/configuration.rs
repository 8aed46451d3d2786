//! Configurations as tables.

use comfy_table::Table;
use vigil_proto::catalog::v1::{
    ApplyAction, ApplyResult, BackupConfiguration, Frequency, Preset, Retention, Schedule,
    schedule, secret_ref,
};

use crate::output::format::{self, or_none};
use crate::output::{Short, fields, table};

/// One line describing when a configuration runs.
pub(crate) fn schedule_summary(s: Option<&Schedule>) -> String {
    let Some(s) = s else {
        return "on demand".to_owned();
    };
    let zone = if s.timezone.is_empty() {
        "UTC"
    } else {
        s.timezone.as_str()
    };
    let rule = match &s.spec {
        Some(schedule::Spec::Cron(cron)) => format!("cron {cron}"),
        Some(schedule::Spec::Preset(p)) => preset_summary(p),
        None => "no recurrence".to_owned(),
    };
    format!("{rule} ({zone})")
}

fn preset_summary(p: &Preset) -> String {
    let time = or_none(&p.time_of_day);
    match p.frequency() {
        Frequency::Hourly => format!(
            "hourly at :{}",
            p.time_of_day.rsplit(':').next().unwrap_or("00")
        ),
        Frequency::Daily => format!("daily {time}"),
        Frequency::Weekly => format!("weekly {} {time}", p.day_of_week().short().to_lowercase()),
        Frequency::Monthly => format!("monthly day {} {time}", p.day_of_month),
        Frequency::Unspecified => format!("preset {time}"),
    }
}

/// Retention rules in one line, such as `30d, daily 7, weekly 4, monthly 12`.
pub(crate) fn retention_summary(r: Option<&Retention>) -> String {
    let Some(r) = r else {
        return format::NONE.to_owned();
    };
    let mut parts = Vec::new();
    if r.keep_within_days != 0 {
        parts.push(format!("{}d", r.keep_within_days));
    }
    for (n, name) in [
        (r.keep_last, "last"),
        (r.keep_daily, "daily"),
        (r.keep_weekly, "weekly"),
        (r.keep_monthly, "monthly"),
    ] {
        if n != 0 {
            parts.push(format!("{name} {n}"));
        }
    }
    if parts.is_empty() {
        format::NONE.to_owned()
    } else {
        parts.join(", ")
    }
}

/// The configuration list.
pub(crate) fn list(configs: &[BackupConfiguration]) -> Table {
    let mut t = table([
        "NAME",
        "KIND",
        "PURPOSE",
        "ENABLED",
        "SCHEDULE",
        "RETENTION",
    ]);
    for c in configs {
        t.add_row(vec![
            c.name.clone(),
            c.kind().short().to_owned(),
            c.purpose().short().to_owned(),
            format::yes_no(c.enabled()).to_owned(),
            schedule_summary(c.schedule.as_ref()),
            retention_summary(c.retention.as_ref()),
        ]);
    }
    t
}

/// Every field of one configuration.
pub(crate) fn detail(c: &BackupConfiguration) -> Table {
    let mut rows: Vec<(&str, String)> = vec![
        ("name", c.name.clone()),
        ("kind", c.kind().short().to_owned()),
        ("purpose", c.purpose().short().to_owned()),
        ("enabled", format::yes_no(c.enabled()).to_owned()),
        ("schedule", schedule_summary(c.schedule.as_ref())),
    ];
    if let Some(s) = &c.schedule {
        rows.push((
            "catch-up",
            format!(
                "{} (window {}, cap {})",
                s.catch_up().short(),
                format::duration(s.catch_up_window.as_ref()),
                s.catch_up_cap
            ),
        ));
        rows.push(("overlap", s.overlap().short().to_owned()));
        rows.push(("jitter", format::duration(s.jitter.as_ref())));
        rows.push(("grace", format::duration(s.grace.as_ref())));
    }
    if let Some(src) = &c.source {
        if let Some(db) = &src.database {
            let password = match db.password.as_ref().and_then(|p| p.source.as_ref()) {
                Some(secret_ref::Source::Env(name)) => format!("from env {name}"),
                Some(secret_ref::Source::File(path)) => format!("from file {path}"),
                None => "none".to_owned(),
            };
            rows.push(("database", format!("{} {}", db.engine().short(), db.url)));
            rows.push(("password", password));
        }
        rows.push(("paths", or_none(&src.paths.join("\n")).to_owned()));
        if !src.include.is_empty() {
            rows.push(("include", src.include.join("\n")));
        }
        if !src.exclude.is_empty() {
            rows.push(("exclude", src.exclude.join("\n")));
        }
    }
    rows.push(("retention", retention_summary(c.retention.as_ref())));
    let mut labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    rows.push(("labels", or_none(&labels.join(", ")).to_owned()));
    rows.push(("description", or_none(&c.description).to_owned()));
    rows.push(("created", format::time(c.create_time.as_ref())));
    rows.push(("updated", format::time(c.update_time.as_ref())));
    rows.push(("etag", or_none(&c.etag).to_owned()));
    fields(rows)
}

/// What `config apply` did, per configuration.
pub(crate) fn apply_results(results: &[ApplyResult]) -> Table {
    let mut t = table(["NAME", "ACTION"]);
    for r in results {
        t.add_row(vec![r.name.clone(), r.action().short().to_lowercase()]);
    }
    t
}

/// `12 configurations: 1 created, 2 updated, 9 unchanged`.
pub(crate) fn apply_summary(results: &[ApplyResult], dry_run: bool) -> String {
    let count = |a: ApplyAction| results.iter().filter(|r| r.action() == a).count();
    format!(
        "{} configurations: {} created, {} updated, {} unchanged{}",
        results.len(),
        count(ApplyAction::Created),
        count(ApplyAction::Updated),
        count(ApplyAction::Unchanged),
        if dry_run {
            " (dry run: nothing was stored)"
        } else {
            ""
        }
    )
}

/// What a large apply had done when one of its batches was refused: each
/// batch is all-or-nothing, earlier batches stay applied, later ones were
/// not sent.
pub(crate) fn apply_stopped(first: usize, len: usize, total: usize, dry_run: bool) -> String {
    let earlier = if first == 0 {
        "no earlier batch".to_owned()
    } else if dry_run {
        format!("configurations 1-{first} were checked")
    } else {
        format!("configurations 1-{first} were applied and stay applied")
    };
    format!(
        "note: the batch of configurations {}-{} of {total} was refused and changed nothing; \
         {earlier}; later configurations were not sent. Indexes in the error below \
         count from configuration {} (configurations[0] is the file's configuration {}).",
        first + 1,
        first + len,
        first + 1,
        first + 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_proto::catalog::v1::Weekday;

    #[test]
    fn schedules_read_naturally() {
        let cron = Schedule {
            spec: Some(schedule::Spec::Cron("0 2 * * *".into())),
            timezone: "Europe/Berlin".into(),
            ..Default::default()
        };
        assert_eq!(
            schedule_summary(Some(&cron)),
            "cron 0 2 * * * (Europe/Berlin)"
        );
        let weekly = Schedule {
            spec: Some(schedule::Spec::Preset(Preset {
                frequency: Frequency::Weekly as i32,
                time_of_day: "03:00".into(),
                day_of_week: Weekday::Sunday as i32,
                day_of_month: 0,
            })),
            ..Default::default()
        };
        assert_eq!(schedule_summary(Some(&weekly)), "weekly sunday 03:00 (UTC)");
        assert_eq!(schedule_summary(None), "on demand");
    }

    #[test]
    fn retention_lists_only_set_rules() {
        let r = Retention {
            keep_within_days: 30,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 12,
            ..Default::default()
        };
        assert_eq!(
            retention_summary(Some(&r)),
            "30d, daily 7, weekly 4, monthly 12"
        );
        assert_eq!(retention_summary(Some(&Retention::default())), "-");
    }

    #[test]
    fn apply_summary_counts_actions() {
        let r = |a: ApplyAction| ApplyResult {
            action: a as i32,
            ..Default::default()
        };
        let results = [
            r(ApplyAction::Created),
            r(ApplyAction::Unchanged),
            r(ApplyAction::Unchanged),
        ];
        assert_eq!(
            apply_summary(&results, false),
            "3 configurations: 1 created, 0 updated, 2 unchanged"
        );
        assert!(apply_summary(&results, true).ends_with("(dry run: nothing was stored)"));
        let shown = apply_results(&results).to_string();
        assert!(shown.contains("created") && shown.contains("unchanged"));
    }
}
