//! Update masks of `UpdateConfiguration`: which paths exist and how each one
//! copies a field from the request into the stored configuration.

use vigil_proto::catalog::v1::BackupConfiguration;

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

/// Checks every path of `mask` before anything is read or written.
pub fn check_mask(paths: &[String]) -> Result<()> {
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
/// An empty mask replaces every mutable field. `check_mask` must have passed.
pub fn apply_mask(
    stored: &BackupConfiguration,
    new: &BackupConfiguration,
    paths: &[String],
) -> BackupConfiguration {
    let mut out = stored.clone();
    if paths.is_empty() {
        let mut out = new.clone();
        out.name = stored.name.clone();
        return out;
    }
    for path in paths {
        copy_path(&mut out, new, path);
    }
    out
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
    use vigil_proto::catalog::v1::Retention;

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
    fn empty_mask_replaces_everything_but_the_name() {
        let stored = with_retention(7, 4);
        let mut new = with_retention(1, 1);
        new.name = "other".into();
        let out = apply_mask(&stored, &new, &[]);
        assert_eq!(out.name, "x");
        assert_eq!(out.retention.unwrap().keep_daily, 1);
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
