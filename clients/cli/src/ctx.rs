//! What every command gets: the global flags and a client connected on first use.

use std::time::Duration;

use tokio::sync::OnceCell;
use vigil_client::{ClientCredentials, ClientTls, VigilClient};

use crate::cli::Cli;
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
/// Where the CLI finds the admin token when nothing else names one: the
/// bootstrap file of a `vigild` started in the same directory.
pub(crate) const FALLBACK_TOKEN_FILE: &str = "./vigil-data/admin.token";

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
    credentials: ClientCredentials,
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
            credentials: ClientCredentials::default(),
            client: OnceCell::new(),
        }
    }

    /// Reads the token (`--token-file`, `VIGIL_TOKEN_FILE`, `VIGIL_TOKEN`,
    /// then `./vigil-data/admin.token` when it exists) and the TLS files.
    pub(crate) fn with_credentials(
        mut self,
        cli: &Cli,
    ) -> Result<Self, vigil_client::auth::CredentialError> {
        let token = ClientCredentials::token_from_env(
            cli.token_file.as_deref(),
            Some(std::path::Path::new(FALLBACK_TOKEN_FILE)),
        )?;
        let tls = ClientTls {
            ca_cert: cli.ca_cert.clone(),
            client_cert: cli.client_cert.clone(),
            client_key: cli.client_key.clone(),
        };
        tls.validate()?;
        self.credentials = ClientCredentials { token, tls };
        Ok(self)
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
                    .credentials(self.credentials.clone())
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
