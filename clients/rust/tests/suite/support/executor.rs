//! A scripted ExecutorService: keeps uploads in memory and serves downloads.

use std::pin::Pin;
use std::sync::Mutex;

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};
use vigil_proto::catalog::v1::{Artifact, BackupJob};
use vigil_proto::executor::v1::executor_service_server::ExecutorService;
use vigil_proto::executor::v1::*;

/// An upload as received: metadata, chunk sizes and bytes.
pub(crate) type Received = (UploadMetadata, Vec<usize>, Vec<u8>);

#[derive(Default)]
pub(crate) struct ScriptedExecutor {
    /// What the last upload received: metadata, chunk sizes and bytes.
    pub upload: Mutex<Option<Received>>,
    /// The archive served by DownloadArchive.
    pub archive: Vec<u8>,
    /// The checksum announced for it.
    pub checksum: String,
}

type DownloadStream = Pin<Box<dyn Stream<Item = Result<DownloadArchiveResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ExecutorService for ScriptedExecutor {
    async fn get_executor_info(
        &self,
        _: Request<GetExecutorInfoRequest>,
    ) -> Result<Response<GetExecutorInfoResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn upload_archive(
        &self,
        request: Request<Streaming<UploadArchiveRequest>>,
    ) -> Result<Response<UploadArchiveResponse>, Status> {
        let mut stream = request.into_inner();
        let Some(UploadArchiveRequest {
            part: Some(upload_archive_request::Part::Metadata(meta)),
        }) = stream.message().await?
        else {
            return Err(Status::invalid_argument("metadata: must come first"));
        };
        let mut sizes = Vec::new();
        let mut bytes = Vec::new();
        while let Some(msg) = stream.message().await? {
            match msg.part {
                Some(upload_archive_request::Part::Chunk(c)) => {
                    sizes.push(c.len());
                    bytes.extend_from_slice(&c);
                }
                _ => return Err(Status::invalid_argument("chunk: expected bytes")),
            }
        }
        if meta.size_bytes != bytes.len() as u64 {
            return Err(Status::invalid_argument(
                "size_bytes: does not match the bytes received",
            ));
        }
        *self.upload.lock().unwrap() = Some((meta, sizes, bytes));
        Ok(Response::new(UploadArchiveResponse {
            job: Some(BackupJob {
                id: "upload-job".into(),
                ..Default::default()
            }),
            artifact: Some(Artifact {
                id: "uploaded".into(),
                ..Default::default()
            }),
        }))
    }

    type DownloadArchiveStream = DownloadStream;

    async fn download_archive(
        &self,
        request: Request<DownloadArchiveRequest>,
    ) -> Result<Response<DownloadStream>, Status> {
        if request.get_ref().artifact != "a1" {
            return Err(Status::not_found("artifact: no artifact with this id"));
        }
        let mut items = vec![Ok(DownloadArchiveResponse {
            part: Some(download_archive_response::Part::Metadata(
                DownloadMetadata {
                    file_name: "a1.vigil".into(),
                    size_bytes: self.archive.len() as u64,
                    checksum: self.checksum.clone(),
                },
            )),
        })];
        for chunk in self.archive.chunks(64 * 1024) {
            items.push(Ok(DownloadArchiveResponse {
                part: Some(download_archive_response::Part::Chunk(chunk.to_vec())),
            }));
        }
        Ok(Response::new(futures::stream::iter(items).boxed()))
    }

    async fn list_snapshot_entries(
        &self,
        _: Request<ListSnapshotEntriesRequest>,
    ) -> Result<Response<ListSnapshotEntriesResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    type ReadSnapshotFileStream =
        Pin<Box<dyn Stream<Item = Result<ReadSnapshotFileResponse, Status>> + Send>>;

    async fn read_snapshot_file(
        &self,
        _: Request<ReadSnapshotFileRequest>,
    ) -> Result<Response<Self::ReadSnapshotFileStream>, Status> {
        Err(Status::unimplemented("not scripted"))
    }
}
