//! `vigil.catalog.v1.AccessService`: tokens, the caller's identity and the
//! audit trail.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use vigil_auth::token;
use vigil_proto::catalog::v1::access_service_server::AccessService;
use vigil_proto::catalog::v1::*;
use vigil_server_common::auth::{
    TokenCache, caller, role_from_proto, role_to_proto, set_audit_target,
};

use crate::error::Error;
use crate::store::Store;

/// The access API over a [`Store`].
#[derive(Debug, Clone)]
pub struct AccessApi {
    store: Store,
    cache: Arc<TokenCache>,
}

impl AccessApi {
    /// The API over `store`; revocations clear `cache`.
    pub fn new(store: Store, cache: Arc<TokenCache>) -> Self {
        Self { store, cache }
    }
}

#[tonic::async_trait]
impl AccessService for AccessApi {
    async fn create_token(
        &self,
        request: Request<CreateTokenRequest>,
    ) -> Result<Response<CreateTokenResponse>, Status> {
        set_audit_target(&request, format!("token {}", request.get_ref().name));
        let req = request.into_inner();
        let role = role_from_proto(req.role).ok_or_else(|| {
            Error::invalid("role", "must be viewer, operator, admin or component")
        })?;
        let secret = token::generate();
        let info = self
            .store
            .insert_token(&req.name, role, &token::hash(&secret))
            .await?;
        Ok(Response::new(CreateTokenResponse {
            info: Some(info),
            token: secret,
        }))
    }

    async fn list_tokens(
        &self,
        _request: Request<ListTokensRequest>,
    ) -> Result<Response<ListTokensResponse>, Status> {
        let tokens = self.store.list_tokens().await?;
        Ok(Response::new(ListTokensResponse { tokens }))
    }

    async fn revoke_token(
        &self,
        request: Request<RevokeTokenRequest>,
    ) -> Result<Response<RevokeTokenResponse>, Status> {
        set_audit_target(&request, format!("token {}", request.get_ref().name));
        self.store.revoke_token(&request.get_ref().name).await?;
        self.cache.clear();
        Ok(Response::new(RevokeTokenResponse {}))
    }

    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        let caller = caller(&request)
            .ok_or_else(|| Status::unauthenticated("this server checks no credentials"))?;
        Ok(Response::new(WhoAmIResponse {
            name: caller.name.clone(),
            role: role_to_proto(caller.role) as i32,
        }))
    }

    async fn list_audit_events(
        &self,
        request: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        Ok(Response::new(
            self.store.list_audit_events(request.get_ref()).await?,
        ))
    }

    async fn record_audit_event(
        &self,
        request: Request<RecordAuditEventRequest>,
    ) -> Result<Response<RecordAuditEventResponse>, Status> {
        let event = request
            .into_inner()
            .event
            .ok_or_else(|| Error::invalid("event", "is required"))?;
        if event.method.is_empty() || event.caller.is_empty() {
            return Err(Error::invalid("event", "needs a caller and a method").into());
        }
        self.store.record_audit_event(&event).await?;
        Ok(Response::new(RecordAuditEventResponse {}))
    }
}
