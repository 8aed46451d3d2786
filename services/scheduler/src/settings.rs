//! The `[scheduler]` section of the configuration file (plus the webhook
//! keys of `[alerts]`), with defaults and a `validate()` step.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil_schedule::TimeOfDay;
use vigil_server_common::settings::{duration, weekday};

use crate::error::{Error, Result};

/// Scheduler settings. Every field has a default, so an empty section works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerSettings {
    /// How often every schedule is reconciled and its health re-checked,
    /// even without events. A fleet whose sweep takes longer than
    /// 1/200 of this is swept 200 sweep-durations apart instead.
    #[serde(with = "duration")]
    pub reconcile_interval: Duration,
    /// How often the whole catalog is read again while its event stream is
    /// connected; between full reads, ticks apply the announced changes.
    #[serde(with = "duration")]
    pub resync_interval: Duration,
    /// How often the replica reports its heartbeat.
    #[serde(with = "duration")]
    pub heartbeat_interval: Duration,
    /// Arm a retention PRUNE and a VERIFY drill schedule for each enabled
    /// configuration with a retention policy.
    pub system_schedules: bool,
    /// Local time of day (`HH:MM`, in the configuration's time zone) of the
    /// daily retention prune.
    pub prune_time: TimeOfDay,
    /// Day of the week of the weekly verify drill (`mon` .. `sun`).
    #[serde(with = "weekday")]
    pub verify_weekday: chrono::Weekday,
    /// Local time of day of the weekly verify drill.
    pub verify_time: TimeOfDay,
    /// Fraction of packs a verify drill reads back; 0 means all.
    pub verify_sample_fraction: f64,
    /// Whether the verify drill also restores into a scratch place and compares.
    pub verify_drill: bool,
    /// How many schedules are committed concurrently in one tick.
    pub fire_concurrency: usize,
    /// Most due runs recorded by one commit; longer backlogs take several.
    pub max_runs_per_commit: usize,
    /// Most schedules whose ticks are committed together in one catalog
    /// transaction (`CommitScheduleTicks`) when many are due at once.
    pub fire_batch: usize,
    /// How long a due run waits for the replica whose share it is before
    /// another live replica fires it.
    #[serde(with = "duration")]
    pub takeover_delay: Duration,
    /// How long after start the replica waits for executor heartbeats before
    /// it reports schedules that no live executor can run.
    #[serde(with = "duration")]
    pub executor_check_delay: Duration,
    /// Webhook URLs that receive alert transitions as signed JSON POSTs.
    pub webhook_urls: Vec<String>,
    /// Name of the environment variable holding the webhook HMAC secret.
    pub webhook_secret_env: Option<String>,
    /// Or a file holding it (surrounding whitespace is ignored).
    pub webhook_secret_file: Option<std::path::PathBuf>,
    /// Timeout of one webhook POST.
    #[serde(with = "duration")]
    pub webhook_timeout: Duration,
    /// Attempts per webhook delivery before it is recorded as failed.
    pub webhook_max_attempts: u32,
    /// Delay before the first webhook retry; doubles on each retry.
    #[serde(with = "duration")]
    pub webhook_initial_backoff: Duration,
    /// Longest delay between webhook retries.
    #[serde(with = "duration")]
    pub webhook_max_backoff: Duration,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            reconcile_interval: Duration::from_secs(10),
            resync_interval: Duration::from_secs(600),
            heartbeat_interval: Duration::from_secs(5),
            system_schedules: true,
            prune_time: TimeOfDay::new(3, 30).expect("valid time of day"),
            verify_weekday: chrono::Weekday::Sun,
            verify_time: TimeOfDay::new(4, 30).expect("valid time of day"),
            verify_sample_fraction: 0.0,
            verify_drill: false,
            fire_concurrency: 32,
            max_runs_per_commit: 500,
            fire_batch: 250,
            takeover_delay: Duration::from_secs(10),
            executor_check_delay: Duration::from_secs(30),
            webhook_urls: Vec::new(),
            webhook_secret_env: None,
            webhook_secret_file: None,
            webhook_timeout: Duration::from_secs(10),
            webhook_max_attempts: 6,
            webhook_initial_backoff: Duration::from_secs(1),
            webhook_max_backoff: Duration::from_secs(60),
        }
    }
}

/// The webhook keys of the `[alerts]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AlertSection {
    /// Webhook URLs; replace `scheduler.webhook_urls` when set.
    pub webhook_urls: Vec<String>,
    /// Replaces `scheduler.webhook_secret_env` when set.
    pub webhook_secret_env: Option<String>,
    /// Replaces `scheduler.webhook_secret_file` when set.
    pub webhook_secret_file: Option<std::path::PathBuf>,
}

impl SchedulerSettings {
    /// Reads `[scheduler]` and the webhook keys of `[alerts]` from a layered
    /// configuration, then validates. Keys in `[alerts]` win when both are set.
    pub fn from_figment(figment: &figment::Figment) -> Result<Self> {
        let present = |name: &str| figment.find_value(name).is_ok();
        let settings: SchedulerSettings = if present("scheduler") {
            figment
                .extract_inner("scheduler")
                .map_err(|e| figment_error("scheduler", e))?
        } else {
            SchedulerSettings::default()
        };
        let alerts: AlertSection = if present("alerts") {
            figment
                .extract_inner("alerts")
                .map_err(|e| figment_error("alerts", e))?
        } else {
            AlertSection::default()
        };
        settings.with_alerts(alerts)
    }

    /// Applies the webhook keys of `[alerts]` (they win over those of
    /// `[scheduler]`), then validates.
    pub fn with_alerts(mut self, alerts: AlertSection) -> Result<Self> {
        if !alerts.webhook_urls.is_empty() {
            self.webhook_urls = alerts.webhook_urls;
        }
        if alerts.webhook_secret_env.is_some() {
            self.webhook_secret_env = alerts.webhook_secret_env;
        }
        if alerts.webhook_secret_file.is_some() {
            self.webhook_secret_file = alerts.webhook_secret_file;
        }
        self.validate()?;
        Ok(self)
    }

    /// Checks every value, naming the first bad setting.
    pub fn validate(&self) -> Result<()> {
        let bad = |setting: &str, reason: String| Error::Settings {
            setting: format!("scheduler.{setting}"),
            reason,
        };
        for (name, value) in [
            ("reconcile_interval", self.reconcile_interval),
            ("resync_interval", self.resync_interval),
            ("heartbeat_interval", self.heartbeat_interval),
            ("webhook_timeout", self.webhook_timeout),
        ] {
            if value.is_zero() {
                return Err(bad(name, "must be longer than zero".into()));
            }
        }
        if !(0.0..=1.0).contains(&self.verify_sample_fraction) {
            return Err(bad(
                "verify_sample_fraction",
                "must be between 0 and 1".into(),
            ));
        }
        if self.fire_concurrency == 0 {
            return Err(bad("fire_concurrency", "must be at least 1".into()));
        }
        if self.max_runs_per_commit == 0 {
            return Err(bad("max_runs_per_commit", "must be at least 1".into()));
        }
        if !(1..=1000).contains(&self.fire_batch) {
            return Err(bad("fire_batch", "must be between 1 and 1000".into()));
        }
        if self.webhook_max_attempts == 0 {
            return Err(bad("webhook_max_attempts", "must be at least 1".into()));
        }
        for (i, url) in self.webhook_urls.iter().enumerate() {
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| bad(&format!("webhook_urls[{i}]"), format!("not a URL: {e}")))?;
            match parsed.scheme() {
                "http" => {}
                "https" if cfg!(feature = "https") => {}
                "https" => {
                    return Err(bad(
                        &format!("webhook_urls[{i}]"),
                        "https webhooks need the scheduler built with its https feature".into(),
                    ));
                }
                _ => {
                    return Err(bad(
                        &format!("webhook_urls[{i}]"),
                        "must be an http or https URL".into(),
                    ));
                }
            }
        }
        if self.webhook_secret_env.is_some() && self.webhook_secret_file.is_some() {
            return Err(bad(
                "webhook_secret_file",
                "give webhook_secret_env or webhook_secret_file, not both".into(),
            ));
        }
        self.webhook_secret().map(|_| ())
    }

    /// The webhook HMAC secret, if one is configured. The value is never
    /// logged or returned in errors.
    pub fn webhook_secret(&self) -> Result<Option<Vec<u8>>> {
        let bad = |setting: &str, reason: String| Error::Settings {
            setting: format!("scheduler.{setting}"),
            reason,
        };
        let secret = match (&self.webhook_secret_env, &self.webhook_secret_file) {
            (Some(name), _) => std::env::var(name).map_err(|_| {
                bad(
                    "webhook_secret_env",
                    format!("environment variable {name} is not set"),
                )
            })?,
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    bad(
                        "webhook_secret_file",
                        format!("cannot read {}: {}", path.display(), e.kind()),
                    )
                })?
                .trim()
                .to_owned(),
            (None, None) => return Ok(None),
        };
        if secret.is_empty() {
            return Err(bad(
                "webhook_secret_env",
                "the webhook secret is empty".into(),
            ));
        }
        Ok(Some(secret.into_bytes()))
    }
}

/// Names the dotted setting a figment error is about (`scheduler.prune_time`).
fn figment_error(section: &str, e: figment::Error) -> Error {
    let setting = std::iter::once(section.to_owned())
        .chain(e.path.iter().filter(|p| p.as_str() != section).cloned())
        .collect::<Vec<_>>()
        .join(".");
    Error::Settings {
        setting,
        reason: e.kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Toml};

    use super::*;

    #[test]
    fn defaults_are_valid() {
        SchedulerSettings::default().validate().unwrap();
    }

    #[test]
    fn toml_sections_are_read_with_text_durations() {
        let f = Figment::from(Toml::string(
            r#"
            [scheduler]
            reconcile_interval = "5s"
            heartbeat_interval = 2
            prune_time = "01:15"
            [alerts]
            webhook_urls = ["http://127.0.0.1:9/hook"]
            "#,
        ));
        let s = SchedulerSettings::from_figment(&f).unwrap();
        assert_eq!(s.reconcile_interval, Duration::from_secs(5));
        assert_eq!(s.heartbeat_interval, Duration::from_secs(2));
        assert_eq!(s.prune_time, TimeOfDay::new(1, 15).unwrap());
        assert_eq!(s.webhook_urls, vec!["http://127.0.0.1:9/hook".to_owned()]);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let f = Figment::from(Toml::string("[scheduler]\nprune_time = \"25:00\"\n"));
        let e = SchedulerSettings::from_figment(&f).unwrap_err().to_string();
        assert!(e.contains("scheduler.prune_time"), "{e}");
        let f = Figment::from(Toml::string("[scheduler]\nverify_weekday = \"someday\"\n"));
        let e = SchedulerSettings::from_figment(&f).unwrap_err().to_string();
        assert!(e.contains("scheduler.verify_weekday"), "{e}");
        let f = Figment::from(Toml::string("[scheduler]\nwebhook_urls = [\"ftp://x\"]\n"));
        let e = SchedulerSettings::from_figment(&f).unwrap_err().to_string();
        assert!(e.contains("scheduler.webhook_urls[0]"), "{e}");
        let f = Figment::from(Toml::string("[scheduler]\nreconcile_interval = \"soon\"\n"));
        let e = SchedulerSettings::from_figment(&f).unwrap_err().to_string();
        assert!(e.contains("not a duration"), "{e}");
        let f = Figment::from(Toml::string(
            "[scheduler]\nwebhook_secret_env = \"VIGIL_TEST_SURELY_UNSET_SECRET\"\n",
        ));
        let e = SchedulerSettings::from_figment(&f).unwrap_err().to_string();
        assert!(
            e.contains("VIGIL_TEST_SURELY_UNSET_SECRET is not set"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let f = Figment::from(Toml::string("[scheduler]\nreconcile_intervall = \"5s\"\n"));
        assert!(SchedulerSettings::from_figment(&f).is_err());
    }
}
