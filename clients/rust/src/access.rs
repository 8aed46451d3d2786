//! Tokens, the caller's identity and the audit trail (`AccessService`).

use futures::stream::BoxStream;
use vigil_proto::catalog::v1::{
    AuditEvent, CreateTokenRequest, CreateTokenResponse, ListAuditEventsRequest, ListTokensRequest,
    RevokeTokenRequest, Role, TokenInfo, WhoAmIRequest, WhoAmIResponse,
};

use crate::client::{Shape, VigilClient};
use crate::error::Result;
use crate::pagination::paginate;
use crate::retry::Idempotency::{Idempotent, NonIdempotent};

impl VigilClient {
    /// Creates a token named `name`; the response holds the token itself,
    /// which the catalog never shows again.
    pub async fn create_token(&self, name: &str, role: Role) -> Result<CreateTokenResponse> {
        let req = CreateTokenRequest {
            name: name.to_owned(),
            role: role as i32,
        };
        self.call(
            &self.access,
            "CreateToken",
            NonIdempotent,
            Shape::Unary,
            req,
            |mut c, r| async move { c.create_token(r).await },
        )
        .await
    }

    /// Every token: names, roles, creation and last use.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let resp = self
            .call(
                &self.access,
                "ListTokens",
                Idempotent,
                Shape::Unary,
                ListTokensRequest {},
                |mut c, r| async move { c.list_tokens(r).await },
            )
            .await?;
        Ok(resp.tokens)
    }

    /// Revokes the token named `name`.
    pub async fn revoke_token(&self, name: &str) -> Result<()> {
        let req = RevokeTokenRequest {
            name: name.to_owned(),
        };
        self.call(
            &self.access,
            "RevokeToken",
            NonIdempotent,
            Shape::Unary,
            req,
            |mut c, r| async move { c.revoke_token(r).await },
        )
        .await?;
        Ok(())
    }

    /// Who the catalog takes this client for.
    pub async fn who_am_i(&self) -> Result<WhoAmIResponse> {
        self.call(
            &self.access,
            "WhoAmI",
            Idempotent,
            Shape::Unary,
            WhoAmIRequest {},
            |mut c, r| async move { c.who_am_i(r).await },
        )
        .await
    }

    /// Streams the audit trail, newest first.
    pub fn list_audit_events(&self) -> BoxStream<'static, Result<AuditEvent>> {
        let client = self.clone();
        paginate(move |token| {
            let client = client.clone();
            let req = ListAuditEventsRequest {
                page_token: token,
                page_size: 0,
            };
            async move {
                let resp = client
                    .call(
                        &client.access,
                        "ListAuditEvents",
                        Idempotent,
                        Shape::Unary,
                        req,
                        |mut c, r| async move { c.list_audit_events(r).await },
                    )
                    .await?;
                Ok((resp.events, resp.next_page_token))
            }
        })
    }
}
