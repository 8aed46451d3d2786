//! The shared chunk store used by backup workers: dedup, seal, pack.

use std::collections::HashSet;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::blob::BlobSealer;
use crate::chunker::{ChunkReadError, Chunker};
use crate::crypto::Keys;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::index::Index;
use crate::packer::Packer;

/// Live counters shared by the workers.
#[derive(Debug, Default)]
pub struct Counters {
    /// Bytes read from files and streams.
    pub bytes_read: AtomicU64,
    /// Plaintext bytes of new chunks.
    pub bytes_new: AtomicU64,
    /// New chunks.
    pub chunks_new: AtomicU64,
    /// Chunks already stored.
    pub chunks_reused: AtomicU64,
    /// Files done.
    pub files_done: AtomicU64,
    /// Bytes of files taken from the files cache, not read.
    pub bytes_unchanged: AtomicU64,
}

/// Dedup + sealing + packing, shared by all backup threads.
pub(super) struct ChunkStore {
    pub(crate) keys: Arc<Keys>,
    pub(crate) chunker: Arc<Chunker>,
    pub(super) index: Arc<Index>,
    pending: Mutex<HashSet<Id>>,
    pub(crate) packer: Packer,
    pub(crate) counters: Counters,
    cancel: Option<Arc<AtomicBool>>,
    aborted: AtomicBool,
    level: i32,
    /// The span the backup runs in: the parent of the spans of the worker
    /// and stream threads, which do not inherit it.
    pub(super) span: tracing::Span,
}

impl ChunkStore {
    /// A store writing new chunks through `packer`.
    pub(super) fn new(
        keys: Arc<Keys>,
        chunker: Arc<Chunker>,
        index: Arc<Index>,
        packer: Packer,
        cancel: Option<Arc<AtomicBool>>,
        level: i32,
    ) -> ChunkStore {
        ChunkStore {
            keys,
            chunker,
            index,
            pending: Mutex::new(HashSet::new()),
            packer,
            counters: Counters::default(),
            cancel,
            aborted: AtomicBool::new(false),
            level,
            span: tracing::Span::current(),
        }
    }

    /// A sealer for one thread.
    pub(super) fn sealer(&self) -> BlobSealer {
        BlobSealer::new(self.level)
    }

    /// Whether the cancellation flag is set or the backup was aborted.
    pub(super) fn cancelled(&self) -> bool {
        self.aborted.load(Ordering::Relaxed)
            || self
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Stops all workers after a fatal error.
    pub(super) fn abort(&self) {
        self.aborted.store(true, Ordering::Relaxed);
    }

    /// Current progress figures.
    pub(super) fn progress(&self) -> super::Progress {
        super::Progress {
            bytes_read: self.counters.bytes_read.load(Ordering::Relaxed),
            files_done: self.counters.files_done.load(Ordering::Relaxed),
            bytes_unchanged: self.counters.bytes_unchanged.load(Ordering::Relaxed),
        }
    }

    /// Stores one chunk unless it is already known; returns its id.
    pub(super) fn store_chunk(&self, sealer: &mut BlobSealer, data: &[u8]) -> Result<Id> {
        if self.cancelled() {
            return Err(Error::Cancelled);
        }
        let id = self.keys.chunk_id(data);
        let c = &self.counters;
        if self.index.contains(&id) || !self.pending.lock().expect("pending poisoned").insert(id) {
            c.chunks_reused.fetch_add(1, Ordering::Relaxed);
            return Ok(id);
        }
        let blob = sealer.seal(&self.keys, id, data);
        c.chunks_new.fetch_add(1, Ordering::Relaxed);
        c.bytes_new.fetch_add(data.len() as u64, Ordering::Relaxed);
        self.packer.add(blob)?;
        Ok(id)
    }

    /// Chunks and stores everything `r` yields.
    pub(super) fn store_reader<R: Read + ?Sized>(
        &self,
        r: &mut R,
        buf: &mut Vec<u8>,
        sealer: &mut BlobSealer,
    ) -> std::result::Result<(Vec<Id>, u64), ChunkReadError> {
        let mut ids = Vec::new();
        let n = self.chunker.chunk_reader(r, buf, |chunk| {
            self.counters
                .bytes_read
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            ids.push(self.store_chunk(sealer, chunk)?);
            Ok(())
        })?;
        Ok((ids, n))
    }

    /// Stores an in-memory buffer (the encoded tree).
    pub(super) fn store_bytes(&self, data: &[u8], sealer: &mut BlobSealer) -> Result<Vec<Id>> {
        let mut ids = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            let n = self.chunker.cut(&data[pos..]);
            ids.push(self.store_chunk(sealer, &data[pos..pos + n])?);
            pos += n;
        }
        Ok(ids)
    }
}
