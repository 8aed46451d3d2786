//! Building a [`VigilClient`]: endpoints per service, credentials, timeouts
//! and retries.

use std::collections::HashMap;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};
use vigil_auth::{AuthChannel, ClientCredentials, ClientTls, Token};

use crate::client::{CallPolicy, VigilClient};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// The endpoint of an all-in-one `vigild`.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:50051";
/// Default time allowed to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed for one unary request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default wait between `GetJob` polls when `WatchJob` is not available.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Configures and connects a [`VigilClient`].
///
/// Every service uses [`ClientBuilder::endpoint`] unless a per-service
/// endpoint is set. Services that share an endpoint share one connection.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    endpoint: String,
    catalog: Option<String>,
    scheduler: Option<String>,
    executor: Option<String>,
    status: Option<String>,
    connect_timeout: Duration,
    request_timeout: Option<Duration>,
    retry: RetryPolicy,
    poll_interval: Duration,
    lazy: bool,
    credentials: ClientCredentials,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            catalog: None,
            scheduler: None,
            executor: None,
            status: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
            retry: RetryPolicy::default(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            lazy: false,
            credentials: ClientCredentials::default(),
        }
    }
}

impl ClientBuilder {
    /// The endpoint for every service without its own, such as `http://127.0.0.1:50051`.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = url.into();
        self
    }

    /// The catalog's endpoint (configurations, jobs, artifacts, alerts).
    pub fn catalog_endpoint(mut self, url: impl Into<String>) -> Self {
        self.catalog = Some(url.into());
        self
    }

    /// The scheduler's endpoint.
    pub fn scheduler_endpoint(mut self, url: impl Into<String>) -> Self {
        self.scheduler = Some(url.into());
        self
    }

    /// The executor's endpoint (uploads and downloads).
    pub fn executor_endpoint(mut self, url: impl Into<String>) -> Self {
        self.executor = Some(url.into());
        self
    }

    /// The status service's endpoint.
    pub fn status_endpoint(mut self, url: impl Into<String>) -> Self {
        self.status = Some(url.into());
        self
    }

    /// Time allowed to open a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one unary request, or for a stream to start; `None`
    /// waits forever. Streams themselves are never cut by this timeout.
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Retry policy of idempotent calls.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Wait between `GetJob` polls when `WatchJob` is not available.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The bearer token sent as `authorization: Bearer TOKEN` on every call.
    pub fn token(mut self, token: impl AsRef<str>) -> Self {
        self.credentials.token = Some(Token::new(token));
        self
    }

    /// TLS settings for `https://` endpoints: the CA of the servers'
    /// certificates (the system roots when unset) and a client certificate
    /// for servers that require mTLS.
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.credentials.tls = tls;
        self
    }

    /// Token and TLS settings at once.
    pub fn credentials(mut self, credentials: ClientCredentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Reads the credentials from the environment, as every Vigil client
    /// does: the token from `VIGIL_TOKEN_FILE` or `VIGIL_TOKEN`, the TLS
    /// files from `VIGIL_CA_CERT`, `VIGIL_CLIENT_CERT` and `VIGIL_CLIENT_KEY`.
    pub fn credentials_from_env(mut self) -> Result<Self> {
        let invalid = |e: vigil_auth::CredentialError| Error::InvalidArgument {
            field: "credentials".to_owned(),
            reason: e.to_string(),
        };
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(Into::into)
        };
        let token = ClientCredentials::token_from_env(None, None).map_err(invalid)?;
        let tls = ClientTls {
            ca_cert: path("VIGIL_CA_CERT"),
            client_cert: path("VIGIL_CLIENT_CERT"),
            client_key: path("VIGIL_CLIENT_KEY"),
        };
        tls.validate().map_err(invalid)?;
        self.credentials = ClientCredentials { token, tls };
        Ok(self)
    }

    /// Connect on first use instead of in [`ClientBuilder::connect`].
    pub fn lazy(mut self, lazy: bool) -> Self {
        self.lazy = lazy;
        self
    }

    /// Opens the connections and returns the client.
    pub async fn connect(self) -> Result<VigilClient> {
        let urls = [
            self.catalog
                .clone()
                .unwrap_or_else(|| self.endpoint.clone()),
            self.scheduler
                .clone()
                .unwrap_or_else(|| self.endpoint.clone()),
            self.executor
                .clone()
                .unwrap_or_else(|| self.endpoint.clone()),
            self.status.clone().unwrap_or_else(|| self.endpoint.clone()),
        ];
        let mut channels: HashMap<String, AuthChannel> = HashMap::new();
        for url in &urls {
            if !channels.contains_key(url) {
                let channel = self.open(url).await?;
                channels.insert(url.clone(), self.credentials.wrap(channel));
            }
        }
        let [catalog, scheduler, executor, status] = urls.map(|u| channels[&u].clone());
        let policy = CallPolicy {
            request_timeout: self.request_timeout,
            retry: self.retry,
            poll_interval: self.poll_interval,
        };
        Ok(VigilClient::from_channels(
            catalog, scheduler, executor, status, policy,
        ))
    }

    async fn open(&self, url: &str) -> Result<Channel> {
        parse_endpoint(url)?;
        let endpoint = self
            .credentials
            .endpoint(url)
            .map_err(|e| Error::InvalidEndpoint {
                reason: e.to_string(),
            })?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true);
        if self.lazy {
            return Ok(endpoint.connect_lazy());
        }
        endpoint.connect().await.map_err(|e| Error::Connect {
            endpoint: url.to_owned(),
            reason: transport_reason(&e),
        })
    }
}

/// Parses an endpoint URL; only `http` and `https` schemes with a host are accepted.
pub fn parse_endpoint(url: &str) -> Result<Endpoint> {
    let invalid = |reason: String| Error::InvalidEndpoint { reason };
    let uri: http::Uri = url
        .parse()
        .map_err(|e| invalid(format!("{url:?} is not a URL: {e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(invalid(format!("scheme {other:?} is not http or https"))),
        None => return Err(invalid(format!("{url:?} lacks a scheme such as http://"))),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid(format!("{url:?} lacks a host")));
    }
    Endpoint::from_shared(url.to_owned()).map_err(|e| invalid(format!("{url:?}: {e}")))
}

/// The innermost cause of a transport error, which names what actually failed.
fn transport_reason(e: &tonic::transport::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_need_http_scheme_and_host() {
        assert!(parse_endpoint("http://127.0.0.1:50051").is_ok());
        assert!(parse_endpoint("https://vigil.example:443").is_ok());
        for bad in ["127.0.0.1:50051", "ftp://host", "http://", "not a url"] {
            let err = parse_endpoint(bad).unwrap_err();
            assert!(err.to_string().starts_with("endpoint: "), "{bad}: {err}");
        }
    }
}
