//! The gRPC server every Vigil binary runs.
//!
//! [`GrpcServer`] takes Vigil services and an already-bound
//! [`TcpListener`], and adds what every server must have:
//! - `grpc.health.v1`: the overall status `""` and every registered service
//!   are SERVING while the server runs, NOT_SERVING from the start of the drain;
//! - reflection v1 and v1alpha, built from [`vigil_proto::FILE_DESCRIPTOR_SET`],
//!   the health descriptors and `google.rpc` error details (so grpcurl
//!   decodes a BadRequest), advertising only the services served here;
//! - the shared [`trace_layer`]: one span per RPC with method and status
//!   code, continuing the caller's trace;
//! - the [`crate::auth`] layer, when a policy is given with
//!   [`GrpcServer::auth`] (every binary gives one);
//! - TLS with reloading certificates ([`GrpcServer::tls`]) and an
//!   in-process transport ([`GrpcServer::local`]).
//!
//! The server drains when its [`Shutdown`] is triggered, bounded by the
//! grace period.

pub mod trace_layer;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::{Routes, RoutesBuilder};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tracing::{info, warn};

use crate::auth::{AuthLayer, AuthPolicy};
use crate::signals::Shutdown;
use crate::tls::{self, LocalTransport, ServerTls};

/// Name of the health service.
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";
/// Name of the v1 reflection service.
pub const REFLECTION_V1_SERVICE: &str = "grpc.reflection.v1.ServerReflection";
/// Name of the v1alpha reflection service.
pub const REFLECTION_V1ALPHA_SERVICE: &str = "grpc.reflection.v1alpha.ServerReflection";

/// Starting or running the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The reflection descriptors could not be loaded.
    #[error("reflection service cannot be built: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The listener could not be used.
    #[error("listener: {0}")]
    Listener(#[source] std::io::Error),
    /// The transport failed while serving.
    #[error("grpc transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The server task panicked or was aborted.
    #[error("server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Builder of a Vigil gRPC server.
#[derive(Debug, Default)]
pub struct GrpcServer {
    routes: RoutesBuilder,
    services: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    auth: Option<AuthPolicy>,
    tls: Option<ServerTls>,
    local: Option<LocalTransport>,
}

impl GrpcServer {
    /// A server with no Vigil services yet.
    pub fn builder() -> Self {
        Self::default()
    }

    /// Adds a generated tonic service; it is advertised by reflection and
    /// reported by health under its full name.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes.add_service(service);
        self.services.push(S::NAME);
        self
    }

    /// Adds prebuilt routes serving the named services.
    pub fn add_routes(mut self, routes: Routes, names: &[&'static str]) -> Self {
        let existing = std::mem::take(&mut self.routes).routes().into_axum_router();
        let merged = existing.merge(routes.into_axum_router());
        self.routes = RoutesBuilder::from(Routes::from(merged));
        self.services.extend_from_slice(names);
        self
    }

    /// Registers another encoded `FileDescriptorSet` for reflection, for
    /// services outside `vigil_proto`.
    pub fn add_descriptor_set(mut self, encoded: &'static [u8]) -> Self {
        self.descriptor_sets.push(encoded);
        self
    }

    /// Authenticates and authorises every call with `policy`. Without it
    /// the server answers anyone: only tests of this crate do that.
    pub fn auth(mut self, policy: AuthPolicy) -> Self {
        self.auth = Some(policy);
        self
    }

    /// Serves TLS (mTLS when the files name a client CA) on the listener.
    pub fn tls(mut self, tls: Option<ServerTls>) -> Self {
        self.tls = tls;
        self
    }

    /// Also serves the in-process connections of `local`.
    pub fn local(mut self, local: &LocalTransport) -> Self {
        self.local = Some(local.clone());
        self
    }

    /// Full names of the services registered so far.
    pub fn service_names(&self) -> &[&'static str] {
        &self.services
    }

    /// Serves on `listener` in a new task until `shutdown` is triggered or
    /// the returned handle is dropped.
    pub fn spawn(
        self,
        listener: TcpListener,
        shutdown: &Shutdown,
    ) -> Result<ServerHandle, ServerError> {
        let local_addr = listener.local_addr().map_err(ServerError::Listener)?;
        let shutdown = shutdown.child();
        let prepared = self.prepare()?;
        let health = prepared.health.clone();
        let task = tokio::spawn(prepared.run(listener, shutdown.clone()));
        Ok(ServerHandle {
            local_addr,
            shutdown,
            health,
            task: Some(task),
        })
    }

    /// Serves on `listener` until `shutdown` is triggered and the drain ends.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: &Shutdown,
    ) -> Result<(), ServerError> {
        self.prepare()?.run(listener, shutdown.clone()).await
    }

    fn prepare(self) -> Result<Prepared, ServerError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        let mut advertised: Vec<&'static str> = self.services.clone();
        advertised.extend([
            HEALTH_SERVICE,
            REFLECTION_V1_SERVICE,
            REFLECTION_V1ALPHA_SERVICE,
        ]);

        let reflection = || {
            let mut builder = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(vigil_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(vigil_proto::ERROR_DETAILS_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
            for set in &self.descriptor_sets {
                builder = builder.register_encoded_file_descriptor_set(set);
            }
            for name in &advertised {
                builder = builder.with_service_name(*name);
            }
            builder
        };
        let reflection_v1 = reflection().build_v1()?;
        let reflection_v1alpha = reflection().build_v1alpha()?;

        let mut routes = self.routes;
        routes
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);
        Ok(Prepared {
            routes: routes.routes(),
            services: self.services,
            health,
            auth: AuthLayer::optional(self.auth),
            tls: self.tls,
            local: self.local,
        })
    }
}

struct Prepared {
    routes: Routes,
    services: Vec<&'static str>,
    health: HealthReporter,
    auth: AuthLayer,
    tls: Option<ServerTls>,
    local: Option<LocalTransport>,
}

impl Prepared {
    async fn run(self, listener: TcpListener, shutdown: Shutdown) -> Result<(), ServerError> {
        let Prepared {
            routes,
            services,
            health,
            auth,
            tls,
            local,
        } = self;
        set_all(&health, &services, ServingStatus::Serving).await;

        let local_addr = listener.local_addr().ok();
        if let Some(tls) = &tls {
            tls.watch(shutdown.token());
        }
        // New connections stop only once the drain has reported NOT_SERVING:
        // an incoming stream that ended first would make the server drop the
        // drain future before the health watchers heard of it.
        let accepting = tokio_util::sync::CancellationToken::new();
        let incoming = tls::incoming(listener, tls, local.as_ref(), accepting.clone());
        let drain_started = {
            let shutdown = shutdown.clone();
            let health = health.clone();
            let services = services.clone();
            async move {
                shutdown.requested().await;
                set_all(&health, &services, ServingStatus::NotServing).await;
                info!(addr = ?local_addr, "grpc server draining");
                accepting.cancel();
            }
        };
        let serve = tonic::transport::Server::builder()
            .layer(trace_layer::rpc_trace_layer())
            .layer(auth)
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, drain_started);
        match shutdown.drain(serve).await {
            Some(result) => result?,
            None => warn!(addr = ?local_addr, "grpc server stopped before its calls finished"),
        }
        info!(addr = ?local_addr, "grpc server stopped");
        Ok(())
    }
}

async fn set_all(health: &HealthReporter, services: &[&'static str], status: ServingStatus) {
    health.set_service_status("", status).await;
    for name in services {
        health.set_service_status(name, status).await;
    }
}

/// A running server. Dropping it starts the drain.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    shutdown: Shutdown,
    health: HealthReporter,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl ServerHandle {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// An `http://` endpoint clients in this host can connect to (an
    /// unspecified bind address becomes loopback).
    pub fn endpoint(&self) -> String {
        endpoint_for(self.local_addr)
    }

    /// The health reporter, for services that report their own status.
    pub fn health(&self) -> &HealthReporter {
        &self.health
    }

    /// Waits until the server stops (after its shutdown was triggered).
    pub async fn wait(mut self) -> Result<(), ServerError> {
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }

    /// Starts the drain and waits for the server to stop.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        self.shutdown.trigger();
        self.wait().await
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// An `http://` endpoint for `addr`, with unspecified addresses mapped to loopback.
pub fn endpoint_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}
