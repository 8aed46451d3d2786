//! Backup worker threads: files from the queue, and named streams.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use chrono::Utc;

use super::store::ChunkStore;
use super::types::{FileOutcome, StreamSource};
use crate::chunker::ChunkReadError;
use crate::error::{Error, Result};
use crate::tree::{Entry, EntryKind};

pub(crate) fn same_file(p: &Entry, e: &Entry) -> bool {
    p.ino == e.ino
        && p.size == e.size
        && p.mtime == e.mtime
        && p.mtime_ns == e.mtime_ns
        && p.ctime == e.ctime
        && p.ctime_ns == e.ctime_ns
}

pub(crate) fn file_worker(
    store: &ChunkStore,
    jobs: crossbeam_channel::Receiver<(usize, PathBuf)>,
    results: crossbeam_channel::Sender<(usize, FileOutcome)>,
) {
    let span = tracing::info_span!(
        parent: &store.span,
        "read_and_chunk",
        files = 0u64,
        bytes_read = 0u64,
    );
    let _entered = span.enter();
    let (mut files, mut bytes_read) = (0u64, 0u64);
    let mut buf = Vec::new();
    let mut sealer = store.sealer();
    for (i, path) in jobs {
        if store.cancelled() {
            continue;
        }
        let out = match OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
        {
            Err(e) => FileOutcome::Skipped(format!("cannot open: {e}")),
            Ok(mut f) => match store.store_reader(&mut f, &mut buf, &mut sealer) {
                Ok((ids, n)) => FileOutcome::Stored(ids, n),
                Err(ChunkReadError::Read(e)) => FileOutcome::Skipped(format!("read failed: {e}")),
                Err(ChunkReadError::Sink(e)) => FileOutcome::Fatal(e),
            },
        };
        store.counters.files_done.fetch_add(1, Ordering::Relaxed);
        files += 1;
        if let FileOutcome::Stored(_, n) = &out {
            bytes_read += n;
        }
        span.record("files", files);
        span.record("bytes_read", bytes_read);
        if results.send((i, out)).is_err() {
            return;
        }
    }
}

pub(crate) fn store_stream(store: &ChunkStore, mut s: StreamSource) -> Result<Entry> {
    // A stream is a database dump read as the tool writes it.
    let span = tracing::info_span!(
        parent: &store.span,
        "dump",
        stream = %s.name,
        bytes_read = tracing::field::Empty,
    );
    let _entered = span.enter();
    let mut buf = Vec::new();
    let mut sealer = store.sealer();
    let (ids, n) = store
        .store_reader(&mut s.reader, &mut buf, &mut sealer)
        .map_err(|e| match e {
            ChunkReadError::Read(e) => Error::io(format!("stream {}", s.name), e),
            ChunkReadError::Sink(e) => e,
        })?;
    span.record("bytes_read", n);
    let now = Utc::now();
    let mut e = Entry::new(EntryKind::Stream, s.name.into_bytes());
    e.mode = 0o100600;
    e.mtime = now.timestamp();
    e.mtime_ns = now.timestamp_subsec_nanos();
    e.size = n;
    e.chunks = ids;
    Ok(e)
}
