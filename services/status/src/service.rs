//! `vigil.status.v1.StatusService`.

use chrono::Duration;
use tonic::{Request, Response, Status};
use vigil_auth::AuthChannel;
use vigil_catalog_client::CatalogClient;
use vigil_proto::status::v1::status_service_server::{StatusService, StatusServiceServer};
use vigil_proto::status::v1::{GetStatusReportRequest, GetStatusReportResponse};
use vigil_server_common::clock::SharedClock;

use crate::{Error, build_report, gather};

/// Default job-history window.
const DEFAULT_WINDOW: Duration = Duration::days(30);
/// Longest job-history window.
const MAX_WINDOW: Duration = Duration::days(366);

/// Serves status reports computed from the catalog at a channel.
#[derive(Debug, Clone)]
pub struct StatusServer {
    catalog: CatalogClient,
    clock: SharedClock,
}

impl StatusServer {
    /// A status service reading the catalog through `catalog`, which
    /// carries the credentials.
    pub fn new(catalog: AuthChannel, clock: SharedClock) -> Self {
        Self {
            catalog: CatalogClient::new(catalog),
            clock,
        }
    }

    /// The tonic service.
    pub fn into_service(self) -> StatusServiceServer<Self> {
        StatusServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl StatusService for StatusServer {
    async fn get_status_report(
        &self,
        request: Request<GetStatusReportRequest>,
    ) -> Result<Response<GetStatusReportResponse>, Status> {
        let window = match request.into_inner().window {
            None => DEFAULT_WINDOW,
            Some(w) => {
                let valid = w.seconds > 0 && w.nanos >= 0;
                let window = Duration::seconds(w.seconds);
                if !valid || window > MAX_WINDOW {
                    return Err(Error::InvalidArgument {
                        field: "window",
                        reason: "must be positive and at most 366 days".to_owned(),
                    }
                    .into());
                }
                window
            }
        };
        let inputs = gather(&self.catalog, self.clock.now(), window).await?;
        Ok(Response::new(GetStatusReportResponse {
            report: Some(build_report(&inputs)),
        }))
    }
}
