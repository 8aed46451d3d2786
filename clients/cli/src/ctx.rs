//! What every command gets: the global flags and a client connected on first use.

use std::time::Duration;

use tokio::sync::OnceCell;
use vigil_client::VigilClient;

use crate::error::CliError;

/// Global settings and the lazily connected client.
pub(crate) struct Ctx {
    /// Where the services are.
    pub endpoint: String,
    /// Machine-readable output.
    pub json: bool,
    /// Per-request timeout.
    pub timeout: Duration,
    client: OnceCell<VigilClient>,
}

impl Ctx {
    /// Settings from the global flags; nothing is connected yet.
    pub(crate) fn new(endpoint: String, json: bool, timeout: Duration) -> Self {
        Self {
            endpoint,
            json,
            timeout,
            client: OnceCell::new(),
        }
    }

    /// The client, connecting on first use, so that local input errors are
    /// reported before any connection is tried.
    pub(crate) async fn client(&self) -> Result<&VigilClient, CliError> {
        self.client
            .get_or_try_init(|| async {
                VigilClient::builder()
                    .endpoint(self.endpoint.clone())
                    .request_timeout(Some(self.timeout))
                    .connect()
                    .await
            })
            .await
            .map_err(CliError::from)
    }
}
