//! The one channel setup for reaching the catalog.

use std::time::Duration;

use tonic::transport::Endpoint;
use vigil_auth::{AuthChannel, ClientCredentials, CredentialError};

/// How the connection to the catalog is made and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelSettings {
    /// Longest wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Interval of HTTP/2 pings, sent also while no call is running, so a
    /// dead connection is noticed before a call needs it.
    pub keepalive_interval: Duration,
    /// Longest wait for a ping's answer before the connection is dropped.
    pub keepalive_timeout: Duration,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        ChannelSettings {
            connect_timeout: Duration::from_secs(5),
            keepalive_interval: Duration::from_secs(20),
            keepalive_timeout: Duration::from_secs(20),
        }
    }
}

impl ChannelSettings {
    /// The endpoint for `url` with these settings and the TLS of
    /// `credentials` (for `https://`).
    pub fn endpoint(
        &self,
        credentials: &ClientCredentials,
        url: &str,
    ) -> Result<Endpoint, CredentialError> {
        Ok(credentials
            .endpoint(url)?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(self.keepalive_interval)
            .keep_alive_timeout(self.keepalive_timeout)
            .keep_alive_while_idle(true))
    }

    /// A lazily connecting channel to `url` that presents `credentials`.
    /// Calls fail with UNAVAILABLE while the catalog is away and succeed
    /// again once it is back.
    pub fn connect_lazy(
        &self,
        credentials: &ClientCredentials,
        url: &str,
    ) -> Result<AuthChannel, CredentialError> {
        let channel = self.endpoint(credentials, url)?.connect_lazy();
        Ok(credentials.wrap(channel))
    }
}
