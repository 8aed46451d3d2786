//! `vigil.catalog.v1.CatalogService`.

use tonic::{Request, Response, Status};
use vigil_proto::catalog::v1::catalog_service_server::CatalogService;
use vigil_proto::catalog::v1::*;

use super::trace_context;
use super::watch::{JobStream, watch_job};
use crate::error::Error;
use crate::store::Store;

/// The public catalog API over a [`Store`].
#[derive(Debug, Clone)]
pub struct CatalogApi {
    store: Store,
}

impl CatalogApi {
    /// The API over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn required<T>(field: &str, value: Option<T>) -> Result<T, Error> {
    value.ok_or_else(|| Error::invalid(field, "is required"))
}

#[tonic::async_trait]
impl CatalogService for CatalogApi {
    async fn create_configuration(
        &self,
        request: Request<CreateConfigurationRequest>,
    ) -> Result<Response<CreateConfigurationResponse>, Status> {
        let config = required("configuration", request.into_inner().configuration)?;
        let configuration = Some(self.store.create_configuration(config).await?);
        Ok(Response::new(CreateConfigurationResponse { configuration }))
    }

    async fn get_configuration(
        &self,
        request: Request<GetConfigurationRequest>,
    ) -> Result<Response<GetConfigurationResponse>, Status> {
        let configuration = Some(
            self.store
                .get_configuration(&request.get_ref().name)
                .await?,
        );
        Ok(Response::new(GetConfigurationResponse { configuration }))
    }

    async fn list_configurations(
        &self,
        request: Request<ListConfigurationsRequest>,
    ) -> Result<Response<ListConfigurationsResponse>, Status> {
        Ok(Response::new(
            self.store.list_configurations(request.get_ref()).await?,
        ))
    }

    async fn update_configuration(
        &self,
        request: Request<UpdateConfigurationRequest>,
    ) -> Result<Response<UpdateConfigurationResponse>, Status> {
        let req = request.into_inner();
        let config = required("configuration", req.configuration)?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let configuration = Some(self.store.update_configuration(&config, &paths).await?);
        Ok(Response::new(UpdateConfigurationResponse { configuration }))
    }

    async fn delete_configuration(
        &self,
        request: Request<DeleteConfigurationRequest>,
    ) -> Result<Response<DeleteConfigurationResponse>, Status> {
        let req = request.get_ref();
        self.store
            .delete_configuration(&req.name, &req.etag)
            .await?;
        Ok(Response::new(DeleteConfigurationResponse {}))
    }

    async fn enable_configuration(
        &self,
        request: Request<EnableConfigurationRequest>,
    ) -> Result<Response<EnableConfigurationResponse>, Status> {
        let configuration = Some(
            self.store
                .set_enabled(&request.get_ref().name, true)
                .await?,
        );
        Ok(Response::new(EnableConfigurationResponse { configuration }))
    }

    async fn disable_configuration(
        &self,
        request: Request<DisableConfigurationRequest>,
    ) -> Result<Response<DisableConfigurationResponse>, Status> {
        let configuration = Some(
            self.store
                .set_enabled(&request.get_ref().name, false)
                .await?,
        );
        Ok(Response::new(DisableConfigurationResponse {
            configuration,
        }))
    }

    async fn apply_configurations(
        &self,
        request: Request<ApplyConfigurationsRequest>,
    ) -> Result<Response<ApplyConfigurationsResponse>, Status> {
        let req = request.get_ref();
        let results = self
            .store
            .apply_configurations(&req.configurations, req.dry_run)
            .await?;
        Ok(Response::new(ApplyConfigurationsResponse { results }))
    }

    async fn create_job(
        &self,
        request: Request<CreateJobRequest>,
    ) -> Result<Response<CreateJobResponse>, Status> {
        let trace = trace_context(&request);
        let job = Some(self.store.create_job(request.get_ref(), trace).await?);
        Ok(Response::new(CreateJobResponse { job }))
    }

    async fn get_job(
        &self,
        request: Request<GetJobRequest>,
    ) -> Result<Response<GetJobResponse>, Status> {
        let job = Some(self.store.get_job(&request.get_ref().id).await?);
        Ok(Response::new(GetJobResponse { job }))
    }

    async fn list_jobs(
        &self,
        request: Request<ListJobsRequest>,
    ) -> Result<Response<ListJobsResponse>, Status> {
        Ok(Response::new(
            self.store.list_jobs(request.get_ref()).await?,
        ))
    }

    async fn cancel_job(
        &self,
        request: Request<CancelJobRequest>,
    ) -> Result<Response<CancelJobResponse>, Status> {
        let job = Some(self.store.cancel_job(&request.get_ref().id).await?);
        Ok(Response::new(CancelJobResponse { job }))
    }

    type WatchJobStream = JobStream;

    async fn watch_job(
        &self,
        request: Request<WatchJobRequest>,
    ) -> Result<Response<JobStream>, Status> {
        let stream = watch_job(self.store.clone(), &request.get_ref().id).await?;
        Ok(Response::new(stream))
    }

    async fn get_artifact(
        &self,
        request: Request<GetArtifactRequest>,
    ) -> Result<Response<GetArtifactResponse>, Status> {
        let artifact = Some(self.store.get_artifact(&request.get_ref().id).await?);
        Ok(Response::new(GetArtifactResponse { artifact }))
    }

    async fn list_artifacts(
        &self,
        request: Request<ListArtifactsRequest>,
    ) -> Result<Response<ListArtifactsResponse>, Status> {
        Ok(Response::new(
            self.store.list_artifacts(request.get_ref()).await?,
        ))
    }

    async fn list_alerts(
        &self,
        request: Request<ListAlertsRequest>,
    ) -> Result<Response<ListAlertsResponse>, Status> {
        Ok(Response::new(
            self.store.list_alerts(request.get_ref()).await?,
        ))
    }

    async fn get_server_info(
        &self,
        _request: Request<GetServerInfoRequest>,
    ) -> Result<Response<GetServerInfoResponse>, Status> {
        use vigil_server_common::build_info;
        let components = self.store.list_components(0).await?;
        Ok(Response::new(GetServerInfoResponse {
            version: build_info::VERSION.to_owned(),
            build: build_info::build(),
            components,
        }))
    }
}
