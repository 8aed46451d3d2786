//! Update masks of `UpdateConfiguration` (AIP-134): which paths exist, which
//! paths an omitted mask stands for, and how each path copies a field from the
//! request into the stored configuration.
//!
//! - An omitted or empty mask means the fields that are set in the request: a
//!   message that is present counts through the fields set inside it (an empty
//!   one counts as itself), a scalar or enum counts when it is not its default
//!   (`enabled` has presence and counts whenever it is sent), a list or map
//!   when it is not empty. So `{"name": "x", "enabled": false}` flips only
//!   `enabled`.
//! - `*` alone replaces every mutable field.
//! - To clear a field, name it in the mask and leave it unset in the request.

use vigil_proto::catalog::v1::{BackupConfiguration, DatabaseSource, Retention, Schedule, Source};

use crate::error::{Error, Result};

/// Every path an update mask may name.
pub const PATHS: &[&str] = &[
    "kind",
    "purpose",
    "enabled",
    "description",
    "labels",
    "schedule",
    "schedule.cron",
    "schedule.preset",
    "schedule.timezone",
    "schedule.catch_up",
    "schedule.catch_up_window",
    "schedule.catch_up_cap",
    "schedule.overlap",
    "schedule.jitter",
    "schedule.grace",
    "source",
    "source.database",
    "source.database.engine",
    "source.database.url",
    "source.database.password",
    "source.paths",
    "source.include",
    "source.exclude",
    "retention",
    "retention.keep_within_days",
    "retention.keep_last",
    "retention.keep_daily",
    "retention.keep_weekly",
    "retention.keep_monthly",
];

/// Paths that name fields a client cannot change.
const FIXED: &[&str] = &["name", "create_time", "update_time", "etag"];

/// The mask path that replaces every mutable field.
pub const FULL_REPLACEMENT: &str = "*";

/// Checks every path of `mask` before anything is read or written.
pub fn check_mask(paths: &[String]) -> Result<()> {
    if paths.iter().any(|p| p == FULL_REPLACEMENT) {
        if paths.len() > 1 {
            return Err(Error::invalid(
                "update_mask",
                "\"*\" replaces every field and must be the only path",
            ));
        }
        return Ok(());
    }
    for path in paths {
        if FIXED.contains(&path.as_str()) {
            return Err(Error::invalid(
                "update_mask",
                format!("path {path:?} cannot be changed"),
            ));
        }
        if !PATHS.contains(&path.as_str()) {
            let shown: String = path.chars().take(80).collect();
            return Err(Error::invalid(
                "update_mask",
                format!("unknown path {shown:?}"),
            ));
        }
    }
    Ok(())
}

/// The stored configuration with the masked fields taken from `new`.
///
/// An empty mask stands for the fields set in `new` ([`implied_paths`]); `*`
/// replaces every mutable field. `check_mask` must have passed.
pub fn apply_mask(
    stored: &BackupConfiguration,
    new: &BackupConfiguration,
    paths: &[String],
) -> BackupConfiguration {
    if paths.iter().any(|p| p == FULL_REPLACEMENT) {
        let mut out = new.clone();
        out.name = stored.name.clone();
        return out;
    }
    let implied;
    let paths = if paths.is_empty() {
        implied = implied_paths(new);
        &implied
    } else {
        paths
    };
    let mut out = stored.clone();
    for path in paths {
        copy_path(&mut out, new, path);
    }
    out
}

/// The paths an omitted mask stands for: every field set in `new` (AIP-134).
pub fn implied_paths(new: &BackupConfiguration) -> Vec<String> {
    let mut out = Vec::new();
    let mut set = |on: bool, path: &str| {
        if on {
            out.push(path.to_owned());
        }
    };
    set(new.kind != 0, "kind");
    set(new.purpose != 0, "purpose");
    set(new.enabled.is_some(), "enabled");
    set(!new.description.is_empty(), "description");
    set(!new.labels.is_empty(), "labels");
    if let Some(s) = &new.schedule {
        nested(&mut out, "schedule", &schedule_paths(s));
    }
    if let Some(s) = &new.source {
        nested(&mut out, "source", &source_paths(s));
    }
    if let Some(r) = &new.retention {
        nested(&mut out, "retention", &retention_paths(r));
    }
    out
}

/// `prefix.field` for each set field, or `prefix` itself for an empty message.
fn nested(out: &mut Vec<String>, prefix: &str, fields: &[String]) {
    if fields.is_empty() {
        out.push(prefix.to_owned());
    }
    out.extend(fields.iter().map(|f| format!("{prefix}.{f}")));
}

fn names(pairs: &[(bool, &str)]) -> Vec<String> {
    pairs
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| (*name).to_owned())
        .collect()
}

fn schedule_paths(s: &Schedule) -> Vec<String> {
    names(&[
        // cron and preset share one oneof: either path copies the recurrence.
        (s.spec.is_some(), "cron"),
        (!s.timezone.is_empty(), "timezone"),
        (s.catch_up != 0, "catch_up"),
        (s.catch_up_window.is_some(), "catch_up_window"),
        (s.catch_up_cap != 0, "catch_up_cap"),
        (s.overlap != 0, "overlap"),
        (s.jitter.is_some(), "jitter"),
        (s.grace.is_some(), "grace"),
    ])
}

fn source_paths(s: &Source) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(db) = &s.database {
        nested(&mut out, "database", &database_paths(db));
    }
    out.extend(names(&[
        (!s.paths.is_empty(), "paths"),
        (!s.include.is_empty(), "include"),
        (!s.exclude.is_empty(), "exclude"),
    ]));
    out
}

fn database_paths(db: &DatabaseSource) -> Vec<String> {
    names(&[
        (db.engine != 0, "engine"),
        (!db.url.is_empty(), "url"),
        (db.password.is_some(), "password"),
    ])
}

fn retention_paths(r: &Retention) -> Vec<String> {
    names(&[
        (r.keep_within_days != 0, "keep_within_days"),
        (r.keep_last != 0, "keep_last"),
        (r.keep_daily != 0, "keep_daily"),
        (r.keep_weekly != 0, "keep_weekly"),
        (r.keep_monthly != 0, "keep_monthly"),
    ])
}

fn copy_path(out: &mut BackupConfiguration, new: &BackupConfiguration, path: &str) {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    match (head, rest) {
        ("kind", _) => out.kind = new.kind,
        ("purpose", _) => out.purpose = new.purpose,
        ("enabled", _) => out.enabled = new.enabled,
        ("description", _) => out.description = new.description.clone(),
        ("labels", _) => out.labels = new.labels.clone(),
        ("schedule", "") => out.schedule = new.schedule.clone(),
        ("schedule", field) => {
            let from = new.schedule.clone().unwrap_or_default();
            let to = out.schedule.get_or_insert_with(Default::default);
            match field {
                // cron and preset are one oneof: either path copies the recurrence.
                "cron" | "preset" => to.spec = from.spec,
                "timezone" => to.timezone = from.timezone,
                "catch_up" => to.catch_up = from.catch_up,
                "catch_up_window" => to.catch_up_window = from.catch_up_window,
                "catch_up_cap" => to.catch_up_cap = from.catch_up_cap,
                "overlap" => to.overlap = from.overlap,
                "jitter" => to.jitter = from.jitter,
                "grace" => to.grace = from.grace,
                _ => {}
            }
        }
        ("source", "") => out.source = new.source.clone(),
        ("source", field) => {
            let from = new.source.clone().unwrap_or_default();
            let to = out.source.get_or_insert_with(Default::default);
            match field {
                "database" => to.database = from.database,
                "paths" => to.paths = from.paths,
                "include" => to.include = from.include,
                "exclude" => to.exclude = from.exclude,
                db_field => {
                    let from_db = from.database.unwrap_or_default();
                    let to_db = to.database.get_or_insert_with(Default::default);
                    match db_field {
                        "database.engine" => to_db.engine = from_db.engine,
                        "database.url" => to_db.url = from_db.url,
                        "database.password" => to_db.password = from_db.password,
                        _ => {}
                    }
                }
            }
        }
        ("retention", "") => out.retention = new.retention,
        ("retention", field) => {
            let from = new.retention.unwrap_or_default();
            let to = out.retention.get_or_insert_with(Default::default);
            match field {
                "keep_within_days" => to.keep_within_days = from.keep_within_days,
                "keep_last" => to.keep_last = from.keep_last,
                "keep_daily" => to.keep_daily = from.keep_daily,
                "keep_weekly" => to.keep_weekly = from.keep_weekly,
                "keep_monthly" => to.keep_monthly = from.keep_monthly,
                _ => {}
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_retention(daily: i32, weekly: i32) -> BackupConfiguration {
        BackupConfiguration {
            name: "x".into(),
            retention: Some(Retention {
                keep_daily: daily,
                keep_weekly: weekly,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn sub_paths_copy_only_their_field() {
        let stored = with_retention(7, 4);
        let new = with_retention(9, 0);
        let out = apply_mask(&stored, &new, &["retention.keep_daily".into()]);
        assert_eq!(
            out.retention,
            Some(Retention {
                keep_daily: 9,
                keep_weekly: 4,
                ..Default::default()
            })
        );
    }

    #[test]
    fn star_replaces_everything_but_the_name() {
        let stored = with_retention(7, 4);
        let mut new = with_retention(1, 0);
        new.name = "other".into();
        let out = apply_mask(&stored, &new, &["*".into()]);
        assert_eq!(out.name, "x");
        assert_eq!(out.retention.unwrap().keep_daily, 1);
        assert_eq!(out.retention.unwrap().keep_weekly, 0);
        assert!(check_mask(&["*".into(), "kind".into()]).is_err());
    }

    #[test]
    fn empty_mask_takes_only_the_fields_that_are_set() {
        let mut stored = with_retention(7, 4);
        stored.enabled = Some(true);
        stored.schedule = Some(Schedule {
            timezone: "Europe/Berlin".into(),
            ..Default::default()
        });
        let new = BackupConfiguration {
            name: "x".into(),
            enabled: Some(false),
            retention: Some(Retention {
                keep_daily: 9,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            implied_paths(&new),
            vec!["enabled".to_owned(), "retention.keep_daily".to_owned()]
        );
        let out = apply_mask(&stored, &new, &[]);
        assert_eq!(out.enabled, Some(false));
        assert_eq!(out.schedule, stored.schedule);
        let kept = out.retention.unwrap();
        assert_eq!((kept.keep_daily, kept.keep_weekly), (9, 4));
    }

    #[test]
    fn an_empty_message_counts_as_itself() {
        let new = BackupConfiguration {
            source: Some(Source::default()),
            ..Default::default()
        };
        assert_eq!(implied_paths(&new), vec!["source".to_owned()]);
    }

    #[test]
    fn unknown_and_fixed_paths_are_refused() {
        let err = check_mask(&["retention.keep_hourly".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "update_mask: unknown path \"retention.keep_hourly\""
        );
        assert!(check_mask(&["name".into()]).is_err());
        assert!(check_mask(&["schedule.cron".into(), "enabled".into()]).is_ok());
    }
}
