//! Command-line flags shared by every Vigil server binary.
//!
//! Flags are the last layer of the configuration: they beat environment
//! variables, which beat the TOML file, which beats the defaults. Every flag
//! is optional here, so an absent flag leaves the lower layers alone. The
//! environment variables are read by the settings loader, not by clap, so
//! that an error names the layer a bad value came from.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

/// Flags every server binary takes.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct CommonArgs {
    /// TOML configuration file
    #[arg(long, value_name = "FILE", env = "VIGIL_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address to serve gRPC on; port 0 picks a free port [env: VIGIL_LISTEN] [default: 127.0.0.1:50051]
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,

    /// Directory for the SQLite catalog, the local repository and the repository key [env: VIGIL_DATA_DIR] [default: ./vigil-data]
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,

    /// PostgreSQL catalog URL, instead of SQLite in the data dir [env: VIGIL_DATABASE_URL]
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,

    /// Repository: a local path or an s3:// URL [env: VIGIL_REPOSITORY] [default: <data-dir>/repository]
    #[arg(long, value_name = "URL-or-PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,

    /// File holding the repository key [env: VIGIL_REPOSITORY_KEY_FILE] [default: <data-dir>/repository.key]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_key_file: Option<PathBuf>,

    /// Name of an environment variable holding the repository passphrase [env: VIGIL_REPOSITORY_PASSPHRASE_ENV]
    #[arg(long, value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_passphrase_env: Option<String>,

    /// Address of the admin HTTP port (Prometheus metrics) [env: VIGIL_ADMIN_LISTEN]
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_listen: Option<String>,

    /// Log line format [env: VIGIL_LOG_FORMAT] [default: text]
    #[arg(long, value_name = "FORMAT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,

    /// How long a graceful drain may take after SIGINT or SIGTERM, e.g. "30s" [env: VIGIL_SHUTDOWN_GRACE] [default: 30s]
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_grace: Option<String>,

    /// Certificate chain (PEM) to serve TLS with; re-read when it changes or on SIGHUP [env: VIGIL_TLS_CERT]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) of --tls-cert [env: VIGIL_TLS_KEY]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,

    /// CA (PEM) that client certificates must chain to; requires and verifies client certificates (mTLS) [env: VIGIL_TLS_CLIENT_CA]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_ca: Option<PathBuf>,
}

impl CommonArgs {
    /// The log format asked for, read without loading the settings (which
    /// may be what fails): `--log-format`, else `VIGIL_LOG_FORMAT`, else
    /// `log_format` in the config file, else text. Errors printed before
    /// the settings load use it.
    pub fn requested_log_format(&self) -> LogFormat {
        if let Some(format) = self.log_format {
            return format;
        }
        let from_text = |text: &str| match text.trim().to_ascii_lowercase().as_str() {
            "json" => Some(LogFormat::Json),
            "text" => Some(LogFormat::Text),
            _ => None,
        };
        if let Some(format) = std::env::var("VIGIL_LOG_FORMAT")
            .ok()
            .and_then(|v| from_text(&v))
        {
            return format;
        }
        self.config
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
            .and_then(|table| table.get("log_format")?.as_str().and_then(from_text))
            .unwrap_or_default()
    }
}

/// How the scheduler and the executor reach the catalog: `--catalog` and
/// the client credentials.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct CatalogArgs {
    /// gRPC endpoint of the catalog, http:// or https:// [env: VIGIL_CATALOG] [default: http://127.0.0.1:50051]
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,

    /// File holding the bearer token for the catalog; else VIGIL_TOKEN, else <data-dir>/component.token [env: VIGIL_TOKEN_FILE]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,

    /// CA certificate (PEM) of the catalog's https:// endpoint [env: VIGIL_CA_CERT]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,

    /// Client certificate (PEM) for a catalog that requires mTLS [env: VIGIL_CLIENT_CERT]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,

    /// Key (PEM) of --client-cert [env: VIGIL_CLIENT_KEY]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
}

/// Format of log lines on standard error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The name used in flags and files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}
