//! The catalog's side of authentication: checking bearer tokens against
//! the tokens table, recording audit events, and the bootstrap tokens.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tonic::Status;
use vigil_auth::client::{ADMIN_TOKEN_FILE, COMPONENT_TOKEN_FILE};
use vigil_auth::{Caller, Role, token};
use vigil_server_common::auth::{AuditRecord, AuditSink, Authenticator, TokenCache};

use crate::error::{Error, Result};
use crate::store::Store;

/// How long a checked token is trusted before the database is read again:
/// a revocation reaches every other replica within this time.
pub const TOKEN_TTL: Duration = Duration::from_secs(2);

/// Checks tokens against the catalog's tokens table, with a short cache.
#[derive(Debug, Clone)]
pub struct CatalogAuthenticator {
    store: Store,
    cache: Arc<TokenCache>,
    /// Process-local tokens (hash, caller) that live only in memory, such as
    /// the one `vigild` gives its own scheduler and executor.
    internal: Arc<Vec<(String, Caller)>>,
}

impl CatalogAuthenticator {
    pub(crate) fn new(store: Store, cache: Arc<TokenCache>) -> Self {
        Self {
            store,
            cache,
            internal: Arc::new(Vec::new()),
        }
    }

    /// Also accepts `token` for `caller`, in this process only.
    pub fn with_internal(mut self, token: &str, caller: Caller) -> Self {
        let mut internal = (*self.internal).clone();
        internal.push((token::hash(token), caller));
        self.internal = Arc::new(internal);
        self
    }

    async fn check(&self, presented: &str) -> std::result::Result<Caller, Status> {
        let refused = || Status::unauthenticated("the bearer token is unknown or revoked");
        if !token::well_formed(presented) {
            return Err(refused());
        }
        let hash = token::hash(presented);
        for (known, caller) in self.internal.iter() {
            if token::constant_time_eq(known.as_bytes(), hash.as_bytes()) {
                return Ok(caller.clone());
            }
        }
        if let Some(caller) = self.cache.get(&hash) {
            return Ok(caller);
        }
        let record = self.store.token_by_hash(&hash).await.map_err(|e| {
            tracing::warn!(error = %e, "token lookup failed");
            Status::unavailable("the credential cannot be checked right now")
        })?;
        let Some(record) = record else {
            return Err(refused());
        };
        if !token::constant_time_eq(record.hash.as_bytes(), hash.as_bytes()) {
            return Err(refused());
        }
        if let Err(e) = self.store.touch_token(&record).await {
            tracing::warn!(error = %e, token = %record.caller.name, "last use not recorded");
        }
        self.cache.put(hash, record.caller.clone());
        Ok(record.caller)
    }
}

impl Authenticator for CatalogAuthenticator {
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, std::result::Result<Caller, Status>> {
        Box::pin(self.check(token))
    }
}

/// Writes audit records into the catalog, in the background.
#[derive(Debug, Clone)]
pub struct StoreAudit {
    store: Store,
}

impl StoreAudit {
    pub(crate) fn new(store: Store) -> Self {
        Self { store }
    }
}

impl AuditSink for StoreAudit {
    fn record(&self, record: AuditRecord) {
        let store = self.store.clone();
        let event = record.into_event();
        tokio::spawn(async move {
            if let Err(e) = store.record_audit_event(&event).await {
                tracing::warn!(error = %e, method = %event.method, "audit event not recorded");
            }
        });
    }
}

/// The token files written on first start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapFiles {
    /// `<data-dir>/admin.token`.
    pub admin: PathBuf,
    /// `<data-dir>/component.token`.
    pub component: PathBuf,
}

/// When the catalog holds no token, creates `admin` (role admin) and
/// `component` (role component) and writes them to `admin.token` and
/// `component.token` in `data_dir`, mode 0600. `None` when tokens exist.
pub async fn bootstrap(store: &Store, data_dir: &Path) -> Result<Option<BootstrapFiles>> {
    if store.count_tokens().await? > 0 {
        return Ok(None);
    }
    let files = BootstrapFiles {
        admin: data_dir.join(ADMIN_TOKEN_FILE),
        component: data_dir.join(COMPONENT_TOKEN_FILE),
    };
    for (name, role, path) in [
        ("admin", Role::Admin, &files.admin),
        ("component", Role::Component, &files.component),
    ] {
        let secret = token::generate();
        store
            .insert_token(name, role, &token::hash(&secret))
            .await?;
        write_secret_file(path, &secret)?;
    }
    Ok(Some(files))
}

/// Writes `text` to `path` with mode 0600, replacing any older file.
pub fn write_secret_file(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let io =
        |e: std::io::Error| Error::Internal(format!("{} cannot be written: {e}", path.display()));
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.write_all(b"\n").map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}
