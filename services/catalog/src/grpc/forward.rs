//! Forwarding of `SchedulerService` and `ExecutorService` calls by a catalog
//! that runs on its own (`vigil-catalog`), so that clients need one endpoint
//! in the split deployment as they do with `vigild`.
//!
//! Schedulers and executors report the address of their gRPC port in their
//! heartbeats ([`Component::endpoint`]). A call to one of their services
//! reaching the catalog goes to a live component of that kind, picked in
//! turn: an upload to an executor that can run uploads, a download or a
//! look into a snapshot to an executor that has the artifact's repository.
//! A component that refuses the connection (it died and its heartbeats have
//! not yet expired) is passed over for the next suitable one; only an
//! upload, whose stream cannot be sent twice, gets one try. The HTTP/2 request and
//! response are passed through as they are — headers (`authorization`,
//! `grpc-timeout`, trace context), bodies streamed frame by frame in both
//! directions, trailers — so streaming uploads and downloads keep bounded
//! memory here, and the component applies its own checks.

use std::collections::HashMap;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use prost::Message;
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt;
use vigil_proto::capabilities;
use vigil_proto::catalog::v1::{Component, ComponentKind, ListComponentsRequest};
use vigil_proto::executor::v1::DownloadArchiveRequest;

use crate::store::Store;

/// The artifact label naming the repository that holds it (set by executors).
const REPOSITORY_LABEL: &str = "vigil.repository";
/// The executor detail naming its repository.
const REPOSITORY_DETAIL: &str = "repository_id";
/// Largest request body buffered to route or resend a call (one small message).
const MAX_ROUTED_REQUEST: usize = 64 << 10;

/// `endpoint` as others reach it: an unspecified host (`0.0.0.0`, `[::]`) is
/// replaced by the address the heartbeat came from. Anything else is kept
/// (the store checks it).
pub(crate) fn reachable_endpoint(endpoint: &str, peer: Option<SocketAddr>) -> String {
    let (Ok(mut url), Some(peer)) = (url::Url::parse(endpoint), peer) else {
        return endpoint.to_owned();
    };
    let unspecified = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_unspecified(),
        _ => false,
    };
    if !unspecified {
        return endpoint.to_owned();
    }
    let ip = match peer.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    if url.set_ip_host(ip).is_err() {
        return endpoint.to_owned();
    }
    url.as_str().trim_end_matches('/').to_owned()
}

/// Which components serve a forwarded service.
pub trait ForwardTarget: Send + Sync + 'static {
    /// The full gRPC service name.
    const NAME: &'static str;
    /// The kind of component that serves it.
    const KIND: ComponentKind;
}

/// `vigil.scheduler.v1.SchedulerService`, served by scheduler replicas.
#[derive(Debug, Clone, Copy)]
pub struct SchedulerTarget;

impl ForwardTarget for SchedulerTarget {
    const NAME: &'static str = "vigil.scheduler.v1.SchedulerService";
    const KIND: ComponentKind = ComponentKind::Scheduler;
}

/// `vigil.executor.v1.ExecutorService`, served by executors.
#[derive(Debug, Clone, Copy)]
pub struct ExecutorTarget;

impl ForwardTarget for ExecutorTarget {
    const NAME: &'static str = "vigil.executor.v1.ExecutorService";
    const KIND: ComponentKind = ComponentKind::Executor;
}

/// What a forwarded call needs of the component that gets it.
#[derive(Debug, Default)]
struct Needs {
    capability: Option<&'static str>,
    repository: Option<String>,
}

impl Needs {
    fn met_by(&self, c: &Component) -> bool {
        self.capability
            .is_none_or(|cap| c.capabilities.iter().any(|have| have == cap))
            && self
                .repository
                .as_ref()
                .is_none_or(|r| c.details.get(REPOSITORY_DETAIL) == Some(r))
    }
}

/// Live components and the channels to them, shared by both services.
#[derive(Debug)]
struct Targets {
    store: Store,
    channels: Mutex<HashMap<String, Channel>>,
    turn: AtomicUsize,
}

impl Targets {
    /// The endpoints of the live components of `kind` that meet `needs`,
    /// starting with the one whose turn it is.
    async fn candidates(&self, kind: ComponentKind, needs: &Needs) -> Result<Vec<String>, Status> {
        let mut live: Vec<String> = self
            .store
            .list_components(&ListComponentsRequest {
                kind: kind as i32,
                page_size: 1000,
                ..Default::default()
            })
            .await
            .map_err(Status::from)?
            .components
            .into_iter()
            .filter(|c| c.alive && !c.endpoint.is_empty() && needs.met_by(c))
            .map(|c| c.endpoint)
            .collect();
        if live.is_empty() {
            let what = match kind {
                ComponentKind::Scheduler => "scheduler",
                _ => "executor",
            };
            let mut why = format!("no live {what} with a reported endpoint");
            if let Some(cap) = needs.capability {
                why.push_str(&format!(" can run {cap}"));
            }
            if let Some(repo) = &needs.repository {
                why.push_str(&format!(" has repository {repo}"));
            }
            return Err(Status::unavailable(why));
        }
        let first = self.turn.fetch_add(1, Ordering::Relaxed) % live.len();
        live.rotate_left(first);
        Ok(live)
    }

    fn channel(&self, endpoint: &str) -> Result<Channel, Status> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = channels.get(endpoint) {
            return Ok(c.clone());
        }
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .map_err(|e| Status::internal(format!("endpoint {endpoint}: {e}")))?
            .connect_lazy();
        channels.insert(endpoint.to_owned(), channel.clone());
        Ok(channel)
    }

    /// Forgets a channel that failed, so the next call reconnects.
    fn forget(&self, endpoint: &str) {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(endpoint);
    }

    /// The repository holding the artifact a request names, when known. The
    /// requests about one artifact all carry its id as field 1, which
    /// `DownloadArchiveRequest` decodes (other fields are skipped).
    async fn artifact_repository(&self, body: &Bytes) -> Option<String> {
        // One length-prefixed gRPC message: flag, 4-byte length, payload.
        let mut frame = body.clone();
        if frame.len() < 5 || frame.get_u8() != 0 {
            return None;
        }
        let len = frame.get_u32() as usize;
        let request = DownloadArchiveRequest::decode(frame.get(..len)?).ok()?;
        let artifact = self.store.get_artifact(&request.artifact).await.ok()?;
        artifact.labels.get(REPOSITORY_LABEL).cloned()
    }
}

/// A service on the catalog's port that forwards every call of `T`'s
/// service to a live component.
#[derive(Debug)]
pub struct Forward<T> {
    targets: Arc<Targets>,
    target: PhantomData<T>,
}

impl<T> Clone for Forward<T> {
    fn clone(&self) -> Self {
        Forward {
            targets: self.targets.clone(),
            target: PhantomData,
        }
    }
}

impl<T: ForwardTarget> NamedService for Forward<T> {
    const NAME: &'static str = T::NAME;
}

/// The two forwarding services over one set of channels.
pub(crate) fn services(store: Store) -> (Forward<SchedulerTarget>, Forward<ExecutorTarget>) {
    let targets = Arc::new(Targets {
        store,
        channels: Mutex::new(HashMap::new()),
        turn: AtomicUsize::new(0),
    });
    (
        Forward {
            targets: targets.clone(),
            target: PhantomData,
        },
        Forward {
            targets,
            target: PhantomData,
        },
    )
}

impl<T: ForwardTarget> tower::Service<http::Request<Body>> for Forward<T> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let targets = self.targets.clone();
        Box::pin(async move {
            Ok(forward::<T>(&targets, request)
                .await
                .unwrap_or_else(|status| status.into_http()))
        })
    }
}

async fn forward<T: ForwardTarget>(
    targets: &Targets,
    request: http::Request<Body>,
) -> Result<http::Response<Body>, Status> {
    let path = request.uri().path().to_owned();
    let method = path.rsplit('/').next().unwrap_or_default();
    let mut needs = Needs::default();
    if (T::KIND, method) == (ComponentKind::Executor, "UploadArchive") {
        // A client stream cannot be sent twice: one try.
        needs.capability = Some(capabilities::UPLOAD);
        let endpoint = targets.candidates(T::KIND, &needs).await?.remove(0);
        return send::<T>(targets, &endpoint, request)
            .await
            .map_err(|(_, status)| status);
    }
    // Every other call has one small request message, kept so that it can
    // go to another component when the first one is down.
    let (parts, body) = request.into_parts();
    let body = http_body_util::Limited::new(body, MAX_ROUTED_REQUEST)
        .collect()
        .await
        .map_err(|e| Status::invalid_argument(format!("request: {e}")))?
        .to_bytes();
    if T::KIND == ComponentKind::Executor
        && matches!(
            method,
            "DownloadArchive" | "ListSnapshotEntries" | "ReadSnapshotFile"
        )
    {
        // Calls about one artifact: its repository decides.
        needs.repository = targets.artifact_repository(&body).await;
    }
    let mut refused = Vec::new();
    for endpoint in targets.candidates(T::KIND, &needs).await? {
        let mut request = http::Request::new(Body::new(http_body_util::Full::new(body.clone())));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers.clone();
        match send::<T>(targets, &endpoint, request).await {
            Ok(response) => return Ok(response),
            // Never delivered (nothing listens there): try the next one.
            Err((true, status)) => refused.push(status.message().to_owned()),
            Err((false, status)) => return Err(status),
        }
    }
    Err(Status::unavailable(refused.join("; ")))
}

/// Sends `request` to the component at `endpoint`. An error says whether
/// the connection was never made, so the request was not delivered.
async fn send<T: ForwardTarget>(
    targets: &Targets,
    endpoint: &str,
    request: http::Request<Body>,
) -> Result<http::Response<Body>, (bool, Status)> {
    let channel = targets.channel(endpoint).map_err(|s| (false, s))?;
    channel.oneshot(request).await.map_err(|e| {
        targets.forget(endpoint);
        let status = Status::unavailable(format!(
            "the {} call could not be forwarded to {endpoint}: {e}",
            T::NAME
        ));
        (never_connected(&e), status)
    })
}

/// Whether a transport error is a refused or impossible connection.
fn never_connected(e: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind::*;
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable
            )
        {
            return true;
        }
        cause = c.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_host_becomes_the_peer_address() {
        let peer: SocketAddr = "10.1.2.3:40000".parse().unwrap();
        assert_eq!(
            reachable_endpoint("http://0.0.0.0:50053", Some(peer)),
            "http://10.1.2.3:50053"
        );
        assert_eq!(
            reachable_endpoint("http://[::]:50053", Some(peer)),
            "http://10.1.2.3:50053"
        );
        let v6: SocketAddr = "[fd00::7]:40000".parse().unwrap();
        assert_eq!(
            reachable_endpoint("http://[::]:50053", Some(v6)),
            "http://[fd00::7]:50053"
        );
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:40000".parse().unwrap();
        assert_eq!(
            reachable_endpoint("http://0.0.0.0:50053", Some(mapped)),
            "http://10.1.2.3:50053"
        );
        for kept in [
            "http://executor-1:50053",
            "http://127.0.0.1:50053",
            "",
            "junk",
        ] {
            assert_eq!(reachable_endpoint(kept, Some(peer)), kept);
        }
        assert_eq!(
            reachable_endpoint("http://0.0.0.0:50053", None),
            "http://0.0.0.0:50053"
        );
    }
}
