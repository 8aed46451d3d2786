//! Credentials of a hosted server: the auth policy every port enforces,
//! the TLS it serves, and how its own components reach the catalog.
//!
//! - A process hosting the catalog (`vigild`, `vigil-catalog`) checks
//!   tokens against its own tokens table, writes the bootstrap token files
//!   on first start, and reaches its own catalog through an in-process
//!   transport with a token that lives only in memory, so that its
//!   scheduler, executor and status report work whatever the port demands
//!   (TLS, client certificates).
//! - A scheduler or executor on its own presents its token (and client
//!   certificate) to the catalog, and checks its own callers by asking the
//!   catalog (`AccessService.WhoAmI`).

use std::sync::Arc;

use anyhow::Context as _;
use serde::Deserialize;
use tracing::info;
use vigil_auth::{AuthChannel, Caller, ClientCredentials, Role, Token, token};
use vigil_catalog::Catalog;
use vigil_catalog_client::ChannelSettings;
use vigil_server_common::auth::{AuthPolicy, CertRoles, RemoteAudit, RemoteAuthenticator};
use vigil_server_common::settings::{LoadedSettings, SettingsError};
use vigil_server_common::tls::{LocalTransport, ServerTls};

/// Name of the auth section in the configuration.
pub const SECTION: &str = "auth";

/// The `[auth]` section: which client certificates name which role.
///
/// ```toml
/// [auth.cert_roles]
/// "scheduler.vigil.internal" = "component"
/// "ops@example.com" = "admin"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    /// Certificate subject CN or SAN to role.
    pub cert_roles: CertRoles,
}

impl AuthSection {
    /// Extracts and checks the `[auth]` section.
    pub fn from_settings(loaded: &LoadedSettings) -> Result<Self, SettingsError> {
        let section: Self = loaded.section(SECTION)?;
        if !section.cert_roles.is_empty() && loaded.settings.tls_client_ca.is_none() {
            return Err(loaded.invalid(
                "auth.cert_roles",
                "needs tls_client_ca: only verified client certificates can name a caller",
            ));
        }
        Ok(section)
    }
}

/// The TLS the port serves, when `tls_cert` is set.
pub fn server_tls(loaded: &LoadedSettings) -> anyhow::Result<Option<ServerTls>> {
    let Some(files) = loaded.settings.tls_files() else {
        return Ok(None);
    };
    let mtls = files.client_ca.is_some();
    let tls = ServerTls::load(files).context("the tls settings cannot be used")?;
    info!(client_certificates = mtls, "serving tls");
    Ok(Some(tls))
}

/// What a process hosting the catalog needs for authentication.
#[derive(Debug)]
pub struct CatalogAccess {
    /// The policy of the port.
    pub policy: AuthPolicy,
    /// The in-process transport to serve beside the port.
    pub local: LocalTransport,
    /// A channel to this process's catalog, as a component.
    pub channel: AuthChannel,
}

/// Bootstraps the tokens on first start and builds the policy of a process
/// that hosts `catalog`.
pub async fn catalog_access(
    loaded: &LoadedSettings,
    section: &AuthSection,
    catalog: &Catalog,
    service: &str,
) -> anyhow::Result<CatalogAccess> {
    let data_dir = &loaded.settings.data_dir;
    if let Some(files) = catalog
        .bootstrap_tokens(data_dir)
        .await
        .context("the bootstrap tokens cannot be created")?
    {
        info!(
            admin = %files.admin.display(),
            component = %files.component.display(),
            "no token existed: bootstrap tokens written (mode 0600)"
        );
    }
    let internal = token::generate();
    let authenticator = catalog.authenticator().with_internal(
        &internal,
        Caller {
            name: format!("{service}-internal"),
            role: Role::Component,
        },
    );
    let policy = AuthPolicy::new(Arc::new(authenticator))
        .with_cert_roles(section.cert_roles.clone())
        .with_audit(Arc::new(catalog.audit_sink()));
    let local = LocalTransport::new();
    let credentials = ClientCredentials {
        token: Some(Token::new(internal)),
        ..ClientCredentials::default()
    };
    let channel = credentials.wrap(local.channel());
    Ok(CatalogAccess {
        policy,
        local,
        channel,
    })
}

/// What a scheduler or executor on its own needs for authentication.
#[derive(Debug)]
pub struct RemoteAccess {
    /// The policy of its port: tokens checked by the catalog.
    pub policy: AuthPolicy,
    /// Its channel to the catalog, with its own credentials.
    pub channel: AuthChannel,
}

/// Reads the component's credentials and connects (lazily) to the catalog.
pub fn remote_access(
    loaded: &LoadedSettings,
    section: &AuthSection,
) -> anyhow::Result<RemoteAccess> {
    let settings = &loaded.settings;
    let credentials = settings
        .catalog_credentials()
        .context("the catalog credentials cannot be read")?;
    anyhow::ensure!(
        credentials.token.is_some() || credentials.tls.client_cert.is_some(),
        "no credential for the catalog: set --token-file, VIGIL_TOKEN_FILE or VIGIL_TOKEN, \
         put component.token in the data dir {}, or set client_cert",
        settings.data_dir.display()
    );
    let endpoint = settings.catalog_endpoint();
    let plain = ChannelSettings::default()
        .endpoint(&credentials, &endpoint)
        .with_context(|| format!("catalog endpoint {endpoint}"))?
        .connect_lazy();
    let channel = credentials.wrap(plain.clone());
    let policy = AuthPolicy::new(Arc::new(RemoteAuthenticator::new(plain)))
        .with_cert_roles(section.cert_roles.clone())
        .with_audit(Arc::new(RemoteAudit::new(channel.clone())));
    Ok(RemoteAccess { policy, channel })
}
