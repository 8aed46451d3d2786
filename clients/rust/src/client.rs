//! The client handle and the one place where calls get their timeout,
//! their trace context and their retries.

use std::future::Future;
use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use vigil_auth::AuthChannel;
use vigil_proto::catalog::v1::access_service_client::AccessServiceClient;
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use vigil_proto::executor::v1::executor_service_client::ExecutorServiceClient;
use vigil_proto::scheduler::v1::scheduler_service_client::SchedulerServiceClient;
use vigil_proto::status::v1::status_service_client::StatusServiceClient;

use crate::builder::ClientBuilder;
use crate::error::{Error, Result};
use crate::retry::{Idempotency, RetryPolicy};
use crate::trace::TraceContextInterceptor;

/// The transport every generated stub runs on: a channel that presents the
/// client's bearer token, with trace-context injection.
pub type Transport = InterceptedService<AuthChannel, TraceContextInterceptor>;

/// Largest message accepted from a server (download chunks are far smaller).
const MAX_DECODE_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct CallPolicy {
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) poll_interval: Duration,
}

/// Whether a call is unary (cut by the request timeout) or opens a stream
/// (only its start is bounded by the request timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Unary,
    Stream,
}

/// A typed client of every Vigil service.
///
/// Cheap to clone: clones share connections.
#[derive(Clone)]
pub struct VigilClient {
    pub(crate) catalog: CatalogServiceClient<Transport>,
    pub(crate) access: AccessServiceClient<Transport>,
    pub(crate) scheduler: SchedulerServiceClient<Transport>,
    pub(crate) executor: ExecutorServiceClient<Transport>,
    pub(crate) status: StatusServiceClient<Transport>,
    pub(crate) policy: CallPolicy,
}

impl std::fmt::Debug for VigilClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VigilClient")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl VigilClient {
    /// Connects to an all-in-one `vigild` that serves every service on `endpoint`,
    /// with the default timeouts and retry policy.
    pub async fn connect(endpoint: impl Into<String>) -> Result<Self> {
        Self::builder().endpoint(endpoint).connect().await
    }

    /// A builder for per-service endpoints, timeouts and retries.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    pub(crate) fn from_channels(
        catalog: AuthChannel,
        scheduler: AuthChannel,
        executor: AuthChannel,
        status: AuthChannel,
        policy: CallPolicy,
    ) -> Self {
        let wrap = |c: AuthChannel| InterceptedService::new(c, TraceContextInterceptor);
        Self {
            access: AccessServiceClient::new(wrap(catalog.clone()))
                .max_decoding_message_size(MAX_DECODE_BYTES),
            catalog: CatalogServiceClient::new(wrap(catalog))
                .max_decoding_message_size(MAX_DECODE_BYTES),
            scheduler: SchedulerServiceClient::new(wrap(scheduler))
                .max_decoding_message_size(MAX_DECODE_BYTES),
            executor: ExecutorServiceClient::new(wrap(executor))
                .max_decoding_message_size(MAX_DECODE_BYTES),
            status: StatusServiceClient::new(wrap(status))
                .max_decoding_message_size(MAX_DECODE_BYTES),
            policy,
        }
    }

    /// The generated catalog stub, for calls without a convenience method.
    pub fn catalog(&self) -> CatalogServiceClient<Transport> {
        self.catalog.clone()
    }

    /// The generated access stub (tokens, audit), served by the catalog.
    pub fn access(&self) -> AccessServiceClient<Transport> {
        self.access.clone()
    }

    /// The generated scheduler stub.
    pub fn scheduler(&self) -> SchedulerServiceClient<Transport> {
        self.scheduler.clone()
    }

    /// The generated executor stub.
    pub fn executor(&self) -> ExecutorServiceClient<Transport> {
        self.executor.clone()
    }

    /// The generated status stub.
    pub fn status(&self) -> StatusServiceClient<Transport> {
        self.status.clone()
    }

    /// The configured per-request timeout.
    pub fn request_timeout(&self) -> Option<Duration> {
        self.policy.request_timeout
    }

    /// Sends one call through the timeout and retry policy.
    ///
    /// `stub` is cloned for every attempt, `request` too; `send` performs the
    /// RPC. Unary calls carry a `grpc-timeout` header and are cut locally at
    /// the same deadline; streaming calls only bound the wait for the stream
    /// to start.
    pub(crate) async fn call<C, Req, Resp, F, Fut>(
        &self,
        stub: &C,
        method: &'static str,
        idempotency: Idempotency,
        shape: Shape,
        request: Req,
        send: F,
    ) -> Result<Resp>
    where
        C: Clone,
        Req: Clone,
        F: Fn(C, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let timeout = self.policy.request_timeout;
        let mut attempt = 1;
        loop {
            let mut req = tonic::Request::new(request.clone());
            if let (Some(t), Shape::Unary) = (timeout, shape) {
                req.set_timeout(t);
            }
            let fut = send(stub.clone(), req);
            let outcome = match timeout {
                Some(t) => match tokio::time::timeout(t, fut).await {
                    Ok(result) => result.map_err(Error::from),
                    Err(_) => Err(Error::Timeout(t)),
                },
                None => fut.await.map_err(Error::from),
            };
            let outcome = outcome.map_err(|e| match (e, timeout) {
                // A tonic server that enforces our grpc-timeout answers
                // CANCELLED "Timeout expired"; to the caller that is the
                // deadline passing, so it is reported (and retried) as such.
                (Error::Server(s), Some(t)) if is_server_timeout(&s) => Error::Timeout(t),
                (e, _) => e,
            });
            match outcome {
                Ok(response) => return Ok(response.into_inner()),
                Err(err)
                    if self
                        .policy
                        .retry
                        .should_retry(idempotency, err.code(), attempt) =>
                {
                    let wait = self.policy.retry.backoff(attempt);
                    tracing::debug!(method, attempt, error = %err, ?wait, "retrying transient failure");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// Whether a status is a tonic server's report that the request's
/// `grpc-timeout` expired (it uses CANCELLED with this fixed message).
fn is_server_timeout(status: &crate::error::ServerError) -> bool {
    status.code() == tonic::Code::Cancelled && status.message() == "Timeout expired"
}
