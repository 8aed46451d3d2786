//! Downloads: any artifact as a portable export archive. An uploaded
//! archive is sent back byte for byte; a snapshot is rendered into an
//! archive first (see `jobs::render`), so the size and checksum in the first
//! message are exact.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use vigil_proto::catalog::v1::{Artifact, ArtifactState};
use vigil_proto::executor::v1::{
    DownloadArchiveResponse, DownloadMetadata, download_archive_response,
};
use vigil_repository::EntryKind;

use crate::archive::EXTENSION;
use crate::error::{Error, Result};
use crate::jobs::{blocking, check_repository, get_artifact, labels, render, snapshot_of};
use crate::progress::Progress;
use crate::state::Shared;

/// Bytes per streamed message.
const CHUNK: usize = 256 << 10;

type Item = std::result::Result<DownloadArchiveResponse, Status>;

/// A `Write` (used on a blocking thread) that sends what it gets as chunk
/// messages of a server stream, made by `wrap`.
pub(crate) struct ChannelWriter<T> {
    tx: mpsc::Sender<std::result::Result<T, Status>>,
    buf: Vec<u8>,
    wrap: fn(Vec<u8>) -> T,
}

impl<T> ChannelWriter<T> {
    /// A writer sending to `tx`.
    pub(crate) fn new(
        tx: mpsc::Sender<std::result::Result<T, Status>>,
        wrap: fn(Vec<u8>) -> T,
    ) -> Self {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
            wrap,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok((self.wrap)(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

fn archive_chunk(chunk: Vec<u8>) -> DownloadArchiveResponse {
    DownloadArchiveResponse {
        part: Some(download_archive_response::Part::Chunk(chunk)),
    }
}

impl<T> Write for ChannelWriter<T> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

fn file_name(artifact: &Artifact) -> String {
    if let Some(n) = artifact.labels.get(labels::ARCHIVE_FILE) {
        return n.clone();
    }
    let stamp = artifact
        .create_time
        .as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y%m%d_%H%M%S").to_string())
        .unwrap_or_else(|| "undated".into());
    let base = if artifact.configuration.is_empty() {
        "vigil"
    } else {
        &artifact.configuration
    };
    format!("{base}_{stamp}.{EXTENSION}")
}

/// Artifact `id` from the catalog: not pruned, and stored in this
/// executor's repository.
pub(crate) async fn artifact(shared: &Shared, id: &str) -> Result<Artifact> {
    let a = get_artifact(shared, id).await?;
    if a.state() == ArtifactState::Pruned {
        return Err(Error::FailedPrecondition(format!(
            "artifact: {id} was pruned"
        )));
    }
    check_repository(shared, &a)?;
    Ok(a)
}

/// Starts streaming artifact `id`.
pub async fn start(
    shared: Arc<Shared>,
    id: &str,
) -> std::result::Result<Pin<Box<dyn Stream<Item = Item> + Send>>, Status> {
    let artifact = artifact(&shared, id).await?;
    let snap_id = snapshot_of(&artifact.location)?;
    let repo = shared.repo.repository.clone();
    let (snap, entries) = blocking({
        let repo = repo.clone();
        move || Ok((repo.snapshot(&snap_id)?, repo.snapshot_entries(&snap_id)?))
    })
    .await?;
    let stored =
        snap.labels.get(labels::FORMAT).map(String::as_str) == Some(labels::FORMAT_ARCHIVE);
    let (tx, rx) = mpsc::channel::<Item>(8);
    let name = file_name(&artifact);
    if stored {
        let size = entries
            .iter()
            .find(|e| e.kind == EntryKind::Stream && e.path == labels::ARCHIVE_STREAM.as_bytes())
            .map(|e| e.size)
            .ok_or_else(|| {
                Error::Internal(format!(
                    "snapshot {} holds no archive stream",
                    snap_id.short()
                ))
            })?;
        let meta = DownloadMetadata {
            file_name: name,
            size_bytes: size,
            checksum: artifact.checksum.clone(),
        };
        send_meta(&tx, meta).await?;
        tokio::task::spawn_blocking(move || {
            let mut w = ChannelWriter::new(tx.clone(), archive_chunk);
            let sent = repo
                .restore_entry(&snap_id, labels::ARCHIVE_STREAM, &mut w)
                .map_err(Error::from);
            finish(&tx, sent.map(drop));
        });
    } else {
        let cancel = Arc::new(AtomicBool::new(false));
        let (mut rendered, warnings) = render::render_snapshot(
            &shared,
            snap_id,
            &artifact,
            cancel,
            Arc::new(Progress::default()),
        )
        .await?;
        for w in warnings {
            tracing::warn!(artifact = %artifact.id, warning = %w, "download");
        }
        let meta = DownloadMetadata {
            file_name: name,
            size_bytes: rendered.size,
            checksum: rendered.checksum.clone(),
        };
        send_meta(&tx, meta).await?;
        tokio::task::spawn_blocking(move || {
            let mut w = ChannelWriter::new(tx.clone(), archive_chunk);
            let sent = rendered
                .reader()
                .and_then(|mut r| io::copy(&mut r, &mut w).map_err(|e| Error::io("archive", e)))
                .and_then(|_| w.flush().map_err(|e| Error::io("archive", e)));
            finish(&tx, sent);
        });
    }
    Ok(Box::pin(ReceiverStream::new(rx)))
}

async fn send_meta(
    tx: &mpsc::Sender<Item>,
    meta: DownloadMetadata,
) -> std::result::Result<(), Status> {
    let msg = DownloadArchiveResponse {
        part: Some(download_archive_response::Part::Metadata(meta)),
    };
    tx.send(Ok(msg))
        .await
        .map_err(|_| Status::cancelled("the client went away"))
}

/// Ends a stream with the error, if sending failed.
pub(crate) fn finish<T>(tx: &mpsc::Sender<std::result::Result<T, Status>>, sent: Result<()>) {
    if let Err(e) = sent {
        tracing::warn!(error = %e, "stream failed");
        let _ = tx.blocking_send(Err(e.into()));
    }
}
