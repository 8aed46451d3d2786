//! Configuration fields as command-line flags, for `config create` and
//! `config update`. Each flag given becomes one update-mask path, so an
//! update changes exactly what was asked for.

use std::time::Duration;

use clap::Args;
use vigil_proto::catalog::v1::{
    BackupConfiguration, CatchUpPolicy, OverlapPolicy, Purpose, Retention, Schedule, Source,
    schedule,
};

use crate::error::CliError;
use crate::vocab::{CatchUp, Day, Engine, FrequencyWord, Kind, Overlap, PurposeWord};
use crate::yaml::{PresetSpec, check_url_has_no_password, preset_proto, secret};

/// Flags that set configuration fields.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ConfigFlags {
    /// Backup kind: full, database or export.
    #[arg(long, value_parser = Kind::parse_flag, help_heading = "Configuration")]
    pub kind: Option<Kind>,
    /// Purpose: production, test or temporary.
    #[arg(long, value_parser = PurposeWord::parse_flag, help_heading = "Configuration")]
    pub purpose: Option<PurposeWord>,
    /// Arm the schedule (the default on create).
    #[arg(long, conflicts_with = "disabled", help_heading = "Configuration")]
    pub enabled: bool,
    /// Do not arm the schedule.
    #[arg(long, help_heading = "Configuration")]
    pub disabled: bool,
    /// Human description.
    #[arg(long, help_heading = "Configuration")]
    pub description: Option<String>,
    /// A label KEY=VALUE; repeat for several (replaces all labels on update).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label, help_heading = "Configuration")]
    pub labels: Vec<(String, String)>,

    /// Cron expression: 5 fields, or 6 with seconds first.
    #[arg(long, conflicts_with = "preset", help_heading = "Schedule")]
    pub cron: Option<String>,
    /// Preset frequency instead of cron: hourly, daily, weekly or monthly.
    #[arg(long, value_parser = FrequencyWord::parse_flag, help_heading = "Schedule")]
    pub preset: Option<FrequencyWord>,
    /// Preset time of day, HH:MM.
    #[arg(
        long,
        value_name = "HH:MM",
        requires = "preset",
        help_heading = "Schedule"
    )]
    pub at: Option<String>,
    /// Preset day of the week, for weekly.
    #[arg(long, value_parser = Day::parse_flag, requires = "preset", help_heading = "Schedule")]
    pub day_of_week: Option<Day>,
    /// Preset day of the month 1-31, for monthly.
    #[arg(long, requires = "preset", help_heading = "Schedule")]
    pub day_of_month: Option<u32>,
    /// IANA time zone such as Europe/Berlin (UTC when empty).
    #[arg(long, help_heading = "Schedule")]
    pub timezone: Option<String>,
    /// Catch-up policy: skip, once or all.
    #[arg(long, value_parser = CatchUp::parse_flag, help_heading = "Schedule")]
    pub catch_up: Option<CatchUp>,
    /// How far back catch-up looks, such as 6h.
    #[arg(long, value_parser = humantime::parse_duration, help_heading = "Schedule")]
    pub catch_up_window: Option<Duration>,
    /// Most catch-up runs at once under `all`.
    #[arg(long, help_heading = "Schedule")]
    pub catch_up_cap: Option<u32>,
    /// Overlap policy: skip, queue or allow.
    #[arg(long, value_parser = Overlap::parse_flag, help_heading = "Schedule")]
    pub overlap: Option<Overlap>,
    /// Random delay added to each fire, such as 5m.
    #[arg(long, value_parser = humantime::parse_duration, help_heading = "Schedule")]
    pub jitter: Option<Duration>,
    /// How late a run may start before it is LATE, such as 30m.
    #[arg(long, value_parser = humantime::parse_duration, help_heading = "Schedule")]
    pub grace: Option<Duration>,
    /// Remove the schedule: the configuration becomes on-demand.
    #[arg(long, conflicts_with_all = ["cron", "preset"], help_heading = "Schedule")]
    pub no_schedule: bool,

    /// Database engine: postgres, mysql or sqlite.
    #[arg(long, value_parser = Engine::parse_flag, help_heading = "Source")]
    pub db_engine: Option<Engine>,
    /// Database URL without a password.
    #[arg(long, help_heading = "Source")]
    pub db_url: Option<String>,
    /// Environment variable of the executor that holds the database password.
    #[arg(long, help_heading = "Source")]
    pub db_password_env: Option<String>,
    /// File readable by the executor that holds the database password.
    #[arg(long, conflicts_with = "db_password_env", help_heading = "Source")]
    pub db_password_file: Option<String>,
    /// Absolute path of a file tree; repeat for several.
    #[arg(long = "path", value_name = "PATH", help_heading = "Source")]
    pub paths: Vec<String>,
    /// Glob of files to include; repeat for several.
    #[arg(long = "include", value_name = "GLOB", help_heading = "Source")]
    pub include: Vec<String>,
    /// Glob of files to leave out; repeat for several.
    #[arg(long = "exclude", value_name = "GLOB", help_heading = "Source")]
    pub exclude: Vec<String>,

    /// Keep every artifact younger than this many days.
    #[arg(long, allow_negative_numbers = true, help_heading = "Retention")]
    pub keep_within_days: Option<i32>,
    /// Keep the newest N artifacts.
    #[arg(long, allow_negative_numbers = true, help_heading = "Retention")]
    pub keep_last: Option<i32>,
    /// Keep one artifact per day for N days.
    #[arg(long, allow_negative_numbers = true, help_heading = "Retention")]
    pub keep_daily: Option<i32>,
    /// Keep one artifact per week for N weeks.
    #[arg(long, allow_negative_numbers = true, help_heading = "Retention")]
    pub keep_weekly: Option<i32>,
    /// Keep one artifact per month for N months.
    #[arg(long, allow_negative_numbers = true, help_heading = "Retention")]
    pub keep_monthly: Option<i32>,
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

impl ConfigFlags {
    /// The fields the flags set, and the update-mask path of each.
    pub(crate) fn to_update(&self) -> Result<(BackupConfiguration, Vec<String>), CliError> {
        let mut c = BackupConfiguration::default();
        let mut mask: Vec<String> = Vec::new();
        let mut set = |path: &str| mask.push(path.to_owned());

        if let Some(k) = self.kind {
            c.kind = k.proto() as i32;
            set("kind");
        }
        if let Some(p) = self.purpose {
            c.purpose = p.proto() as i32;
            set("purpose");
        }
        if self.enabled || self.disabled {
            c.enabled = Some(self.enabled);
            set("enabled");
        }
        if let Some(d) = &self.description {
            c.description = d.clone();
            set("description");
        }
        if !self.labels.is_empty() {
            c.labels = self.labels.iter().cloned().collect();
            set("labels");
        }

        if self.no_schedule {
            set("schedule");
        } else {
            self.schedule_update(c.schedule.get_or_insert_with(Schedule::default), &mut set);
        }
        self.source_update(c.source.get_or_insert_with(Default::default), &mut set)?;
        self.retention_update(c.retention.get_or_insert_with(Retention::default), &mut set);
        Ok((c, mask))
    }

    /// The schedule fields the flags set.
    fn schedule_update(&self, s: &mut Schedule, set: &mut impl FnMut(&str)) {
        if let Some(cron) = &self.cron {
            s.spec = Some(schedule::Spec::Cron(cron.clone()));
            set("schedule.cron");
        }
        if let Some(frequency) = self.preset {
            let preset = PresetSpec {
                frequency,
                time: self.at.clone(),
                day_of_week: self.day_of_week,
                day_of_month: self.day_of_month,
            };
            s.spec = Some(schedule::Spec::Preset(preset_proto(&preset)));
            set("schedule.preset");
        }
        if let Some(tz) = &self.timezone {
            s.timezone = tz.clone();
            set("schedule.timezone");
        }
        if let Some(p) = self.catch_up {
            s.catch_up = p.proto() as i32;
            set("schedule.catch_up");
        }
        if let Some(d) = self.catch_up_window {
            s.catch_up_window = Some(vigil_proto::duration_to_proto(d));
            set("schedule.catch_up_window");
        }
        if let Some(n) = self.catch_up_cap {
            s.catch_up_cap = n;
            set("schedule.catch_up_cap");
        }
        if let Some(p) = self.overlap {
            s.overlap = p.proto() as i32;
            set("schedule.overlap");
        }
        if let Some(d) = self.jitter {
            s.jitter = Some(vigil_proto::duration_to_proto(d));
            set("schedule.jitter");
        }
        if let Some(d) = self.grace {
            s.grace = Some(vigil_proto::duration_to_proto(d));
            set("schedule.grace");
        }
    }

    /// The source fields the flags set; a database URL must not carry a
    /// password, which comes from a variable or a file.
    fn source_update(&self, src: &mut Source, set: &mut impl FnMut(&str)) -> Result<(), CliError> {
        if self.db_engine.is_some() || self.db_url.is_some() {
            let db = src.database.get_or_insert_with(Default::default);
            if let Some(e) = self.db_engine {
                db.engine = e.proto() as i32;
                set("source.database.engine");
            }
            if let Some(url) = &self.db_url {
                check_url_has_no_password("--db-url", url)?;
                db.url = url.clone();
                set("source.database.url");
            }
        }
        if let Some(password) = secret(
            "--db-password",
            self.db_password_env.as_deref(),
            self.db_password_file.as_deref(),
        )? {
            src.database.get_or_insert_with(Default::default).password = Some(password);
            set("source.database.password");
        }
        for (flag, list, path) in [
            (&self.paths, &mut src.paths, "source.paths"),
            (&self.include, &mut src.include, "source.include"),
            (&self.exclude, &mut src.exclude, "source.exclude"),
        ] {
            if !flag.is_empty() {
                *list = flag.clone();
                set(path);
            }
        }
        Ok(())
    }

    /// The retention fields the flags set.
    fn retention_update(&self, r: &mut Retention, set: &mut impl FnMut(&str)) {
        for (flag, field, path) in [
            (
                self.keep_within_days,
                &mut r.keep_within_days,
                "retention.keep_within_days",
            ),
            (self.keep_last, &mut r.keep_last, "retention.keep_last"),
            (self.keep_daily, &mut r.keep_daily, "retention.keep_daily"),
            (
                self.keep_weekly,
                &mut r.keep_weekly,
                "retention.keep_weekly",
            ),
            (
                self.keep_monthly,
                &mut r.keep_monthly,
                "retention.keep_monthly",
            ),
        ] {
            if let Some(n) = flag {
                *field = n;
                set(path);
            }
        }
    }

    /// A whole new configuration named `name`, with the defaults of `apply`:
    /// purpose production, enabled, catch-up once and overlap skip.
    pub(crate) fn to_create(&self, name: &str) -> Result<BackupConfiguration, CliError> {
        let (mut c, mask) = self.to_update()?;
        c.name = name.to_owned();
        if self.purpose.is_none() {
            c.purpose = Purpose::Production as i32;
        }
        c.enabled = Some(!self.disabled);
        let has_spec = self.cron.is_some() || self.preset.is_some();
        let schedule_flags = mask.iter().any(|p| p.starts_with("schedule."));
        if !has_spec {
            if schedule_flags {
                return Err(CliError::input(
                    "--cron",
                    "schedule flags need --cron or --preset",
                ));
            }
            c.schedule = None;
        } else if let Some(s) = c.schedule.as_mut() {
            if self.catch_up.is_none() {
                s.catch_up = CatchUpPolicy::Once as i32;
            }
            if self.overlap.is_none() {
                s.overlap = OverlapPolicy::Skip as i32;
            }
        }
        if !mask.iter().any(|p| p.starts_with("source")) {
            c.source = None;
        }
        if !mask.iter().any(|p| p.starts_with("retention")) {
            c.retention = None;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests;
