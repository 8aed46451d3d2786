//! The YAML model to proto messages.
//!
//! Only the shape is checked here: the catalog validates the meaning (cron
//! syntax, time zones, absolute paths, retention signs) and answers with the
//! field and the reason. Two things are refused locally because sending them
//! would be wrong in itself: a password inside a database URL (it would
//! travel to the server), and mutually exclusive fields set together.

use vigil_proto::catalog::v1::{
    BackupConfiguration, CatchUpPolicy, DatabaseSource, OverlapPolicy, Preset, Purpose, Retention,
    Schedule, SecretRef, Source, schedule, secret_ref,
};

use super::model::{
    ConfigurationSpec, DatabaseSpec, PresetSpec, RetentionSpec, ScheduleSpec, SourceSpec,
};
use crate::error::CliError;

/// Converts one configuration found at `path` (such as `configurations[3]`).
pub(super) fn configuration(
    path: &str,
    spec: &ConfigurationSpec,
) -> Result<BackupConfiguration, CliError> {
    Ok(BackupConfiguration {
        name: spec.name.clone(),
        kind: spec.kind.proto() as i32,
        purpose: spec.purpose.map_or(Purpose::Production, |p| p.proto()) as i32,
        enabled: Some(spec.enabled.unwrap_or(true)),
        schedule: spec
            .schedule
            .as_ref()
            .map(|s| schedule(&format!("{path}.schedule"), s))
            .transpose()?,
        source: spec
            .source
            .as_ref()
            .map(|s| source(&format!("{path}.source"), s))
            .transpose()?,
        retention: spec.retention.as_ref().map(retention),
        labels: spec
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        description: spec.description.clone().unwrap_or_default(),
        ..Default::default()
    })
}

fn schedule(path: &str, s: &ScheduleSpec) -> Result<Schedule, CliError> {
    let spec = match (&s.cron, &s.preset) {
        (Some(cron), None) => schedule::Spec::Cron(cron.clone()),
        (None, Some(preset)) => schedule::Spec::Preset(preset_proto(preset)),
        (Some(_), Some(_)) => {
            return Err(CliError::input(
                path,
                "cron and preset are exclusive; give one",
            ));
        }
        (None, None) => {
            return Err(CliError::input(
                path,
                "needs cron or preset; leave schedule out for on-demand",
            ));
        }
    };
    Ok(Schedule {
        spec: Some(spec),
        timezone: s.timezone.clone().unwrap_or_default(),
        catch_up: s.catch_up.map_or(CatchUpPolicy::Once, |c| c.proto()) as i32,
        catch_up_window: s.catch_up_window.map(vigil_proto::duration_to_proto),
        catch_up_cap: s.catch_up_cap.unwrap_or(0),
        overlap: s.overlap.map_or(OverlapPolicy::Skip, |o| o.proto()) as i32,
        jitter: s.jitter.map(vigil_proto::duration_to_proto),
        grace: s.grace.map(vigil_proto::duration_to_proto),
    })
}

/// A preset as proto.
pub(crate) fn preset_proto(p: &PresetSpec) -> Preset {
    Preset {
        frequency: p.frequency.proto() as i32,
        time_of_day: p.time.clone().unwrap_or_default(),
        day_of_week: p.day_of_week.map_or(0, |d| d.proto() as i32),
        day_of_month: p.day_of_month.unwrap_or(0),
    }
}

fn source(path: &str, s: &SourceSpec) -> Result<Source, CliError> {
    Ok(Source {
        database: s
            .database
            .as_ref()
            .map(|d| database(&format!("{path}.database"), d))
            .transpose()?,
        paths: s.paths.clone(),
        include: s.include.clone(),
        exclude: s.exclude.clone(),
    })
}

fn database(path: &str, d: &DatabaseSpec) -> Result<DatabaseSource, CliError> {
    check_url_has_no_password(&format!("{path}.url"), &d.url)?;
    Ok(DatabaseSource {
        engine: d.engine.proto() as i32,
        url: d.url.clone(),
        password: secret(path, d.password_env.as_deref(), d.password_file.as_deref())?,
    })
}

/// A password reference from an environment variable name or a file path.
pub(crate) fn secret(
    path: &str,
    env: Option<&str>,
    file: Option<&str>,
) -> Result<Option<SecretRef>, CliError> {
    let source = match (env, file) {
        (Some(env), None) => Some(secret_ref::Source::Env(env.to_owned())),
        (None, Some(file)) => Some(secret_ref::Source::File(file.to_owned())),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(CliError::input(
                path,
                "password_env and password_file are exclusive; give one",
            ));
        }
    };
    Ok(source.map(|s| SecretRef { source: Some(s) }))
}

fn retention(r: &RetentionSpec) -> Retention {
    Retention {
        keep_within_days: r.keep_within_days,
        keep_last: r.keep_last,
        keep_daily: r.keep_daily,
        keep_weekly: r.keep_weekly,
        keep_monthly: r.keep_monthly,
    }
}

/// Refuses a URL that carries a password (in its user info or as a
/// `password=` query parameter), without repeating the URL.
pub(crate) fn check_url_has_no_password(field: &str, url: &str) -> Result<(), CliError> {
    let reason = "must not contain a password; use password_env or password_file";
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && userinfo.contains(':')
        {
            return Err(CliError::input(field, reason));
        }
    }
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    if query
        .split('&')
        .any(|kv| kv.to_ascii_lowercase().starts_with("password="))
    {
        return Err(CliError::input(field, reason));
    }
    Ok(())
}
