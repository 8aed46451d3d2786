//! Authentication and authorisation of every RPC, in one tower layer.
//!
//! [`AuthLayer`] runs before any handler, so a call without a valid
//! credential never reaches input validation:
//! - health and reflection pass untouched;
//! - otherwise the caller is named by its `authorization: Bearer TOKEN`
//!   metadata (checked by an [`Authenticator`]) or by a verified client
//!   certificate mapped to a role ([`CertRoles`]); no credential gives
//!   UNAUTHENTICATED, too small a role PERMISSION_DENIED;
//! - the [`Caller`] goes into the request extensions ([`caller`]), and
//!   every audited call is handed to the [`AuditSink`] with its outcome.
//!
//! The required access of each method comes from [`vigil_auth::methods`].

mod cache;
mod certs;
mod layer;
mod remote;

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tonic::Status;
pub use vigil_auth::{Access, Caller, Role};

pub use cache::TokenCache;
pub use certs::{CertRoles, PeerIdentity};
pub use layer::{AuthLayer, AuthService};
pub use remote::{RemoteAudit, RemoteAuthenticator, role_from_proto, role_to_proto};

/// Checks a bearer token and names its caller.
pub trait Authenticator: Send + Sync + 'static {
    /// The caller `token` belongs to; UNAUTHENTICATED when it is unknown or
    /// revoked, UNAVAILABLE when the check itself cannot be made.
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Caller, Status>>;
}

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Who called.
    pub caller: Caller,
    /// `package.Service/Method`.
    pub method: String,
    /// What the call acted on, as the handler named it; may be empty.
    pub target: String,
    /// The call's gRPC status.
    pub outcome: tonic::Code,
}

/// Where audit records go. Must not block: a sink that writes somewhere
/// slow spawns the write.
pub trait AuditSink: Send + Sync + 'static {
    /// Records one call.
    fn record(&self, record: AuditRecord);
}

/// How a server authenticates: its token checker, its certificate
/// mapping and its audit sink.
#[derive(Clone)]
pub struct AuthPolicy {
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) cert_roles: CertRoles,
    pub(crate) audit: Option<Arc<dyn AuditSink>>,
}

impl std::fmt::Debug for AuthPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthPolicy")
            .field("cert_roles", &self.cert_roles)
            .field("audit", &self.audit.is_some())
            .finish_non_exhaustive()
    }
}

impl AuthPolicy {
    /// Tokens checked by `authenticator`; no certificate mapping, no audit.
    pub fn new(authenticator: Arc<dyn Authenticator>) -> Self {
        Self {
            authenticator,
            cert_roles: CertRoles::default(),
            audit: None,
        }
    }

    /// Client certificates named in `roles` authenticate too.
    pub fn with_cert_roles(mut self, roles: CertRoles) -> Self {
        self.cert_roles = roles;
        self
    }

    /// Audited calls go to `sink`.
    pub fn with_audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(sink);
        self
    }
}

/// Slot in the request extensions where a handler names what an audited
/// call acts on.
#[derive(Debug, Clone, Default)]
pub struct AuditTarget(Arc<Mutex<String>>);

impl AuditTarget {
    /// The slot of `request`, to name the target once a streamed request's
    /// first message is read.
    pub fn of<T>(request: &tonic::Request<T>) -> Option<Self> {
        request.extensions().get::<AuditTarget>().cloned()
    }

    /// Names what the call acts on. Never pass a secret.
    pub fn set(&self, target: impl Into<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = target.into();
    }

    fn take(&self) -> String {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Names what the call of `request` acts on, for its audit record (a
/// configuration name, a job id, a restore target). Never pass a secret.
pub fn set_audit_target<T>(request: &tonic::Request<T>, target: impl Into<String>) {
    if let Some(slot) = request.extensions().get::<AuditTarget>() {
        slot.set(target);
    }
}

/// The authenticated caller of `request`, when the auth layer ran.
pub fn caller<T>(request: &tonic::Request<T>) -> Option<&Caller> {
    request.extensions().get::<Caller>()
}

/// Refuses the call unless its caller has `access` (for checks finer than
/// the method table, such as a restore through `CreateJob`). A request that
/// did not pass through the auth layer (an in-process test server) passes.
pub fn require<T>(request: &tonic::Request<T>, access: Access, what: &str) -> Result<(), Status> {
    match caller(request) {
        Some(caller) if !caller.role.allows(access) => Err(Status::permission_denied(format!(
            "{what} needs the {} role; {} has {}",
            access.as_str(),
            caller.name,
            caller.role
        ))),
        _ => Ok(()),
    }
}
