//! The tower layer that authenticates and authorises every call.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::Status;
use tower::{Layer, Service};
use vigil_auth::{Access, Caller, methods};

use super::{AuditRecord, AuditTarget, AuthPolicy, PeerIdentity};
use crate::tls::ConnInfo;

/// Applies an [`AuthPolicy`] to every call of a server.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    policy: Option<Arc<AuthPolicy>>,
}

impl AuthLayer {
    /// A layer enforcing `policy`.
    pub fn new(policy: AuthPolicy) -> Self {
        Self::optional(Some(policy))
    }

    /// A layer enforcing `policy`, or passing every call when there is none.
    pub fn optional(policy: Option<AuthPolicy>) -> Self {
        Self {
            policy: policy.map(Arc::new),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service [`AuthLayer`] makes.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    policy: Option<Arc<AuthPolicy>>,
}

impl<S, B, R> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().trim_start_matches('/').to_owned();
        let access = methods::access_for(&method);
        // The ready service goes into the future; a fresh clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = match &self.policy {
            Some(policy) if access != Access::Public => policy.clone(),
            _ => return Box::pin(inner.call(request)),
        };
        let credential = credential(&request);
        Box::pin(async move {
            let caller = match identify(&policy, credential).await {
                Ok(caller) => caller,
                Err(status) => return Ok(status.into_http()),
            };
            if !caller.role.allows(access) {
                let status = Status::permission_denied(format!(
                    "{method} needs the {} role; {} has {}",
                    access.as_str(),
                    caller.name,
                    caller.role
                ));
                audit(&policy, &caller, &method, String::new(), status.code());
                return Ok(status.into_http());
            }
            let target = AuditTarget::default();
            request.extensions_mut().insert(caller.clone());
            request.extensions_mut().insert(target.clone());
            let response = inner.call(request).await?;
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .map(tonic::Code::from)
                .unwrap_or(tonic::Code::Ok);
            audit(&policy, &caller, &method, target.take(), code);
            Ok(response)
        })
    }
}

/// What a request presents: its bearer token, else the verified client
/// certificate of its connection.
enum Credential {
    Token(String),
    Malformed,
    Certificate(Arc<PeerIdentity>),
    None,
}

fn credential<B>(request: &http::Request<B>) -> Credential {
    if let Some(value) = request.headers().get(http::header::AUTHORIZATION) {
        return value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| Credential::Token(t.to_owned()))
            .unwrap_or(Credential::Malformed);
    }
    match request
        .extensions()
        .get::<ConnInfo>()
        .and_then(|info| info.peer.clone())
    {
        Some(peer) => Credential::Certificate(peer),
        None => Credential::None,
    }
}

/// Names the caller of `credential`.
async fn identify(policy: &AuthPolicy, credential: Credential) -> Result<Caller, Status> {
    match credential {
        Credential::Token(token) => policy.authenticator.authenticate(&token).await,
        Credential::Malformed => Err(Status::unauthenticated(
            "authorization metadata must be \"Bearer TOKEN\"",
        )),
        Credential::Certificate(peer) => policy.cert_roles.caller(&peer).ok_or_else(|| {
            Status::unauthenticated(
                "the client certificate maps to no role (auth.cert_roles) and no bearer token was sent",
            )
        }),
        Credential::None => Err(Status::unauthenticated(
            "a credential is required: send authorization: Bearer TOKEN",
        )),
    }
}

fn audit(policy: &AuthPolicy, caller: &Caller, method: &str, target: String, code: tonic::Code) {
    if let Some(sink) = &policy.audit
        && methods::is_audited(method)
    {
        sink.record(AuditRecord {
            caller: caller.clone(),
            method: method.to_owned(),
            target,
            outcome: code,
        });
    }
}
