//! [`CatalogClient`]: deadlines, retries and paging around the stubs.

use std::time::Duration;

use tonic::{Code, Request, Status, Streaming};
use vigil_auth::{AuthChannel, ClientCredentials, CredentialError};
use vigil_proto::catalog::v1::{WatchEventsRequest, WatchEventsResponse};

use crate::channel::ChannelSettings;
use crate::error::{Error, Result};
use crate::page;
use crate::retry::RetryPolicy;
use crate::rpc::{self, Paged, Repeat, Rpc, Stubs};

/// The deadline and retries of calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallSettings {
    /// Longest wait for the answer of one attempt of a call. Sent to the
    /// catalog as the call's deadline (`grpc-timeout`), and enforced here
    /// whatever the channel.
    pub deadline: Duration,
    /// Retries of calls that may be repeated ([`Repeat`]).
    pub retry: RetryPolicy,
}

impl Default for CallSettings {
    /// A 30-second deadline and [`RetryPolicy::default`].
    fn default() -> Self {
        CallSettings {
            deadline: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// The catalog's `CatalogService` and `CoordinationService`, reached
/// through one channel. Cheap to clone; clones share the connection.
#[derive(Debug, Clone)]
pub struct CatalogClient {
    channel: AuthChannel,
    stubs: Stubs,
    settings: CallSettings,
}

impl CatalogClient {
    /// A client over `channel`, which carries the credentials (TLS, token;
    /// in `vigild`, the in-process transport), with the default
    /// [`CallSettings`].
    pub fn new(channel: AuthChannel) -> Self {
        CatalogClient {
            stubs: Stubs::new(channel.clone()),
            channel,
            settings: CallSettings::default(),
        }
    }

    /// A lazily connecting client for `url` with the default
    /// [`ChannelSettings`], presenting `credentials`.
    pub fn connect_lazy(
        credentials: &ClientCredentials,
        url: &str,
    ) -> Result<Self, CredentialError> {
        let channel = ChannelSettings::default().connect_lazy(credentials, url)?;
        Ok(CatalogClient::new(channel))
    }

    /// The same client with other call settings.
    pub fn with_settings(self, settings: CallSettings) -> Self {
        CatalogClient { settings, ..self }
    }

    /// The call settings.
    pub fn settings(&self) -> CallSettings {
        self.settings
    }

    /// The channel, for other services on the catalog's port (health).
    pub fn channel(&self) -> &AuthChannel {
        &self.channel
    }

    /// Sends `request` with the default deadline. A read, or a write the
    /// catalog recognises when repeated, is tried again after a transient
    /// failure, as the retry policy says; any other write is sent once.
    pub async fn call<R: Rpc>(&self, request: R) -> Result<R::Response> {
        self.call_within(request, self.settings.deadline).await
    }

    /// Like [`CatalogClient::call`] with a deadline of its own for each
    /// attempt: for a long poll (`LeaseJob` with a wait) or a call that
    /// must give up sooner than others (a heartbeat).
    pub async fn call_within<R: Rpc>(&self, request: R, deadline: Duration) -> Result<R::Response> {
        let policy = match R::REPEAT {
            Repeat::Read | Repeat::Recognised => self.settings.retry,
            Repeat::Never => RetryPolicy::ONCE,
        };
        if policy.attempts.get() == 1 {
            return self
                .attempt(request, deadline)
                .await
                .map_err(|s| Error::status(R::NAME, s));
        }
        let mut attempt = 1;
        loop {
            let status = match self.attempt(request.clone(), deadline).await {
                Ok(response) => return Ok(response),
                Err(status) => status,
            };
            let Some(wait) = policy.wait_after(attempt, &status) else {
                return Err(Error::status(R::NAME, status));
            };
            tracing::debug!(rpc = R::NAME, attempt, code = ?status.code(), error = status.message(), "catalog call failed; trying again");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Every item of a List RPC, page after page from `request`'s filter.
    /// Each page is a call of its own (deadline and retries).
    pub async fn all<R: Paged>(&self, request: R) -> Result<Vec<R::Item>> {
        page::collect(R::NAME, |token| {
            let request = request.clone().at_page(token);
            async move { self.call(request).await.map(R::into_page) }
        })
        .await
    }

    /// Every item of a List RPC, handed to `each` one page at a time.
    pub async fn each_page<R: Paged>(
        &self,
        request: R,
        each: impl FnMut(Vec<R::Item>),
    ) -> Result<()> {
        page::for_each(
            R::NAME,
            |token| {
                let request = request.clone().at_page(token);
                async move { self.call(request).await.map(R::into_page) }
            },
            each,
        )
        .await
    }

    /// Opens the `WatchEvents` stream. Only the opening has the deadline:
    /// the stream itself runs until the catalog or the caller ends it.
    pub async fn watch_events(
        &self,
        request: WatchEventsRequest,
    ) -> Result<Streaming<WatchEventsResponse>> {
        const RPC: &str = "WatchEvents";
        let deadline = self.settings.deadline;
        let opened = tokio::time::timeout(deadline, self.stubs.clone().watch_events(request)).await;
        match opened {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(Error::status(RPC, failure(status, deadline))),
            Err(_) => Err(Error::status(RPC, not_answered(deadline))),
        }
    }

    /// One attempt of `request`, given up after `deadline`.
    async fn attempt<R: Rpc>(&self, request: R, deadline: Duration) -> Result<R::Response, Status> {
        let mut request = Request::new(request);
        request.set_timeout(deadline);
        let answer = rpc::send(self.stubs.clone(), request);
        match tokio::time::timeout(deadline, answer).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(failure(status, deadline)),
            Err(_) => Err(not_answered(deadline)),
        }
    }
}

/// The status of a failed attempt, with the transport's own failures
/// named as gRPC names them: the channel's `grpc-timeout` expiry (which
/// tonic reports as CANCELLED) is DEADLINE_EXCEEDED, a connection closed
/// under the call UNAVAILABLE.
fn failure(status: Status, deadline: Duration) -> Status {
    if caused_by::<tonic::TimeoutExpired>(&status) {
        not_answered(deadline)
    } else if connection_lost(&status) {
        let message = format!("the connection to the catalog closed: {}", status.message());
        Status::unavailable(message)
    } else {
        status
    }
}

/// DEADLINE_EXCEEDED for a call that got no answer in time.
fn not_answered(deadline: Duration) -> Status {
    Status::deadline_exceeded(format!("no answer from the catalog within {deadline:?}"))
}

/// Whether the connection failed under the call before an answer came:
/// tonic reports a connection the catalog closed (a restart, a crash) as
/// CANCELLED or UNKNOWN with the transport's error as its source, where
/// gRPC says UNAVAILABLE. A status the catalog sent has no source.
fn connection_lost(status: &Status) -> bool {
    matches!(status.code(), Code::Cancelled | Code::Unknown)
        && caused_by::<tonic::transport::Error>(status)
}

/// Whether an error of type `E` is among the sources of `status`.
fn caused_by<E: std::error::Error + 'static>(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        if e.is::<E>() {
            return true;
        }
        source = e.source();
    }
    false
}
