//! The status report and executor information.

use std::time::Duration;

use vigil_proto::catalog::v1::{GetServerInfoRequest, GetServerInfoResponse};
use vigil_proto::executor::v1::{GetExecutorInfoRequest, GetExecutorInfoResponse};
use vigil_proto::status::v1::{GetStatusReportRequest, StatusReport};

use crate::client::{Shape, VigilClient};
use crate::error::{Error, Result};
use crate::retry::Idempotency::Idempotent;

impl VigilClient {
    /// Computes the status report over a job-history `window` (30 days when `None`).
    pub async fn status_report(&self, window: Option<Duration>) -> Result<StatusReport> {
        let req = GetStatusReportRequest {
            window: window.map(vigil_proto::duration_to_proto),
        };
        let resp = self
            .call(
                &self.status,
                "GetStatusReport",
                Idempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.get_status_report(r).await },
            )
            .await?;
        resp.report
            .ok_or_else(|| Error::Protocol("report missing from the response".to_owned()))
    }

    /// The server's version and build, and every reporting component's version.
    pub async fn server_info(&self) -> Result<GetServerInfoResponse> {
        self.call(
            &self.catalog,
            "GetServerInfo",
            Idempotent,
            Shape::Unary,
            GetServerInfoRequest {},
            |mut c, r| async move { c.get_server_info(r).await },
        )
        .await
    }

    /// Describes the executor: capabilities, engines found and running jobs.
    pub async fn executor_info(&self) -> Result<GetExecutorInfoResponse> {
        self.call(
            &self.executor,
            "GetExecutorInfo",
            Idempotent,
            Shape::Unary,
            GetExecutorInfoRequest {},
            |mut c, r| async move { c.get_executor_info(r).await },
        )
        .await
    }
}
