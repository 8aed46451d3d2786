//! Artifacts and alerts: reads and paginated lists.

use futures::stream::BoxStream;
use vigil_proto::catalog::v1::{
    Alert, Artifact, GetArtifactRequest, ListAlertsRequest, ListArtifactsRequest,
};

use crate::client::{Shape, VigilClient};
use crate::error::{Error, Result};
use crate::pagination::paginate;
use crate::retry::Idempotency::Idempotent;

impl VigilClient {
    /// Returns one artifact by id.
    pub async fn get_artifact(&self, id: &str) -> Result<Artifact> {
        let req = GetArtifactRequest { id: id.to_owned() };
        let resp = self
            .call(
                &self.catalog,
                "GetArtifact",
                Idempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.get_artifact(r).await },
            )
            .await?;
        resp.artifact
            .ok_or_else(|| Error::Protocol("artifact missing from the response".to_owned()))
    }

    /// Streams every artifact matching `filter`, newest first.
    pub fn list_artifacts(
        &self,
        filter: ListArtifactsRequest,
    ) -> BoxStream<'static, Result<Artifact>> {
        let client = self.clone();
        paginate(move |token| {
            let client = client.clone();
            let req = ListArtifactsRequest {
                page_token: token,
                ..filter.clone()
            };
            async move {
                let resp = client
                    .call(
                        &client.catalog,
                        "ListArtifacts",
                        Idempotent,
                        Shape::Unary,
                        req,
                        |mut c, r| async move { c.list_artifacts(r).await },
                    )
                    .await?;
                Ok((resp.artifacts, resp.next_page_token))
            }
        })
    }

    /// Streams every alert matching `filter`, newest first.
    pub fn list_alerts(&self, filter: ListAlertsRequest) -> BoxStream<'static, Result<Alert>> {
        let client = self.clone();
        paginate(move |token| {
            let client = client.clone();
            let req = ListAlertsRequest {
                page_token: token,
                ..filter.clone()
            };
            async move {
                let resp = client
                    .call(
                        &client.catalog,
                        "ListAlerts",
                        Idempotent,
                        Shape::Unary,
                        req,
                        |mut c, r| async move { c.list_alerts(r).await },
                    )
                    .await?;
                Ok((resp.alerts, resp.next_page_token))
            }
        })
    }
}
