//! Authentication and audit for servers without a catalog of their own (a
//! scheduler or an executor on its own): the catalog checks each token
//! through `AccessService.WhoAmI`, answers are cached briefly, and audit
//! records are sent with `RecordAuditEvent`.

use std::time::Duration;

use futures::future::BoxFuture;
use tonic::Status;
use tonic::transport::Channel;
use vigil_auth::{AuthChannel, Caller, Role};
use vigil_proto::catalog::v1 as pb;
use vigil_proto::catalog::v1::access_service_client::AccessServiceClient;

use super::{AuditRecord, AuditSink, Authenticator, TokenCache};

/// How long a checked token is trusted before the catalog is asked again.
pub(crate) const REMOTE_TOKEN_TTL: Duration = Duration::from_secs(2);

/// Checks tokens by asking the catalog who their bearer is.
#[derive(Debug)]
pub struct RemoteAuthenticator {
    catalog: AccessServiceClient<Channel>,
    cache: TokenCache,
}

impl RemoteAuthenticator {
    /// Asks the catalog behind `channel` (which carries no token of its own).
    pub fn new(channel: Channel) -> Self {
        Self {
            catalog: AccessServiceClient::new(channel),
            cache: TokenCache::new(REMOTE_TOKEN_TTL),
        }
    }
}

impl Authenticator for RemoteAuthenticator {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Caller, Status>> {
        Box::pin(async move {
            let hash = vigil_auth::token::hash(token);
            if let Some(caller) = self.cache.get(&hash) {
                return Ok(caller);
            }
            let mut request = tonic::Request::new(pb::WhoAmIRequest {});
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| Status::unauthenticated("the bearer token is not valid metadata"))?;
            request.metadata_mut().insert("authorization", value);
            let answer =
                self.catalog
                    .clone()
                    .who_am_i(request)
                    .await
                    .map_err(|s| match s.code() {
                        tonic::Code::Unauthenticated => s,
                        _ => Status::unavailable(format!(
                            "the catalog cannot check the credential: {}",
                            s.message()
                        )),
                    })?;
            let answer = answer.into_inner();
            let role = role_from_proto(answer.role)
                .ok_or_else(|| Status::unavailable("the catalog answered an unknown role"))?;
            let caller = Caller {
                name: answer.name,
                role,
            };
            self.cache.put(hash, caller.clone());
            Ok(caller)
        })
    }
}

/// Sends audit records to the catalog, in the background.
#[derive(Debug, Clone)]
pub struct RemoteAudit {
    catalog: AccessServiceClient<AuthChannel>,
}

impl RemoteAudit {
    /// Records through `channel`, which carries a component token.
    pub fn new(channel: AuthChannel) -> Self {
        Self {
            catalog: AccessServiceClient::new(channel),
        }
    }
}

impl AuditSink for RemoteAudit {
    fn record(&self, record: AuditRecord) {
        let mut catalog = self.catalog.clone();
        let event = record.into_event();
        tokio::spawn(async move {
            let request = pb::RecordAuditEventRequest { event: Some(event) };
            if let Err(e) = catalog.record_audit_event(request).await {
                tracing::warn!(code = ?e.code(), message = e.message(), "audit event not recorded");
            }
        });
    }
}

impl AuditRecord {
    /// The audit event the catalog stores for this record (its id and time
    /// are the catalog's).
    pub fn into_event(self) -> pb::AuditEvent {
        pb::AuditEvent {
            caller: self.caller.name,
            role: role_to_proto(self.caller.role) as i32,
            method: self.method,
            target: self.target,
            outcome: crate::status::code_name(self.outcome).to_owned(),
            ..Default::default()
        }
    }
}

/// The proto form of a role.
pub fn role_to_proto(role: Role) -> pb::Role {
    match role {
        Role::Viewer => pb::Role::Viewer,
        Role::Operator => pb::Role::Operator,
        Role::Admin => pb::Role::Admin,
        Role::Component => pb::Role::Component,
    }
}

/// The role of a proto value; `None` for UNSPECIFIED or unknown numbers.
pub fn role_from_proto(value: i32) -> Option<Role> {
    match pb::Role::try_from(value).ok()? {
        pb::Role::Viewer => Some(Role::Viewer),
        pb::Role::Operator => Some(Role::Operator),
        pb::Role::Admin => Some(Role::Admin),
        pb::Role::Component => Some(Role::Component),
        pb::Role::Unspecified => None,
    }
}
