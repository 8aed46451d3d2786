//! Validation and normalisation of a `BackupConfiguration`.

use vigil_proto::catalog::v1::{
    BackupConfiguration, BackupKind, CatchUpPolicy, DatabaseEngine, OverlapPolicy, Purpose,
};

use super::fields::{
    check_absolute_path, check_database_url, check_secret_ref, check_terminal_safe, has_control,
};
use super::{Checker, char_len, validate_schedule};

/// Longest configuration name.
pub(super) const MAX_NAME: usize = 63;
/// Most labels on one configuration.
const MAX_LABELS: usize = 64;
/// Longest label key.
const MAX_LABEL_KEY: usize = 63;
/// Longest label value.
const MAX_LABEL_VALUE: usize = 255;
/// Longest description.
const MAX_DESCRIPTION: usize = 2048;
/// Most source paths or glob patterns.
const MAX_LIST: usize = 1000;
/// Longest glob pattern.
const MAX_GLOB: usize = 1024;
/// Largest `retention.keep_within_days`: 100 years.
pub(super) const MAX_KEEP_WITHIN_DAYS: i32 = 36_500;
/// Largest `retention.keep_*` count.
pub(super) const MAX_KEEP_COUNT: i32 = 100_000;

/// Checks a configuration name, found at `field`.
pub fn check_name(v: &mut Checker, field: &str, name: &str) {
    if name.is_empty() {
        v.add(field, "must not be empty");
        return;
    }
    let len = char_len(name);
    if len > MAX_NAME {
        v.add(
            field,
            format!("must be at most {MAX_NAME} characters, got {len}"),
        );
        return;
    }
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !first_ok || !rest_ok {
        v.add(
            field,
            "must be a slug: a-z, 0-9, '_' and '-', starting with a letter or digit",
        );
    }
}

/// Checks every field of `c`, found at `path` (usually `configuration`).
pub fn check_configuration(v: &mut Checker, path: &str, c: &BackupConfiguration) {
    let field = |name: &str| format!("{path}.{name}");
    check_name(v, &field("name"), &c.name);

    let kind = BackupKind::try_from(c.kind);
    match kind {
        Ok(BackupKind::Unspecified) => {
            v.add(field("kind"), "must be set to FULL, DATABASE or EXPORT")
        }
        Err(_) => v.add(field("kind"), format!("unknown value {}", c.kind)),
        Ok(_) => {}
    }
    if Purpose::try_from(c.purpose).is_err() {
        v.add(field("purpose"), format!("unknown value {}", c.purpose));
    }
    if let Some(schedule) = &c.schedule {
        validate_schedule(v, path, schedule);
    }
    if char_len(&c.description) > MAX_DESCRIPTION {
        v.add(
            field("description"),
            format!("must be at most {MAX_DESCRIPTION} characters"),
        );
    } else {
        check_terminal_safe(v, &field("description"), &c.description);
    }
    check_source(v, path, c, kind.ok());
    if let Some(r) = &c.retention {
        for (name, value, max) in [
            ("keep_within_days", r.keep_within_days, MAX_KEEP_WITHIN_DAYS),
            ("keep_last", r.keep_last, MAX_KEEP_COUNT),
            ("keep_daily", r.keep_daily, MAX_KEEP_COUNT),
            ("keep_weekly", r.keep_weekly, MAX_KEEP_COUNT),
            ("keep_monthly", r.keep_monthly, MAX_KEEP_COUNT),
        ] {
            if value < 0 {
                v.add(field(&format!("retention.{name}")), "must not be negative");
            } else if value > max {
                v.add(
                    field(&format!("retention.{name}")),
                    format!("must be at most {max}"),
                );
            }
        }
    }
    check_labels(v, &field("labels"), c);
}

fn check_source(v: &mut Checker, path: &str, c: &BackupConfiguration, kind: Option<BackupKind>) {
    let field = |name: &str| format!("{path}.source{name}");
    let source = c.source.clone().unwrap_or_default();
    match (&source.database, kind) {
        (None, Some(BackupKind::Database)) => {
            v.add(field(".database"), "is required for kind DATABASE");
        }
        (None, Some(BackupKind::Full | BackupKind::Export)) if source.paths.is_empty() => {
            v.add(field(""), "needs paths, a database or both");
        }
        _ => {}
    }
    if let Some(db) = &source.database {
        let engine = DatabaseEngine::try_from(db.engine);
        match engine {
            Ok(DatabaseEngine::Unspecified) => {
                v.add(
                    field(".database.engine"),
                    "must be set to postgres, mysql or sqlite",
                );
            }
            Err(_) => v.add(
                field(".database.engine"),
                format!("unknown value {}", db.engine),
            ),
            Ok(engine) => check_database_url(v, &field(".database.url"), engine, &db.url),
        }
        if let Some(secret) = &db.password {
            check_secret_ref(v, &field(".database.password"), secret);
        }
    }
    if source.paths.len() > MAX_LIST {
        v.add(
            field(".paths"),
            format!("must hold at most {MAX_LIST} paths"),
        );
    }
    for (i, p) in source.paths.iter().enumerate().take(MAX_LIST) {
        check_absolute_path(v, &field(&format!(".paths[{i}]")), p);
    }
    for (name, globs) in [("include", &source.include), ("exclude", &source.exclude)] {
        if globs.len() > MAX_LIST {
            v.add(
                field(&format!(".{name}")),
                format!("must hold at most {MAX_LIST} patterns"),
            );
        }
        for (i, g) in globs.iter().enumerate().take(MAX_LIST) {
            let f = field(&format!(".{name}[{i}]"));
            if g.is_empty() {
                v.add(f, "must not be empty");
            } else if has_control(g) {
                v.add(f, "must not contain control characters");
            } else if char_len(g) > MAX_GLOB {
                v.add(f, format!("must be at most {MAX_GLOB} characters"));
            } else if let Err(e) = globset::GlobBuilder::new(g).literal_separator(true).build() {
                v.add(f, format!("is not a valid glob: {}", e.kind()));
            }
        }
    }
}

fn check_labels(v: &mut Checker, field: &str, c: &BackupConfiguration) {
    if c.labels.len() > MAX_LABELS {
        v.add(field, format!("must hold at most {MAX_LABELS} labels"));
        return;
    }
    let mut keys: Vec<&String> = c.labels.keys().collect();
    keys.sort();
    for key in keys {
        let value = &c.labels[key];
        let key_ok = !key.is_empty()
            && char_len(key) <= MAX_LABEL_KEY
            && key
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._-/".contains(ch));
        if !key_ok {
            v.add(
                field,
                format!("keys must be 1 to {MAX_LABEL_KEY} characters of a-z, A-Z, 0-9, '.', '_', '-' or '/'"),
            );
            continue;
        }
        if char_len(value) > MAX_LABEL_VALUE {
            v.add(
                format!("{field}.{key}"),
                format!("must be at most {MAX_LABEL_VALUE} characters"),
            );
        } else {
            check_terminal_safe(v, &format!("{field}.{key}"), value);
        }
    }
}

/// Fills defaults so equal intents are stored equally, and clears output-only fields.
pub fn normalize_configuration(c: &mut BackupConfiguration) {
    c.create_time = None;
    c.update_time = None;
    c.etag.clear();
    c.enabled = Some(c.enabled());
    if c.purpose == Purpose::Unspecified as i32 {
        c.purpose = Purpose::Production as i32;
    }
    if let Some(s) = &mut c.schedule {
        if s.timezone.trim().is_empty() {
            s.timezone = "UTC".to_owned();
        }
        if s.catch_up == CatchUpPolicy::Unspecified as i32 {
            s.catch_up = CatchUpPolicy::Once as i32;
        }
        if s.overlap == OverlapPolicy::Unspecified as i32 {
            s.overlap = OverlapPolicy::Skip as i32;
        }
    }
    if let Some(source) = &c.source
        && source.database.is_none()
        && source.paths.is_empty()
        && source.include.is_empty()
        && source.exclude.is_empty()
    {
        c.source = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_proto::catalog::v1::{Retention, Source};

    fn full(name: &str) -> BackupConfiguration {
        BackupConfiguration {
            name: name.into(),
            kind: BackupKind::Full as i32,
            source: Some(Source {
                paths: vec!["/srv/edms".into()],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn check(c: &BackupConfiguration) -> String {
        let mut v = Checker::new();
        check_configuration(&mut v, "configuration", c);
        v.finish().err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn names_are_slugs() {
        assert_eq!(check(&full("daily_full-backup1")), "");
        assert_eq!(check(&full("")), "configuration.name: must not be empty");
        assert!(check(&full("Daily")).starts_with("configuration.name: must be a slug"));
        assert!(check(&full("_x")).starts_with("configuration.name: must be a slug"));
        let huge = "a".repeat(1 << 20);
        let msg = check(&full(&huge));
        assert!(msg.starts_with("configuration.name: must be at most 63 characters"));
        assert!(msg.len() < 200);
    }

    #[test]
    fn retention_must_not_be_negative() {
        let mut c = full("x");
        c.retention = Some(Retention {
            keep_daily: -1,
            ..Default::default()
        });
        assert_eq!(
            check(&c),
            "configuration.retention.keep_daily: must not be negative"
        );
    }

    #[test]
    fn retention_has_a_maximum() {
        let mut c = full("x");
        c.retention = Some(Retention {
            keep_within_days: i32::MAX,
            keep_monthly: 100_001,
            keep_daily: 100_000,
            ..Default::default()
        });
        assert_eq!(
            check(&c),
            "configuration.retention.keep_within_days: must be at most 36500; \
             configuration.retention.keep_monthly: must be at most 100000"
        );
    }

    #[test]
    fn database_kind_needs_a_database() {
        let mut c = full("x");
        c.kind = BackupKind::Database as i32;
        assert_eq!(
            check(&c),
            "configuration.source.database: is required for kind DATABASE"
        );
    }

    #[test]
    fn globs_and_paths_are_checked() {
        let mut c = full("x");
        let source = c.source.as_mut().unwrap();
        source.paths.push("relative".into());
        source.exclude.push("**/*.{tmp".into());
        let msg = check(&c);
        assert!(
            msg.contains("configuration.source.paths[1]: must be an absolute path"),
            "{msg}"
        );
        assert!(
            msg.contains("configuration.source.exclude[0]: is not a valid glob"),
            "{msg}"
        );
    }
}
