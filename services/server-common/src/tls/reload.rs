//! The server's TLS configuration, rebuilt from its files on change or SIGHUP.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often the files are checked for changes.
const POLL: Duration = Duration::from_secs(1);

/// The TLS files of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
    /// CA (PEM) that client certificates must chain to; set means mTLS.
    pub client_ca: Option<PathBuf>,
}

/// The TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read or parsed.
    #[error("{setting} {path}: {reason}")]
    File {
        /// The setting naming the file.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// rustls refused the certificates or the key.
    #[error("tls: {0}")]
    Config(String),
}

/// The current server configuration; cheap to clone.
#[derive(Debug, Clone)]
pub struct ServerTls {
    files: TlsFiles,
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl ServerTls {
    /// Reads and checks the files.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let config = build(&files)?;
        Ok(Self {
            files,
            current: Arc::new(RwLock::new(Arc::new(config))),
        })
    }

    /// Whether client certificates are required.
    pub fn requires_client_cert(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// The configuration for the next handshake.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Rebuilds the configuration from the files; on failure the old one
    /// stays and the error is returned.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = build(&self.files)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        Ok(())
    }

    /// Reloads whenever a file's modification time changes or SIGHUP
    /// arrives, until `stop`.
    pub fn watch(&self, stop: CancellationToken) {
        let tls = self.clone();
        tokio::spawn(async move {
            let mut hangups = signal(SignalKind::hangup()).ok();
            let mut seen = tls.stamps();
            loop {
                let hangup = async {
                    match hangups.as_mut() {
                        Some(s) => s.recv().await,
                        None => std::future::pending().await,
                    }
                };
                let reason = tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = hangup => "SIGHUP",
                    _ = tokio::time::sleep(POLL) => {
                        let now = tls.stamps();
                        if now == seen { continue; }
                        seen = now;
                        "file change"
                    }
                };
                match tls.reload() {
                    Ok(()) => info!(reason, "tls certificates reloaded"),
                    Err(e) => {
                        warn!(reason, error = %e, "tls certificates not reloaded; the previous ones stay")
                    }
                }
            }
        });
    }

    fn stamps(&self) -> Vec<Option<SystemTime>> {
        let files = [
            Some(&self.files.cert),
            Some(&self.files.key),
            self.files.client_ca.as_ref(),
        ];
        files
            .into_iter()
            .flatten()
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    }
}

fn build(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = read_certs("tls_cert", &files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| file_error("tls_key", &files.key, e))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs("tls_client_ca", ca)? {
                roots
                    .add(cert)
                    .map_err(|e| file_error("tls_client_ca", ca, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| file_error("tls_client_ca", ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(format!("tls_cert and tls_key do not match: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

fn read_certs(
    setting: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(setting, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(setting, path, e))?;
    if certs.is_empty() {
        return Err(file_error(setting, path, "holds no PEM certificate"));
    }
    Ok(certs)
}

fn file_error(setting: &'static str, path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        setting,
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}
