//! A client's credentials: a bearer token and TLS settings, and the channel
//! that presents them on every call.
//!
//! Token lookup order, the same in every client: an explicit token file
//! (`--token-file`), `VIGIL_TOKEN_FILE`, `VIGIL_TOKEN`, then a fallback file
//! when it exists (`<data-dir>/component.token` for schedulers and
//! executors, `./vigil-data/admin.token` for the CLI).

use std::fmt;
use std::path::{Path, PathBuf};

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// Environment variable naming a file that holds the token.
pub const TOKEN_FILE_ENV: &str = "VIGIL_TOKEN_FILE";
/// Environment variable holding the token itself.
pub const TOKEN_ENV: &str = "VIGIL_TOKEN";
/// Name of the bootstrap admin token file in a data dir.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Name of the bootstrap component token file in a data dir.
pub const COMPONENT_TOKEN_FILE: &str = "component.token";

/// Reading credentials failed.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// A named file could not be read.
    #[error("{setting} {path}: {reason}")]
    File {
        /// The setting that named the file.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it could not be used.
        reason: String,
    },
    /// A setting is inconsistent.
    #[error("{setting}: {reason}")]
    Invalid {
        /// The setting at fault.
        setting: &'static str,
        /// Why.
        reason: String,
    },
}

/// TLS settings of a client; used for `https://` endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// CA certificate (PEM) that signed the server's certificate; the
    /// system roots when unset.
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM), for servers that require mTLS.
    pub client_cert: Option<PathBuf>,
    /// Key of the client certificate (PEM).
    pub client_key: Option<PathBuf>,
}

impl ClientTls {
    /// Checks that the files exist and come in pairs.
    pub fn validate(&self) -> Result<(), CredentialError> {
        match (&self.client_cert, &self.client_key) {
            (Some(_), None) => return Err(invalid("client_key", "is required with client_cert")),
            (None, Some(_)) => return Err(invalid("client_cert", "is required with client_key")),
            _ => {}
        }
        for (setting, path) in [
            ("ca_cert", &self.ca_cert),
            ("client_cert", &self.client_cert),
            ("client_key", &self.client_key),
        ] {
            if let Some(path) = path {
                read(setting, path)?;
            }
        }
        Ok(())
    }

    /// Whether any TLS setting is given.
    pub fn is_set(&self) -> bool {
        self.ca_cert.is_some() || self.client_cert.is_some()
    }

    fn config(&self) -> Result<ClientTlsConfig, CredentialError> {
        let mut config = ClientTlsConfig::new();
        config = match &self.ca_cert {
            Some(path) => config.ca_certificate(Certificate::from_pem(read("ca_cert", path)?)),
            None => config.with_native_roots(),
        };
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            let identity = Identity::from_pem(read("client_cert", cert)?, read("client_key", key)?);
            config = config.identity(identity);
        }
        Ok(config)
    }
}

/// A bearer token; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token string, trimmed of surrounding whitespace.
    pub fn new(token: impl AsRef<str>) -> Self {
        Token(token.as_ref().trim().to_owned())
    }

    /// The token itself, for the `authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// What a client presents: an optional bearer token and TLS settings.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// The bearer token, if any.
    pub token: Option<Token>,
    /// TLS settings for `https://` endpoints.
    pub tls: ClientTls,
}

impl ClientCredentials {
    /// Finds the token: `token_file`, then `VIGIL_TOKEN_FILE`, then
    /// `VIGIL_TOKEN`, then `fallback` when that file exists.
    pub fn token_from_env(
        token_file: Option<&Path>,
        fallback: Option<&Path>,
    ) -> Result<Option<Token>, CredentialError> {
        let env_file = std::env::var_os(TOKEN_FILE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let env_token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty());
        resolve_token(token_file, env_file.as_deref(), env_token, fallback)
    }

    /// An endpoint for `url` with TLS applied when the scheme is `https`.
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, CredentialError> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| invalid("endpoint", format!("{url:?} is not a URL: {e}")))?;
        if url.starts_with("https://") {
            return endpoint
                .tls_config(self.tls.config()?)
                .map_err(|e| invalid("endpoint", format!("TLS settings for {url}: {e}")));
        }
        if self.tls.client_cert.is_some() {
            return Err(invalid(
                "client_cert",
                format!("needs an https:// endpoint, not {url}"),
            ));
        }
        Ok(endpoint)
    }

    /// Wraps a channel so that every call presents the token.
    pub fn wrap(&self, channel: Channel) -> AuthChannel {
        InterceptedService::new(channel, self.bearer())
    }

    /// The interceptor that adds `authorization: Bearer TOKEN`.
    pub fn bearer(&self) -> Bearer {
        Bearer::new(self.token.as_ref())
    }
}

/// Token precedence, with the environment already read.
fn resolve_token(
    token_file: Option<&Path>,
    env_file: Option<&Path>,
    env_token: Option<String>,
    fallback: Option<&Path>,
) -> Result<Option<Token>, CredentialError> {
    if let Some(path) = token_file {
        return read_token("token_file", path).map(Some);
    }
    if let Some(path) = env_file {
        return read_token(TOKEN_FILE_ENV, path).map(Some);
    }
    if let Some(token) = env_token {
        return Ok(Some(Token::new(token)));
    }
    match fallback {
        Some(path) if path.exists() => read_token("token fallback file", path).map(Some),
        _ => Ok(None),
    }
}

fn read_token(setting: &'static str, path: &Path) -> Result<Token, CredentialError> {
    let text = String::from_utf8(read(setting, path)?).map_err(|_| CredentialError::File {
        setting,
        path: path.to_owned(),
        reason: "is not UTF-8 text".to_owned(),
    })?;
    let token = Token::new(text);
    if token.0.is_empty() {
        return Err(CredentialError::File {
            setting,
            path: path.to_owned(),
            reason: "is empty".to_owned(),
        });
    }
    Ok(token)
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, CredentialError> {
    std::fs::read(path).map_err(|e| CredentialError::File {
        setting,
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> CredentialError {
    CredentialError::Invalid {
        setting,
        reason: reason.into(),
    }
}

/// Adds `authorization: Bearer TOKEN` to every call (nothing without a token).
#[derive(Clone, Default)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// An interceptor presenting `token`.
    pub fn new(token: Option<&Token>) -> Self {
        let value = token.and_then(|t| {
            let mut value: MetadataValue<Ascii> = format!("Bearer {}", t.expose()).parse().ok()?;
            value.set_sensitive(true);
            Some(value)
        });
        Bearer(value)
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Bearer(***)"
        } else {
            "Bearer(none)"
        })
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A channel whose calls carry the client's bearer token.
pub type AuthChannel = InterceptedService<Channel, Bearer>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_file_beats_environment_beats_fallback() {
        let dir = std::env::temp_dir().join(format!("vigil-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("t");
        let fallback = dir.join("fallback");
        std::fs::write(&file, "from-file\n").unwrap();
        std::fs::write(&fallback, "from-fallback").unwrap();
        let pick = |f: Option<&Path>, ef: Option<&Path>, e: Option<&str>| {
            resolve_token(f, ef, e.map(str::to_owned), Some(&fallback))
                .unwrap()
                .map(|t| t.expose().to_owned())
        };
        assert_eq!(
            pick(Some(&file), None, Some("env")).as_deref(),
            Some("from-file")
        );
        assert_eq!(
            pick(None, Some(&file), Some("env")).as_deref(),
            Some("from-file")
        );
        assert_eq!(pick(None, None, Some("env")).as_deref(), Some("env"));
        assert_eq!(pick(None, None, None).as_deref(), Some("from-fallback"));
        assert!(resolve_token(Some(&dir.join("missing")), None, None, None).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_hides_the_token() {
        let creds = ClientCredentials {
            token: Some(Token::new("vigil_secret")),
            tls: ClientTls::default(),
        };
        assert!(!format!("{creds:?}").contains("secret"));
        assert!(!format!("{:?}", creds.bearer()).contains("secret"));
    }
}
