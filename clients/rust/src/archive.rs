//! Streaming export archives to and from the executor.
//!
//! Uploads go out as one metadata message followed by 1 MiB chunks. A
//! download is written to a temporary file beside the target and renamed
//! into place only after every byte arrived and the checksum matched.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use vigil_proto::executor::v1::{
    DownloadArchiveRequest, DownloadArchiveResponse, DownloadMetadata, UploadArchiveRequest,
    UploadArchiveResponse, UploadMetadata, download_archive_response, upload_archive_request,
};

use crate::checksum::Checksum;
use crate::client::{Shape, VigilClient};
use crate::error::{Error, Result};
use crate::retry::Idempotency::Idempotent;

/// Size of each upload chunk.
pub const UPLOAD_CHUNK_BYTES: usize = 1024 * 1024;

/// An open download: its metadata, then its bytes chunk by chunk.
pub struct ArchiveDownload {
    /// What is being sent.
    pub metadata: DownloadMetadata,
    stream: tonic::Streaming<DownloadArchiveResponse>,
}

impl std::fmt::Debug for ArchiveDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveDownload")
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

impl ArchiveDownload {
    /// The next chunk, or `None` at the end of the archive.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        match self.stream.message().await? {
            None => Ok(None),
            Some(DownloadArchiveResponse {
                part: Some(download_archive_response::Part::Chunk(bytes)),
            }) => Ok(Some(bytes)),
            Some(_) => Err(Error::Protocol(
                "download sent metadata twice or an empty part".to_owned(),
            )),
        }
    }
}

/// What a finished download wrote.
#[derive(Debug, Clone)]
pub struct DownloadOutcome {
    /// The metadata the executor sent.
    pub metadata: DownloadMetadata,
    /// Where the archive now is.
    pub path: PathBuf,
    /// Bytes written.
    pub bytes: u64,
    /// Whether a checksum was announced and matched.
    pub checksum_verified: bool,
}

impl VigilClient {
    /// Uploads an export archive read from `reader`; `on_progress` receives
    /// the bytes sent so far. Not retried: the reader is consumed.
    pub async fn upload_archive<R>(
        &self,
        metadata: UploadMetadata,
        mut reader: R,
        mut on_progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<UploadArchiveResponse>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let (fail_tx, fail_rx) = tokio::sync::oneshot::channel::<std::io::Error>();
        let mut fail_tx = Some(fail_tx);
        let outgoing = async_stream::stream! {
            yield UploadArchiveRequest { part: Some(upload_archive_request::Part::Metadata(metadata)) };
            let mut sent = 0u64;
            loop {
                let mut buf = vec![0u8; UPLOAD_CHUNK_BYTES];
                match read_full(&mut reader, &mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        sent += n as u64;
                        yield UploadArchiveRequest { part: Some(upload_archive_request::Part::Chunk(buf)) };
                        on_progress(sent);
                    }
                    Err(e) => {
                        // Never end the stream cleanly on a read error: the
                        // server would take a truncated archive for a whole one.
                        if let Some(tx) = fail_tx.take() {
                            let _ = tx.send(e);
                        }
                        futures::future::pending::<()>().await;
                    }
                }
            }
        };
        let mut stub = self.executor.clone();
        let call = async move { stub.upload_archive(outgoing).await };
        tokio::select! {
            result = call => Ok(result?.into_inner()),
            Ok(e) = fail_rx => Err(Error::io("upload source", e)),
        }
    }

    /// Uploads the archive at `path`, recorded under `configuration` (or the
    /// one named in the archive's manifest when `None`).
    pub async fn upload_archive_file(
        &self,
        path: &Path,
        configuration: Option<&str>,
        on_progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<UploadArchiveResponse> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(path, e))?;
        let size = file.metadata().await.map_err(|e| Error::io(path, e))?.len();
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::invalid("file", "has no file name"))?
            .to_owned();
        let metadata = UploadMetadata {
            file_name,
            configuration: configuration.unwrap_or_default().to_owned(),
            size_bytes: size,
        };
        self.upload_archive(metadata, file, on_progress)
            .await
            .map_err(|e| match e {
                Error::Io { source, .. } => Error::io(path, source),
                other => other,
            })
    }

    /// Opens a download of an artifact as a portable archive.
    pub async fn download_archive(&self, artifact: &str) -> Result<ArchiveDownload> {
        let req = DownloadArchiveRequest {
            artifact: artifact.to_owned(),
        };
        let mut stream = self
            .call(
                &self.executor,
                "DownloadArchive",
                Idempotent,
                Shape::Stream,
                req,
                |mut c, r| async move { c.download_archive(r).await },
            )
            .await?;
        match stream.message().await? {
            Some(DownloadArchiveResponse {
                part: Some(download_archive_response::Part::Metadata(metadata)),
            }) => Ok(ArchiveDownload { metadata, stream }),
            _ => Err(Error::Protocol(
                "download did not start with its metadata".to_owned(),
            )),
        }
    }

    /// Downloads an artifact into `path`, through a temporary file that is
    /// renamed into place only when complete, of the announced size, and
    /// matching the announced checksum. `on_progress` receives
    /// (bytes so far, total when known).
    pub async fn download_archive_to(
        &self,
        artifact: &str,
        path: &Path,
        mut on_progress: impl FnMut(u64, u64),
    ) -> Result<DownloadOutcome> {
        let mut download = self.download_archive(artifact).await?;
        let expected = match download.metadata.checksum.as_str() {
            "" => None,
            s => Some(Checksum::parse(s)?),
        };
        let partial = partial_path(path);
        let result = async {
            let mut file = tokio::fs::File::create(&partial)
                .await
                .map_err(|e| Error::io(&partial, e))?;
            let mut hasher = expected.as_ref().map(Checksum::hasher);
            let total = download.metadata.size_bytes;
            let mut written = 0u64;
            while let Some(chunk) = download.next_chunk().await? {
                file.write_all(&chunk)
                    .await
                    .map_err(|e| Error::io(&partial, e))?;
                if let Some(h) = hasher.as_mut() {
                    h.update(&chunk);
                }
                written += chunk.len() as u64;
                on_progress(written, total);
            }
            file.sync_all().await.map_err(|e| Error::io(&partial, e))?;
            if total > 0 && written != total {
                return Err(Error::Protocol(format!(
                    "download ended after {written} of {total} bytes"
                )));
            }
            if let (Some(expected), Some(hasher)) = (&expected, hasher) {
                let actual = hasher.finish();
                if &actual != expected {
                    return Err(Error::ChecksumMismatch {
                        expected: expected.to_string(),
                        actual: actual.to_string(),
                    });
                }
            }
            tokio::fs::rename(&partial, path)
                .await
                .map_err(|e| Error::io(path, e))?;
            Ok(written)
        }
        .await;
        match result {
            Ok(bytes) => Ok(DownloadOutcome {
                metadata: download.metadata,
                path: path.to_owned(),
                bytes,
                checksum_verified: expected.is_some(),
            }),
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(e)
            }
        }
    }
}

/// A hidden sibling of `path` that is unique to this download.
fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("archive");
    path.with_file_name(format!(".{name}.{}.partial", uuid::Uuid::new_v4().simple()))
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
async fn read_full<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = reader.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}
