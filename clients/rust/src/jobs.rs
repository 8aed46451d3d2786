//! Jobs: queue backups, restores, verifies and prunes; read, list and cancel them.

use futures::stream::BoxStream;
use vigil_proto::catalog::v1::{
    BackupJob, CancelJobRequest, CreateJobRequest, GetJobRequest, JobKind, JobParams, JobState,
    ListJobsRequest, PruneParams, RestoreParams, VerifyParams, job_params,
};

use crate::client::{Shape, VigilClient};
use crate::error::{Error, Result};
use crate::pagination::paginate;
use crate::retry::{Idempotency::*, classify};

pub(crate) fn required_job(job: Option<BackupJob>) -> Result<BackupJob> {
    job.ok_or_else(|| Error::Protocol("job missing from the response".to_owned()))
}

/// Whether a job state is final (COMPLETED, FAILED or CANCELLED).
pub fn is_final(state: JobState) -> bool {
    matches!(
        state,
        JobState::Completed | JobState::Failed | JobState::Cancelled
    )
}

/// A fresh idempotency key for `CreateJob`.
pub fn new_request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl VigilClient {
    /// Queues a manual job. Retried on transient failures only when
    /// `request.request_id` is set, since the catalog then deduplicates.
    pub async fn create_job(&self, request: CreateJobRequest) -> Result<BackupJob> {
        let idempotency = classify("CreateJob", !request.request_id.is_empty());
        let resp = self
            .call(
                &self.catalog,
                "CreateJob",
                idempotency,
                Shape::Unary,
                request,
                |mut c, r| async move { c.create_job(r).await },
            )
            .await?;
        required_job(resp.job)
    }

    /// Queues a manual backup of a configuration, with a fresh request id so
    /// that a retry cannot queue it twice.
    pub async fn run_backup(&self, configuration: &str) -> Result<BackupJob> {
        self.create_job(CreateJobRequest {
            configuration: configuration.to_owned(),
            kind: JobKind::Backup as i32,
            params: None,
            request_id: new_request_id(),
        })
        .await
    }

    /// Queues a restore of `params.artifact`.
    pub async fn restore(&self, params: RestoreParams) -> Result<BackupJob> {
        self.create_job(CreateJobRequest {
            configuration: String::new(),
            kind: JobKind::Restore as i32,
            params: Some(JobParams {
                params: Some(job_params::Params::Restore(params)),
            }),
            request_id: new_request_id(),
        })
        .await
    }

    /// Queues a verify of one artifact, of a configuration's artifacts, or of
    /// the whole repository (both empty).
    pub async fn verify(&self, configuration: &str, params: VerifyParams) -> Result<BackupJob> {
        self.create_job(CreateJobRequest {
            configuration: configuration.to_owned(),
            kind: JobKind::Verify as i32,
            params: Some(JobParams {
                params: Some(job_params::Params::Verify(params)),
            }),
            request_id: new_request_id(),
        })
        .await
    }

    /// Queues a retention prune of a configuration.
    pub async fn prune(&self, configuration: &str, dry_run: bool) -> Result<BackupJob> {
        self.create_job(CreateJobRequest {
            configuration: configuration.to_owned(),
            kind: JobKind::Prune as i32,
            params: Some(JobParams {
                params: Some(job_params::Params::Prune(PruneParams { dry_run })),
            }),
            request_id: new_request_id(),
        })
        .await
    }

    /// Returns one job by id or readable name.
    pub async fn get_job(&self, id: &str) -> Result<BackupJob> {
        let req = GetJobRequest { id: id.to_owned() };
        let resp = self
            .call(
                &self.catalog,
                "GetJob",
                Idempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.get_job(r).await },
            )
            .await?;
        required_job(resp.job)
    }

    /// Cancels a queued job, or asks a running one to stop.
    pub async fn cancel_job(&self, id: &str) -> Result<BackupJob> {
        let req = CancelJobRequest { id: id.to_owned() };
        let resp = self
            .call(
                &self.catalog,
                "CancelJob",
                NonIdempotent,
                Shape::Unary,
                req,
                |mut c, r| async move { c.cancel_job(r).await },
            )
            .await?;
        required_job(resp.job)
    }

    /// Streams every job matching `filter`, newest first, fetching pages
    /// (of `filter.page_size`) as they are consumed. Use `take(n)` for a limit.
    pub fn list_jobs(&self, filter: ListJobsRequest) -> BoxStream<'static, Result<BackupJob>> {
        let client = self.clone();
        paginate(move |token| {
            let client = client.clone();
            let req = ListJobsRequest {
                page_token: token,
                ..filter.clone()
            };
            async move {
                let resp = client
                    .call(
                        &client.catalog,
                        "ListJobs",
                        Idempotent,
                        Shape::Unary,
                        req,
                        |mut c, r| async move { c.list_jobs(r).await },
                    )
                    .await?;
                Ok((resp.jobs, resp.next_page_token))
            }
        })
    }
}
