//! The `[executor]` section of the configuration file, and the options a
//! host (vigild or the `vigil-executor` binary) passes to [`crate::Executor::start`].

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil_server_common::settings::{duration, size};

use crate::error::{Error, Result};

/// Longest lease the catalog grants; heartbeats renew it.
const MAX_LEASE: Duration = Duration::from_secs(600);

/// Tunables of the `[executor]` TOML section. Every field has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutorSettings {
    /// Jobs run at the same time.
    pub concurrency: usize,
    /// How long a lease lasts without a heartbeat.
    #[serde(with = "duration")]
    pub lease_duration: Duration,
    /// How often a running job sends a heartbeat. Must be well under
    /// `lease_duration`.
    #[serde(with = "duration")]
    pub heartbeat_interval: Duration,
    /// How often the executor reports itself (capabilities, engines) to the catalog.
    #[serde(with = "duration")]
    pub report_interval: Duration,
    /// How long one LeaseJob call waits for a job (long poll).
    #[serde(with = "duration")]
    pub lease_wait: Duration,
    /// Where uploads, rendered archives and SQLite copies are staged.
    /// Default: `<data-dir>/staging`.
    pub staging_dir: Option<PathBuf>,
    /// Largest accepted upload: bytes, or a size like `"64GiB"`.
    #[serde(with = "size")]
    pub max_upload_bytes: u64,
    /// zstd level of export archive members.
    pub archive_compression_level: i32,
    /// Snapshots of a configuration that no artifact names are removed by a
    /// prune only when older than this (a backup between its snapshot and
    /// its catalog record must not lose its snapshot).
    #[serde(with = "duration")]
    pub orphan_grace: Duration,
    /// How long a job waits for its dump or restore tool to exit after
    /// its input or output ended.
    #[serde(with = "duration")]
    pub tool_timeout: Duration,
    /// Paths a backup may read (a configuration's source paths and SQLite
    /// files). Unset: any path but the executor's own files.
    pub source_roots: Option<Vec<PathBuf>>,
    /// Directories a restore may write into (target directories and SQLite
    /// targets). Unset: anywhere but the executor's own files.
    pub restore_roots: Option<Vec<PathBuf>>,
    /// Environment variables that may serve as database passwords. Unset:
    /// any variable but the executor's own credentials.
    pub allowed_secret_env: Option<Vec<String>>,
    /// Directories whose files may serve as database passwords. Unset: any
    /// file but the executor's own files.
    pub secret_dirs: Option<Vec<PathBuf>>,
}

impl Default for ExecutorSettings {
    fn default() -> Self {
        ExecutorSettings {
            concurrency: 2,
            lease_duration: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(5),
            report_interval: Duration::from_secs(5),
            lease_wait: Duration::from_secs(10),
            staging_dir: None,
            max_upload_bytes: 64 << 30,
            archive_compression_level: 3,
            orphan_grace: Duration::from_secs(6 * 3600),
            tool_timeout: Duration::from_secs(600),
            source_roots: None,
            restore_roots: None,
            allowed_secret_env: None,
            secret_dirs: None,
        }
    }
}

impl ExecutorSettings {
    /// Checks the values; the error names the field and the reason.
    pub fn validate(&self) -> Result<()> {
        if self.concurrency == 0 || self.concurrency > 256 {
            return Err(Error::invalid(
                "executor.concurrency",
                "must be between 1 and 256",
            ));
        }
        if self.lease_duration < Duration::from_secs(2) || self.lease_duration > MAX_LEASE {
            return Err(Error::invalid(
                "executor.lease_duration",
                "must be between 2s and 10m (heartbeats renew the lease)",
            ));
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval * 2 > self.lease_duration {
            return Err(Error::invalid(
                "executor.heartbeat_interval",
                "must be more than zero and at most half of lease_duration",
            ));
        }
        if self.report_interval.is_zero() {
            return Err(Error::invalid(
                "executor.report_interval",
                "must be more than zero",
            ));
        }
        if self.max_upload_bytes == 0 {
            return Err(Error::invalid(
                "executor.max_upload_bytes",
                "must be more than zero",
            ));
        }
        if !(1..=19).contains(&self.archive_compression_level) {
            return Err(Error::invalid(
                "executor.archive_compression_level",
                "must be between 1 and 19",
            ));
        }
        if self.tool_timeout.is_zero() {
            return Err(Error::invalid(
                "executor.tool_timeout",
                "must be more than zero",
            ));
        }
        crate::policy::validate_settings(self)
    }
}

/// What a host passes to [`crate::Executor::start`].
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    /// The catalog's gRPC endpoint, for example `http://127.0.0.1:50051`.
    pub catalog_endpoint: String,
    /// Unique id of this executor process.
    pub executor_id: String,
    /// The data directory: the default repository, key file and staging live here.
    pub data_dir: PathBuf,
    /// Repository location: a path, or empty for `<data-dir>/repository`.
    pub repository: String,
    /// Key file of the repository.
    pub repository_key_file: Option<PathBuf>,
    /// Name of an environment variable holding the repository passphrase.
    pub repository_passphrase_env: Option<String>,
    /// The `[executor]` section.
    pub settings: ExecutorSettings,
    /// The URL of this executor's `ExecutorService` (such as
    /// `http://0.0.0.0:50053`), reported in its heartbeats so that a catalog
    /// on its own can forward uploads and downloads here; empty when it
    /// serves none.
    pub endpoint: String,
}

impl ExecutorOptions {
    /// Options with defaults for everything but the catalog and the data dir.
    pub fn new(
        catalog_endpoint: impl Into<String>,
        data_dir: impl Into<PathBuf>,
    ) -> ExecutorOptions {
        ExecutorOptions {
            catalog_endpoint: catalog_endpoint.into(),
            executor_id: format!("executor-{}", uuid::Uuid::now_v7()),
            data_dir: data_dir.into(),
            repository: String::new(),
            repository_key_file: None,
            repository_passphrase_env: None,
            settings: ExecutorSettings::default(),
            endpoint: String::new(),
        }
    }

    /// Checks the options; the error names the field and the reason.
    pub fn validate(&self) -> Result<()> {
        if self.catalog_endpoint.trim().is_empty() {
            return Err(Error::invalid("catalog", "must not be empty"));
        }
        if self.executor_id.trim().is_empty() {
            return Err(Error::invalid("executor_id", "must not be empty"));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(Error::invalid("data_dir", "must not be empty"));
        }
        if self.is_object_store() {
            vigil_repository::backend_for(&self.repository).map_err(|e| match e {
                vigil_repository::Error::InvalidArgument { reason, .. } => {
                    Error::invalid("repository", reason)
                }
                other => other.into(),
            })?;
        } else if self.repository.contains("://") && !self.repository.starts_with("file://") {
            return Err(Error::invalid(
                "repository",
                "expected a path, file:///path or s3://bucket/prefix",
            ));
        }
        if let Some(var) = &self.repository_passphrase_env
            && var.trim().is_empty()
        {
            return Err(Error::invalid(
                "repository_passphrase_env",
                "must not be empty when set",
            ));
        }
        self.settings.validate()
    }

    /// Whether the repository is in an object store (`s3://`).
    pub fn is_object_store(&self) -> bool {
        self.repository.starts_with("s3://")
    }

    /// The repository location: an `s3://` URL, or a directory
    /// (`<data-dir>/repository` when none is configured).
    pub fn repository_location(&self) -> String {
        if self.is_object_store() {
            return self.repository.clone();
        }
        let r = self
            .repository
            .strip_prefix("file://")
            .unwrap_or(&self.repository);
        if r.is_empty() {
            self.data_dir.join("repository").display().to_string()
        } else {
            r.to_string()
        }
    }

    /// The staging directory.
    pub fn staging_dir(&self) -> PathBuf {
        self.settings
            .staging_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("staging"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_toml_overrides_apply() {
        ExecutorSettings::default().validate().unwrap();
        let s: ExecutorSettings = toml::from_str(
            "concurrency = 4\nlease_duration = \"1m\"\nheartbeat_interval = \"10s\"\n",
        )
        .unwrap();
        assert_eq!(s.concurrency, 4);
        assert_eq!(s.lease_duration, Duration::from_secs(60));
        assert_eq!(s.heartbeat_interval, Duration::from_secs(10));
        assert_eq!(
            s.report_interval,
            ExecutorSettings::default().report_interval
        );
        s.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        assert!(toml::from_str::<ExecutorSettings>("concurency = 4").is_err());
        let s = ExecutorSettings {
            heartbeat_interval: Duration::from_secs(20),
            ..Default::default()
        };
        let e = s.validate().unwrap_err().to_string();
        assert!(e.starts_with("executor.heartbeat_interval:"), "{e}");
        let s = ExecutorSettings {
            concurrency: 0,
            ..Default::default()
        };
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .starts_with("executor.concurrency:")
        );
    }

    #[test]
    fn leases_are_at_most_ten_minutes() {
        let s = ExecutorSettings {
            lease_duration: Duration::from_secs(24 * 3600),
            ..Default::default()
        };
        let e = s.validate().unwrap_err().to_string();
        assert!(e.starts_with("executor.lease_duration:"), "{e}");
        let s: ExecutorSettings = toml::from_str(
            "source_roots = [\"/srv\"]\nrestore_roots = [\"/srv/restores\"]\nallowed_secret_env = [\"EDMS_DB_PASSWORD\"]\nsecret_dirs = [\"/run/secrets\"]\n",
        )
        .unwrap();
        assert_eq!(s.source_roots, Some(vec![PathBuf::from("/srv")]));
        assert_eq!(
            s.allowed_secret_env,
            Some(vec!["EDMS_DB_PASSWORD".to_owned()])
        );
        s.validate().unwrap();
    }

    #[test]
    fn repository_defaults_to_the_data_dir() {
        let mut o = ExecutorOptions::new("http://127.0.0.1:1", "/var/lib/vigil");
        assert_eq!(o.repository_location(), "/var/lib/vigil/repository");
        o.repository = "file:///srv/repo".into();
        assert_eq!(o.repository_location(), "/srv/repo");
        o.repository = "s3://vigil-bucket/x".into();
        o.validate().unwrap();
        assert_eq!(o.repository_location(), "s3://vigil-bucket/x");
        for bad in [
            "s3://Bad_Bucket/x",
            "s3://bucket/x?secret_access_key=S",
            "ftp://h/x",
        ] {
            o.repository = bad.into();
            let e = o.validate().unwrap_err().to_string();
            assert!(e.starts_with("repository:"), "{e}");
            assert!(!e.contains("secret_access_key=S"), "{e}");
        }
    }
}
