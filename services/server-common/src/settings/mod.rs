//! Layered configuration shared by every server binary.
//!
//! Layers, lowest first: built-in defaults, the TOML file (`--config FILE` or
//! `VIGIL_CONFIG`), `VIGIL_`-prefixed environment variables (nested keys
//! with `__`, e.g. `VIGIL_SCHEDULER__TICK=5s`), then command-line flags.
//! [`Settings::validate`] runs last and names the setting that is wrong.
//!
//! Service-specific sections (`[scheduler]`, `[executor]`, `[alerts]`) are
//! not typed here: each service extracts its own section from
//! [`LoadedSettings::figment`] or with [`LoadedSettings::section`].

mod args;
mod error;
mod loader;
pub mod redact;
mod validate;
mod values;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use args::{CatalogArgs, CommonArgs, LogFormat};
pub use error::SettingsError;
pub use loader::{LoadedSettings, SettingsLoader};
pub use values::{duration, parse_duration, parse_size, parse_weekday, size, weekday};

/// Default gRPC listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./vigil-data";
/// Default catalog endpoint of the single-service scheduler and executor.
pub const DEFAULT_CATALOG_ENDPOINT: &str = "http://127.0.0.1:50051";
/// Default bound on the graceful drain after a shutdown signal.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Name of the repository directory inside the data dir.
pub const REPOSITORY_DIR_NAME: &str = "repository";
/// Name of the generated repository key file inside the data dir.
pub const REPOSITORY_KEY_FILE_NAME: &str = "repository.key";

/// Top-level keys of the common settings. Any other top-level key in the
/// configuration file must be a table (a service section).
pub const KNOWN_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "repository",
    "repository_key_file",
    "repository_passphrase_env",
    "catalog",
    "admin_listen",
    "log_format",
    "shutdown_grace",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "token_file",
    "ca_cert",
    "client_cert",
    "client_key",
];

/// The settings every server shares, after layering.
///
/// `Debug` redacts secrets; so does [`Settings::redacted`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// gRPC listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Directory holding the SQLite catalog, the local repository and the key.
    pub data_dir: PathBuf,
    /// PostgreSQL catalog URL; `None` means SQLite in the data dir.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Repository location; `None` means `<data_dir>/repository`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Repository key file; `None` (and no passphrase variable) means
    /// `<data_dir>/repository.key`, created on first start by the executor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_key_file: Option<PathBuf>,
    /// Name of an environment variable holding the repository passphrase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_passphrase_env: Option<String>,
    /// Catalog endpoint for a scheduler or executor running on its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    /// Admin HTTP listen address (metrics); `None` disables it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_listen: Option<SocketAddr>,
    /// Log line format.
    pub log_format: LogFormat,
    /// Bound on the graceful drain after SIGINT or SIGTERM.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    /// Certificate chain served with TLS; `None` serves plaintext.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// Key of `tls_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// CA of the client certificates that are then required (mTLS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_ca: Option<PathBuf>,
    /// Bearer token file a scheduler or executor presents to the catalog.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// CA of the catalog's certificate, for an https:// catalog.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// Client certificate presented to an https:// catalog.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    /// Key of `client_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .expect("default listen address parses"),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            database_url: None,
            repository: None,
            repository_key_file: None,
            repository_passphrase_env: None,
            catalog: None,
            admin_listen: None,
            log_format: LogFormat::Text,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            token_file: None,
            ca_cert: None,
            client_cert: None,
            client_key: None,
        }
    }
}

/// Where the repository key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryKeySource {
    /// A key file; created with mode 0600 on first start when it is the default one.
    File {
        /// Path of the key file.
        path: PathBuf,
        /// True when no key file was configured and the default path is used.
        is_default: bool,
    },
    /// A passphrase read from the named environment variable.
    PassphraseEnv(String),
}

impl Settings {
    /// The repository location: the configured one, or `<data_dir>/repository`.
    pub fn repository_location(&self) -> String {
        match &self.repository {
            Some(repository) => repository.clone(),
            None => self
                .data_dir
                .join(REPOSITORY_DIR_NAME)
                .display()
                .to_string(),
        }
    }

    /// Where the repository key comes from.
    pub fn repository_key(&self) -> RepositoryKeySource {
        match (&self.repository_key_file, &self.repository_passphrase_env) {
            (Some(path), _) => RepositoryKeySource::File {
                path: path.clone(),
                is_default: false,
            },
            (None, Some(name)) => RepositoryKeySource::PassphraseEnv(name.clone()),
            (None, None) => RepositoryKeySource::File {
                path: self.data_dir.join(REPOSITORY_KEY_FILE_NAME),
                is_default: true,
            },
        }
    }

    /// The catalog endpoint for a scheduler or executor on its own.
    pub fn catalog_endpoint(&self) -> String {
        self.catalog
            .clone()
            .unwrap_or_else(|| DEFAULT_CATALOG_ENDPOINT.to_owned())
    }

    /// The server TLS files, when TLS is on.
    pub fn tls_files(&self) -> Option<crate::tls::TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: self.tls_client_ca.clone(),
            }),
            _ => None,
        }
    }

    /// The credentials a scheduler or executor presents to the catalog:
    /// `token_file`, else `VIGIL_TOKEN`, else `<data_dir>/component.token`
    /// when it exists; the TLS client files.
    pub fn catalog_credentials(
        &self,
    ) -> Result<vigil_auth::ClientCredentials, vigil_auth::CredentialError> {
        let fallback = self.data_dir.join(vigil_auth::client::COMPONENT_TOKEN_FILE);
        let token = vigil_auth::ClientCredentials::token_from_env(
            self.token_file.as_deref(),
            Some(&fallback),
        )?;
        let tls = vigil_auth::ClientTls {
            ca_cert: self.ca_cert.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
        };
        tls.validate()?;
        Ok(vigil_auth::ClientCredentials { token, tls })
    }

    /// A view of these settings with secrets replaced, for logs.
    pub fn redacted(&self) -> RedactedSettings<'_> {
        RedactedSettings(self)
    }

    /// Checks the settings; the error names the setting and the reason.
    pub fn validate(&self) -> Result<(), SettingsError> {
        validate::validate(self)
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.redacted(), f)
    }
}

/// Settings with passwords and secret query values replaced by `***`.
pub struct RedactedSettings<'a>(&'a Settings);

impl fmt::Display for RedactedSettings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let database = match &s.database_url {
            Some(url) => redact::redact_url(url),
            None => format!("sqlite in {}", s.data_dir.display()),
        };
        let key = match s.repository_key() {
            RepositoryKeySource::File { path, .. } => format!("file {}", path.display()),
            RepositoryKeySource::PassphraseEnv(name) => format!("passphrase from ${name}"),
        };
        write!(
            f,
            "listen={} data_dir={} database={} repository={} repository_key={} catalog={} \
             admin_listen={} log_format={} shutdown_grace={} tls={}",
            s.listen,
            s.data_dir.display(),
            database,
            redact::redact_url(&s.repository_location()),
            key,
            s.catalog
                .as_deref()
                .map(redact::redact_url)
                .unwrap_or_else(|| "-".to_owned()),
            s.admin_listen
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".to_owned()),
            s.log_format.as_str(),
            humantime::format_duration(s.shutdown_grace),
            match (&s.tls_cert, &s.tls_client_ca) {
                (None, _) => "off",
                (Some(_), None) => "on",
                (Some(_), Some(_)) => "mtls",
            },
        )
    }
}

#[cfg(test)]
mod tests;
