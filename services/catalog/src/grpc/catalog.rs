//! `vigil.catalog.v1.CatalogService`.

use tonic::{Request, Response, Status};
use vigil_proto::catalog::v1::catalog_service_server::CatalogService;
use vigil_proto::catalog::v1::*;

use vigil_auth::Access;
use vigil_server_common::auth::{require, set_audit_target};

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

/// What a CreateJob acts on, for the audit trail: the kind, the
/// configuration, and for a restore its artifact and targets (the database
/// URL without its password).
fn job_target(req: &CreateJobRequest) -> String {
    let kind = JobKind::try_from(req.kind)
        .map(|k| k.as_str_name().trim_start_matches("JOB_KIND_").to_owned())
        .unwrap_or_else(|_| req.kind.to_string());
    let mut target = format!("{kind} {}", req.configuration);
    if let Some(job_params::Params::Restore(r)) =
        req.params.as_ref().and_then(|p| p.params.as_ref())
    {
        target.push_str(&format!(" artifact={}", r.artifact));
        if !r.target_dir.is_empty() {
            target.push_str(&format!(" to={}", r.target_dir));
        }
        if !r.database_url.is_empty() {
            target.push_str(&format!(
                " database={}",
                crate::redact::redact_secrets(&r.database_url)
            ));
        }
        if r.overwrite {
            target.push_str(" overwrite");
        }
    }
    target.trim_end().to_owned()
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
        let name = request
            .get_ref()
            .configuration
            .as_ref()
            .map(|c| c.name.clone());
        set_audit_target(
            &request,
            format!("configuration {}", name.unwrap_or_default()),
        );
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
        let name = request
            .get_ref()
            .configuration
            .as_ref()
            .map(|c| c.name.clone());
        set_audit_target(
            &request,
            format!("configuration {}", name.unwrap_or_default()),
        );
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
        set_audit_target(
            &request,
            format!("configuration {}", request.get_ref().name),
        );
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
        set_audit_target(
            &request,
            format!("configuration {}", request.get_ref().name),
        );
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
        set_audit_target(
            &request,
            format!("configuration {}", request.get_ref().name),
        );
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
        let names: Vec<&str> = request
            .get_ref()
            .configurations
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        set_audit_target(&request, format!("configurations {}", names.join(",")));
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
        set_audit_target(&request, job_target(request.get_ref()));
        if request.get_ref().kind == JobKind::Restore as i32 {
            require(&request, Access::Admin, "a RESTORE job")?;
        }
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
        set_audit_target(&request, format!("job {}", request.get_ref().id));
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

    async fn list_job_events(
        &self,
        request: Request<ListJobEventsRequest>,
    ) -> Result<Response<ListJobEventsResponse>, Status> {
        Ok(Response::new(
            self.store.list_job_events(request.get_ref()).await?,
        ))
    }

    async fn get_server_info(
        &self,
        _request: Request<GetServerInfoRequest>,
    ) -> Result<Response<GetServerInfoResponse>, Status> {
        use vigil_server_common::build_info;
        // The live components, up to one full page: a version report, not an
        // inventory (`ListComponents` pages through all of them).
        let components = self
            .store
            .list_components(&ListComponentsRequest {
                page_size: 1000,
                ..Default::default()
            })
            .await?
            .components;
        Ok(Response::new(GetServerInfoResponse {
            version: build_info::VERSION.to_owned(),
            build: build_info::build(),
            components,
        }))
    }
}
