//! The `ExecutorService` gRPC API: what this executor is, uploads of export
//! archives (staged, then checked in full by an UPLOAD job) and downloads.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use vigil_server_common::auth::{AuditTarget, set_audit_target};

use futures::Stream;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status, Streaming};
use vigil_proto::capabilities;
use vigil_proto::catalog::v1::{
    EnqueueJobRequest, GetConfigurationRequest, JobKind, JobParams, JobTrigger, LeaseJobRequest,
    UploadParams, job_params,
};
use vigil_proto::executor::v1::executor_service_server::ExecutorService;
use vigil_proto::executor::v1::{
    DownloadArchiveRequest, DownloadArchiveResponse, GetExecutorInfoRequest,
    GetExecutorInfoResponse, ListSnapshotEntriesRequest, ListSnapshotEntriesResponse,
    ReadSnapshotFileRequest, UploadArchiveRequest, UploadArchiveResponse, UploadMetadata,
    upload_archive_request,
};

use crate::archive::ArchiveReader;
use crate::download;
use crate::error::{Error, Result};
use crate::jobs::upload::STAGED_PREFIX;
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
            self.shared
                .catalog()
                .get_configuration(GetConfigurationRequest {
                    name: meta.configuration.clone(),
                })
                .await?;
        }
        let staged = self.shared.staging.join(format!(
            "{STAGED_PREFIX}{}.vgx",
            uuid::Uuid::new_v4().simple()
        ));
        let received = match self.receive(&mut stream, &staged).await {
            Ok(n) => n,
            Err(e) => {
                let _ = tokio::fs::remove_file(&staged).await;
                return Err(e);
            }
        };
        if meta.size_bytes != 0 && meta.size_bytes != received {
            let _ = tokio::fs::remove_file(&staged).await;
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
            true => self.configuration_from_manifest(&staged).await,
        };
        let outcome = self
            .run_upload(&meta, configuration, &staged, received)
            .await;
        if outcome.is_err() {
            let _ = tokio::fs::remove_file(&staged).await;
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
    /// Writes the chunks to the staging file; returns the bytes received.
    async fn receive(
        &self,
        stream: &mut Streaming<UploadArchiveRequest>,
        path: &std::path::Path,
    ) -> Result<u64, Status> {
        let limit = self.shared.opts.settings.max_upload_bytes;
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .await
            .map_err(|e| Error::io(path, e))?;
        let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut received: u64 = 0;
        while let Some(msg) = stream.message().await? {
            match msg.part {
                Some(upload_archive_request::Part::Chunk(bytes)) => {
                    received += bytes.len() as u64;
                    if received > limit {
                        return Err(Error::invalid(
                            "chunk",
                            format!("the upload exceeds the limit of {limit} bytes"),
                        )
                        .into());
                    }
                    out.write_all(&bytes)
                        .await
                        .map_err(|e| Error::io(path, e))?;
                }
                Some(upload_archive_request::Part::Metadata(_)) => {
                    return Err(Error::invalid(
                        "metadata",
                        "must be sent once, as the first message",
                    )
                    .into());
                }
                None => return Err(Error::invalid("part", "must be metadata or chunk").into()),
            }
        }
        out.flush().await.map_err(|e| Error::io(path, e))?;
        out.get_ref()
            .sync_all()
            .await
            .map_err(|e| Error::io(path, e))?;
        Ok(received)
    }

    /// The manifest's configuration, when the catalog knows it.
    async fn configuration_from_manifest(&self, path: &std::path::Path) -> String {
        let p = path.to_path_buf();
        let named = tokio::task::spawn_blocking(move || {
            let f = std::fs::File::open(&p).ok()?;
            ArchiveReader::open(std::io::BufReader::new(f))
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
        let known = self
            .shared
            .catalog()
            .get_configuration(GetConfigurationRequest {
                name: named.clone(),
            })
            .await;
        if known.is_ok() { named } else { String::new() }
    }

    /// Queues the UPLOAD job, makes sure this executor runs it, and waits.
    async fn run_upload(
        &self,
        meta: &UploadMetadata,
        configuration: String,
        staged: &std::path::Path,
        size: u64,
    ) -> Result<
        (
            vigil_proto::catalog::v1::BackupJob,
            Option<vigil_proto::catalog::v1::Artifact>,
        ),
        Status,
    > {
        let shared = &self.shared;
        let key = staged.display().to_string();
        let (tx, mut rx) = oneshot::channel();
        if let Ok(mut w) = shared.waiters.lock() {
            w.insert(key.clone(), tx);
        }
        let own = vec![
            capabilities::UPLOAD.to_owned(),
            shared.own_capability.clone(),
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
            required_capabilities: own.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        };
        if let Err(s) = shared.coordination().enqueue_job(enqueue).await {
            if let Ok(mut w) = shared.waiters.lock() {
                w.remove(&key);
            }
            return Err(s);
        }
        // Only this executor can run the job (the staged file is here). The
        // job loop may lease it; so does this loop, so an upload never waits
        // behind long backups for a free slot.
        let mut client = shared.coordination();
        let mut ours_leased = false;
        while !ours_leased {
            let lease = LeaseJobRequest {
                executor_id: shared.opts.executor_id.clone(),
                capabilities: own.clone(),
                lease_duration: Some(vigil_proto::duration_to_proto(
                    shared.opts.settings.lease_duration,
                )),
                wait: Some(vigil_proto::duration_to_proto(Duration::from_secs(2))),
            };
            tokio::select! {
                done = &mut rx => return done.map_err(|_| Status::internal("the upload job ended without a result"))?,
                leased = client.lease_job(lease) => {
                    if let Ok(resp) = leased {
                        let resp = resp.into_inner();
                        if let Some(job) = resp.job {
                            ours_leased = matches!(
                                job.params.as_ref().and_then(|p| p.params.as_ref()),
                                Some(job_params::Params::Upload(u)) if u.staging_path == key
                            );
                            let lease = Lease { job, token: resp.lease_token };
                            tokio::spawn(run_job(shared.clone(), lease, resp.configuration, None));
                        }
                    }
                }
                _ = shared.shutdown.cancelled() => return Err(Status::unavailable("the executor is shutting down")),
            }
        }
        rx.await
            .map_err(|_| Status::internal("the upload job ended without a result"))?
    }
}
