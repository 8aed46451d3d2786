//! What every command gets: the global flags and a client connected on first use.

use std::time::Duration;

use tokio::sync::OnceCell;
use vigil_client::VigilClient;

use crate::error::CliError;

/// How much the CLI says besides its results (`-q`, default, `-v`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verbosity {
    /// Results only, in their shortest form.
    Quiet,
    /// Results and progress.
    Normal,
    /// Also what the CLI does.
    Verbose,
}

/// Global settings and the lazily connected client.
pub(crate) struct Ctx {
    /// Where the services are.
    pub endpoint: String,
    /// Machine-readable output.
    pub json: bool,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How much to say besides the results.
    pub verbosity: Verbosity,
    client: OnceCell<VigilClient>,
}

impl Ctx {
    /// Settings from the global flags; nothing is connected yet.
    pub(crate) fn new(
        endpoint: String,
        json: bool,
        timeout: Duration,
        verbosity: Verbosity,
    ) -> Self {
        Self {
            endpoint,
            json,
            timeout,
            verbosity,
            client: OnceCell::new(),
        }
    }

    /// The client, connecting on first use, so that local input errors are
    /// reported before any connection is tried.
    pub(crate) async fn client(&self) -> Result<&VigilClient, CliError> {
        self.client
            .get_or_try_init(|| async {
                if self.verbosity == Verbosity::Verbose {
                    eprintln!(
                        "vigil: connecting to {} (request timeout {})",
                        self.endpoint,
                        humantime::format_duration(self.timeout)
                    );
                }
                VigilClient::builder()
                    .endpoint(self.endpoint.clone())
                    .request_timeout(Some(self.timeout))
                    .connect()
                    .await
            })
            .await
            .map_err(CliError::from)
    }

    /// `-q`: results only, in their shortest form.
    pub(crate) fn quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }
}
