//! A scripted CatalogService for job creation, waiting and pagination.

use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use futures::Stream;
use tonic::{Request, Response, Status};
use vigil_proto::catalog::v1::catalog_service_server::CatalogService;
use vigil_proto::catalog::v1::*;

/// How WatchJob behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatchMode {
    /// UNIMPLEMENTED: the client must poll GetJob.
    Unimplemented,
    /// The first stream sends RUNNING then breaks with UNAVAILABLE; the second sends COMPLETED.
    BreakOnce,
}

pub(crate) struct ScriptedCatalog {
    pub watch_mode: WatchMode,
    pub create_job_failures: u32,
    pub create_job_calls: AtomicU32,
    pub get_job_calls: AtomicU32,
    pub watch_calls: AtomicU32,
    /// Request ids seen by CreateJob.
    pub request_ids: Mutex<Vec<String>>,
    /// Total jobs served by ListJobs, in pages of the requested size.
    pub job_count: u32,
}

impl ScriptedCatalog {
    pub(crate) fn new(watch_mode: WatchMode) -> Self {
        Self {
            watch_mode,
            create_job_failures: 0,
            create_job_calls: AtomicU32::new(0),
            get_job_calls: AtomicU32::new(0),
            watch_calls: AtomicU32::new(0),
            request_ids: Mutex::new(Vec::new()),
            job_count: 0,
        }
    }
}

pub(crate) fn job(id: &str, state: JobState) -> BackupJob {
    BackupJob {
        id: id.to_owned(),
        name: format!("job_{id}"),
        state: state as i32,
        ..Default::default()
    }
}

fn unscripted<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not scripted"))
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchJobResponse, Status>> + Send>>;

#[tonic::async_trait]
impl CatalogService for ScriptedCatalog {
    async fn create_configuration(
        &self,
        _: Request<CreateConfigurationRequest>,
    ) -> Result<Response<CreateConfigurationResponse>, Status> {
        unscripted()
    }
    async fn get_configuration(
        &self,
        _: Request<GetConfigurationRequest>,
    ) -> Result<Response<GetConfigurationResponse>, Status> {
        unscripted()
    }
    async fn list_configurations(
        &self,
        _: Request<ListConfigurationsRequest>,
    ) -> Result<Response<ListConfigurationsResponse>, Status> {
        unscripted()
    }
    async fn update_configuration(
        &self,
        _: Request<UpdateConfigurationRequest>,
    ) -> Result<Response<UpdateConfigurationResponse>, Status> {
        unscripted()
    }
    async fn delete_configuration(
        &self,
        _: Request<DeleteConfigurationRequest>,
    ) -> Result<Response<DeleteConfigurationResponse>, Status> {
        unscripted()
    }
    async fn enable_configuration(
        &self,
        _: Request<EnableConfigurationRequest>,
    ) -> Result<Response<EnableConfigurationResponse>, Status> {
        unscripted()
    }
    async fn disable_configuration(
        &self,
        _: Request<DisableConfigurationRequest>,
    ) -> Result<Response<DisableConfigurationResponse>, Status> {
        unscripted()
    }
    async fn apply_configurations(
        &self,
        _: Request<ApplyConfigurationsRequest>,
    ) -> Result<Response<ApplyConfigurationsResponse>, Status> {
        unscripted()
    }

    async fn create_job(
        &self,
        request: Request<CreateJobRequest>,
    ) -> Result<Response<CreateJobResponse>, Status> {
        let n = self.create_job_calls.fetch_add(1, Ordering::SeqCst);
        self.request_ids
            .lock()
            .unwrap()
            .push(request.get_ref().request_id.clone());
        if n < self.create_job_failures {
            return Err(Status::unavailable("catalog is starting"));
        }
        Ok(Response::new(CreateJobResponse {
            job: Some(job("j1", JobState::Queued)),
        }))
    }

    async fn get_job(
        &self,
        request: Request<GetJobRequest>,
    ) -> Result<Response<GetJobResponse>, Status> {
        let n = self.get_job_calls.fetch_add(1, Ordering::SeqCst);
        let id = &request.get_ref().id;
        if id != "j1" {
            return Err(Status::not_found(format!("id: no job {id}")));
        }
        let state = match n {
            0 => JobState::Queued,
            1 | 2 => JobState::Running,
            _ => JobState::Completed,
        };
        Ok(Response::new(GetJobResponse {
            job: Some(job("j1", state)),
        }))
    }

    async fn list_jobs(
        &self,
        request: Request<ListJobsRequest>,
    ) -> Result<Response<ListJobsResponse>, Status> {
        let req = request.into_inner();
        let size = if req.page_size <= 0 {
            100
        } else {
            req.page_size as u32
        };
        let start: u32 = if req.page_token.is_empty() {
            0
        } else {
            req.page_token
                .parse()
                .map_err(|_| Status::invalid_argument("page_token: malformed"))?
        };
        let end = (start + size).min(self.job_count);
        let jobs = (start..end)
            .map(|i| job(&format!("j{i}"), JobState::Completed))
            .collect();
        let next_page_token = if end < self.job_count {
            end.to_string()
        } else {
            String::new()
        };
        Ok(Response::new(ListJobsResponse {
            jobs,
            next_page_token,
        }))
    }

    async fn cancel_job(
        &self,
        _: Request<CancelJobRequest>,
    ) -> Result<Response<CancelJobResponse>, Status> {
        unscripted()
    }

    type WatchJobStream = WatchStream;

    async fn watch_job(
        &self,
        _: Request<WatchJobRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let n = self.watch_calls.fetch_add(1, Ordering::SeqCst);
        let items: Vec<Result<WatchJobResponse, Status>> = match (self.watch_mode, n) {
            (WatchMode::Unimplemented, _) => {
                return Err(Status::unimplemented("watch is not served"));
            }
            (WatchMode::BreakOnce, 0) => vec![
                Ok(WatchJobResponse {
                    job: Some(job("j1", JobState::Running)),
                }),
                Err(Status::unavailable("catalog restarting")),
            ],
            (WatchMode::BreakOnce, _) => vec![
                Ok(WatchJobResponse {
                    job: Some(job("j1", JobState::Running)),
                }),
                Ok(WatchJobResponse {
                    job: Some(job("j1", JobState::Completed)),
                }),
            ],
        };
        Ok(Response::new(Box::pin(futures::stream::iter(items))))
    }

    async fn get_artifact(
        &self,
        _: Request<GetArtifactRequest>,
    ) -> Result<Response<GetArtifactResponse>, Status> {
        unscripted()
    }
    async fn list_artifacts(
        &self,
        _: Request<ListArtifactsRequest>,
    ) -> Result<Response<ListArtifactsResponse>, Status> {
        unscripted()
    }
    async fn list_alerts(
        &self,
        _: Request<ListAlertsRequest>,
    ) -> Result<Response<ListAlertsResponse>, Status> {
        unscripted()
    }
    async fn get_server_info(
        &self,
        _: Request<GetServerInfoRequest>,
    ) -> Result<Response<GetServerInfoResponse>, Status> {
        unscripted()
    }
    async fn list_job_events(
        &self,
        _: Request<ListJobEventsRequest>,
    ) -> Result<Response<ListJobEventsResponse>, Status> {
        unscripted()
    }
}
