//! The `ExecutorService` gRPC API: what this executor is, uploads of export
//! archives (staged in the repository as they arrive, then checked in full
//! by an UPLOAD job that any executor of the repository may run) and
//! downloads.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use vigil_server_common::auth::{AuditTarget, set_audit_target};

use futures::Stream;
use std::io;

use tokio::sync::oneshot;
use tonic::{Request, Response, Status, Streaming};
use vigil_proto::capabilities;
use vigil_proto::catalog::v1::{
    Artifact, BackupJob, EnqueueJobRequest, GetArtifactRequest, GetConfigurationRequest,
    GetJobRequest, JobKind, JobParams, JobState, JobTrigger, LeaseJobRequest, UploadParams,
    job_params,
};
use vigil_proto::executor::v1::executor_service_server::ExecutorService;
use vigil_proto::executor::v1::{
    DownloadArchiveRequest, DownloadArchiveResponse, GetExecutorInfoRequest,
    GetExecutorInfoResponse, ListSnapshotEntriesRequest, ListSnapshotEntriesResponse,
    ReadSnapshotFileRequest, UploadArchiveRequest, UploadArchiveResponse, UploadMetadata,
    upload_archive_request,
};
use vigil_repository::SnapshotId;

use crate::archive::ArchiveReader;
use crate::download;
use crate::error::{Error, Result};
use crate::jobs::upload;
use crate::pipe::{PipeSender, pipe};
use crate::runner::{Lease, run_job};
use crate::state::Shared;

/// The gRPC service of an executor.
#[derive(Debug, Clone)]
pub struct ExecutorApi {
    shared: Arc<Shared>,
}

impl ExecutorApi {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        ExecutorApi { shared }
    }
}

type FileStream = crate::browse::FileStream;
type DownloadStream = Pin<Box<dyn Stream<Item = Result<DownloadArchiveResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ExecutorService for ExecutorApi {
    async fn get_executor_info(
        &self,
        _request: Request<GetExecutorInfoRequest>,
    ) -> Result<Response<GetExecutorInfoResponse>, Status> {
        let s = &self.shared;
        Ok(Response::new(GetExecutorInfoResponse {
            executor_id: s.opts.executor_id.clone(),
            capabilities: s.capabilities.clone(),
            engines: s.engines.versions().into_iter().collect(),
            running_jobs: s.running_jobs(),
            repository: s.repo.location.clone(),
            start_time: Some(vigil_proto::timestamp_from_system(s.start_time)),
        }))
    }

    async fn upload_archive(
        &self,
        request: Request<Streaming<UploadArchiveRequest>>,
    ) -> Result<Response<UploadArchiveResponse>, Status> {
        let audit = AuditTarget::of(&request);
        let mut stream = request.into_inner();
        let meta = match stream.message().await? {
            Some(UploadArchiveRequest {
                part: Some(upload_archive_request::Part::Metadata(m)),
            }) => m,
            _ => {
                return Err(
                    Error::invalid("metadata", "must be the first message of an upload").into(),
                );
            }
        };
        if let Some(audit) = &audit {
            audit.set(format!("upload configuration {}", meta.configuration));
        }
        check_metadata(&meta)?;
        if !meta.configuration.is_empty() {
            let request = GetConfigurationRequest {
                name: meta.configuration.clone(),
            };
            self.shared.catalog.call(request).await?;
        }
        let (staged, received) = self.stage(&mut stream).await?;
        let outcome = self.after_staging(&meta, staged, received).await;
        if outcome.is_err() {
            self.forget_staged(staged).await;
        }
        let (job, artifact) = outcome?;
        Ok(Response::new(UploadArchiveResponse {
            job: Some(job),
            artifact,
        }))
    }

    type DownloadArchiveStream = DownloadStream;

    async fn download_archive(
        &self,
        request: Request<DownloadArchiveRequest>,
    ) -> Result<Response<Self::DownloadArchiveStream>, Status> {
        set_audit_target(&request, format!("artifact {}", request.get_ref().artifact));
        let id = request.into_inner().artifact;
        if id.trim().is_empty() {
            return Err(Error::invalid("artifact", "must not be empty").into());
        }
        let stream = download::start(self.shared.clone(), &id).await?;
        Ok(Response::new(stream))
    }

    async fn list_snapshot_entries(
        &self,
        request: Request<ListSnapshotEntriesRequest>,
    ) -> Result<Response<ListSnapshotEntriesResponse>, Status> {
        let page = crate::browse::list(&self.shared, request.get_ref()).await?;
        Ok(Response::new(page))
    }

    type ReadSnapshotFileStream = FileStream;

    async fn read_snapshot_file(
        &self,
        request: Request<ReadSnapshotFileRequest>,
    ) -> Result<Response<Self::ReadSnapshotFileStream>, Status> {
        let stream = crate::browse::read_file(&self.shared, request.get_ref()).await?;
        Ok(Response::new(stream))
    }
}

fn check_metadata(m: &UploadMetadata) -> Result<()> {
    let name = &m.file_name;
    if name.is_empty()
        || name.len() > 255
        || name.contains(['/', '\0'])
        || name == "."
        || name == ".."
    {
        return Err(Error::invalid(
            "metadata.file_name",
            "must be a plain file name of 1 to 255 bytes",
        ));
    }
    Ok(())
}

impl ExecutorApi {
    /// Stages the uploaded chunks in the repository as they arrive (at most
    /// a few chunks in memory); returns the staged snapshot and its size.
    async fn stage(
        &self,
        stream: &mut Streaming<UploadArchiveRequest>,
    ) -> Result<(SnapshotId, u64), Status> {
        let (tx, reader) = pipe(8);
        let repo = self.shared.repo.repository.clone();
        let stored = tokio::task::spawn_blocking(move || upload::stage(&repo, Box::new(reader)));
        let limit = self.shared.opts.settings.max_upload_bytes;
        let received = forward_chunks(stream, &tx, limit).await;
        if let Err(Some(status)) = &received {
            // The repository sees a failed stream and records no snapshot.
            let _ = tx
                .send(Err(io::Error::other(status.message().to_owned())))
                .await;
        }
        drop(tx);
        let stored = stored
            .await
            .map_err(|e| Status::internal(format!("staging the upload: {e}")))?;
        match received {
            Ok(received) => {
                let (staged, size) = stored?;
                if size != received {
                    self.forget_staged(staged).await;
                    return Err(Status::internal(
                        "the staged upload does not hold the bytes received",
                    ));
                }
                Ok((staged, received))
            }
            Err(Some(status)) => {
                if let Ok((staged, _)) = stored {
                    self.forget_staged(staged).await;
                }
                Err(status)
            }
            // The repository stopped reading: its error says why.
            Err(None) => Err(match stored {
                Err(e) => e.into(),
                Ok((staged, _)) => {
                    self.forget_staged(staged).await;
                    Status::internal("the repository stopped reading the upload")
                }
            }),
        }
    }

    /// Checks the declared size, names the configuration and runs the job.
    async fn after_staging(
        &self,
        meta: &UploadMetadata,
        staged: SnapshotId,
        received: u64,
    ) -> Result<(BackupJob, Option<Artifact>), Status> {
        if meta.size_bytes != 0 && meta.size_bytes != received {
            return Err(Error::invalid(
                "metadata.size_bytes",
                format!(
                    "declared {} bytes but {received} arrived; the upload is truncated or padded",
                    meta.size_bytes
                ),
            )
            .into());
        }
        let configuration = match meta.configuration.is_empty() {
            false => meta.configuration.clone(),
            true => self.configuration_from_manifest(staged).await,
        };
        self.run_upload(meta, configuration, staged, received).await
    }

    /// Forgets a staged upload no job will take (best effort: the next
    /// prune forgets what is left once it is older than `orphan_grace`).
    async fn forget_staged(&self, staged: SnapshotId) {
        let repo = self.shared.repo.repository.clone();
        let forgotten = tokio::task::spawn_blocking(move || repo.forget_snapshots(&[staged])).await;
        if !matches!(forgotten, Ok(Ok(()))) {
            tracing::info!(snapshot = %staged.short(), "staged upload left for the next prune");
        }
    }

    /// The manifest's configuration, when the catalog knows it.
    async fn configuration_from_manifest(&self, staged: SnapshotId) -> String {
        let repo = self.shared.repo.repository.clone();
        let named = tokio::task::spawn_blocking(move || {
            ArchiveReader::open(upload::read_archive(repo, staged))
                .ok()
                .map(|r| r.manifest().configuration.clone())
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
        if named.is_empty() {
            return named;
        }
        let request = GetConfigurationRequest {
            name: named.clone(),
        };
        let known = self.shared.catalog.call(request).await;
        if known.is_ok() { named } else { String::new() }
    }

    /// Queues the UPLOAD job and waits for its end. Any executor of the
    /// repository may run it (the upload is staged there); this one leases
    /// such jobs too, so an upload never waits behind long backups for a
    /// free slot.
    async fn run_upload(
        &self,
        meta: &UploadMetadata,
        configuration: String,
        staged: SnapshotId,
        size: u64,
    ) -> Result<(BackupJob, Option<Artifact>), Status> {
        let shared = &self.shared;
        let key = staged.to_hex();
        let (tx, mut rx) = oneshot::channel();
        if let Ok(mut w) = shared.waiters.lock() {
            w.insert(key.clone(), tx);
        }
        let needed = vec![
            capabilities::UPLOAD.to_owned(),
            capabilities::repository(shared.repo.repository.id()),
        ];
        let enqueue = EnqueueJobRequest {
            configuration,
            kind: JobKind::Upload as i32,
            trigger: JobTrigger::Upload as i32,
            params: Some(JobParams {
                params: Some(job_params::Params::Upload(UploadParams {
                    file_name: meta.file_name.clone(),
                    staging_path: key.clone(),
                    size_bytes: size,
                })),
            }),
            required_capabilities: needed.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        };
        let job_id = match shared.catalog.call(enqueue).await {
            Ok(r) => r.job.map(|j| j.id).unwrap_or_default(),
            Err(e) => {
                if let Ok(mut w) = shared.waiters.lock() {
                    w.remove(&key);
                }
                return Err(e.into());
            }
        };
        let wait = Duration::from_secs(1);
        let limit = wait + shared.catalog.settings().deadline;
        let mut ours_leased = false;
        loop {
            let lease = LeaseJobRequest {
                executor_id: shared.opts.executor_id.clone(),
                capabilities: needed.clone(),
                lease_duration: Some(vigil_proto::duration_to_proto(
                    shared.opts.settings.lease_duration,
                )),
                wait: Some(vigil_proto::duration_to_proto(wait)),
            };
            tokio::select! {
                done = &mut rx => return done.map_err(|_| Status::internal("the upload job ended without a result"))?,
                leased = shared.catalog.call_within(lease, limit), if !ours_leased => {
                    if let Ok(resp) = leased && let Some(job) = resp.job {
                        ours_leased = job.id == job_id;
                        let lease = Lease { job, token: resp.lease_token };
                        tokio::spawn(run_job(shared.clone(), lease, resp.configuration, None));
                    }
                }
                _ = shared.shutdown.cancelled() => return Err(Status::unavailable("the executor is shutting down")),
            }
            if !ours_leased && let Some(done) = self.ended_elsewhere(&job_id).await? {
                if let Ok(mut w) = shared.waiters.lock() {
                    w.remove(&key);
                }
                return done;
            }
        }
    }

    /// The end of an upload job another executor ran, once it has one.
    async fn ended_elsewhere(
        &self,
        job_id: &str,
    ) -> Result<Option<Result<(BackupJob, Option<Artifact>), Status>>, Status> {
        let request = GetJobRequest {
            id: job_id.to_owned(),
        };
        let job = (self.shared.catalog.call(request).await?)
            .job
            .ok_or_else(|| Status::internal("the catalog sent no job"))?;
        match job.state() {
            JobState::Completed => {
                let artifact = match job.artifact.is_empty() {
                    true => None,
                    false => {
                        let request = GetArtifactRequest {
                            id: job.artifact.clone(),
                        };
                        self.shared.catalog.call(request).await?.artifact
                    }
                };
                Ok(Some(Ok((job, artifact))))
            }
            JobState::Failed | JobState::Cancelled => Ok(Some(Err(Status::failed_precondition(
                format!("upload job {} failed: {}", job.id, job.error),
            )))),
            _ => Ok(None),
        }
    }
}

/// Sends the chunks of an upload into `tx` until the client's stream ends;
/// returns the bytes received. `Err(None)`: the repository stopped reading.
async fn forward_chunks(
    stream: &mut Streaming<UploadArchiveRequest>,
    tx: &PipeSender,
    limit: u64,
) -> Result<u64, Option<Status>> {
    let mut received: u64 = 0;
    while let Some(msg) = stream.message().await? {
        match msg.part {
            Some(upload_archive_request::Part::Chunk(bytes)) => {
                received += bytes.len() as u64;
                if received > limit {
                    let why = format!("the upload exceeds the limit of {limit} bytes");
                    return Err(Some(Error::invalid("chunk", why).into()));
                }
                tx.send(Ok(bytes.into())).await.map_err(|_| None)?;
            }
            Some(upload_archive_request::Part::Metadata(_)) => {
                let why = "must be sent once, as the first message";
                return Err(Some(Error::invalid("metadata", why).into()));
            }
            None => {
                let why = "must be metadata or chunk";
                return Err(Some(Error::invalid("part", why).into()));
            }
        }
    }
    Ok(received)
}
