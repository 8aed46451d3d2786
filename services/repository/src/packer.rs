//! Collecting sealed blobs into pack files on a background writer thread.
//!
//! Workers append blobs under a short mutex; a full pack is handed over a
//! bounded channel (memory stays bounded) to the writer thread, which
//! writes it atomically and durably, then writes an index file for every
//! [`INDEX_EVERY`] packs and once more at the end. A pack is thus durable
//! before any index names it, and any index before the snapshot using it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, bounded};

use crate::backend::{Backend, FileKind};
use crate::blob::SealedBlob;
use crate::crypto::Keys;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::index::write_index_file;
use crate::pack::{BlobEntry, PACK_MAGIC, trailer};

/// Packs per index file while a backup runs.
pub const INDEX_EVERY: usize = 16;

/// What the writer produced.
#[derive(Debug, Default)]
pub struct PackerOutcome {
    /// Every pack written with its entries.
    pub packs: Vec<(Id, Vec<BlobEntry>)>,
    /// Index files written.
    pub index_files: Vec<String>,
    /// Bytes written to packs.
    pub stored_bytes: u64,
}

#[derive(Default)]
struct Shared {
    out: PackerOutcome,
    unindexed: Vec<(Id, Vec<BlobEntry>)>,
    err: Option<Error>,
}

struct Current {
    blobs: Vec<SealedBlob>,
    size: usize,
}

/// A concurrent pack builder with a background writer.
pub struct Packer {
    current: Mutex<Current>,
    pack_size: usize,
    tx: Option<Sender<Vec<SealedBlob>>>,
    writers: Vec<JoinHandle<()>>,
    shared: Arc<Mutex<Shared>>,
    backend: Arc<dyn Backend>,
    keys: Arc<Keys>,
    failed: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
}

impl std::fmt::Debug for Packer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Packer")
    }
}

impl Packer {
    /// Starts one writer thread per [`Backend::write_parallelism`]: while
    /// one waits for `fsync` or an upload, another fills the page cache or
    /// the network, so the storage and the CPUs both stay busy. Memory
    /// stays bounded: each writer holds one pack, the queue one more.
    pub fn new(backend: Arc<dyn Backend>, keys: Arc<Keys>, pack_size: usize) -> Packer {
        let (tx, rx) = bounded::<Vec<SealedBlob>>(1);
        let failed = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Mutex::new(Shared::default()));
        // Writer threads do not inherit the caller's span; each gets a child.
        let parent = tracing::Span::current();
        let writers = (0..backend.write_parallelism().max(1))
            .map(|_| {
                let (rx, backend, keys, shared) =
                    (rx.clone(), backend.clone(), keys.clone(), shared.clone());
                let (failed, written) = (failed.clone(), written.clone());
                let span = tracing::info_span!(
                    parent: &parent,
                    "upload",
                    packs = 0u64,
                    bytes_written = 0u64,
                );
                std::thread::Builder::new()
                    .name("vigil-pack-writer".into())
                    .spawn(move || {
                        let _entered = span.enter();
                        let (mut packs, mut bytes) = (0u64, 0u64);
                        for blobs in rx {
                            if failed.load(Ordering::Relaxed) {
                                continue;
                            }
                            let res = write_pack(&*backend, &keys, blobs).and_then(
                                |(name, entries, size)| {
                                    written.fetch_add(size, Ordering::Relaxed);
                                    packs += 1;
                                    bytes += size;
                                    span.record("packs", packs);
                                    span.record("bytes_written", bytes);
                                    let mut sh = shared.lock().expect("packer state");
                                    sh.out.stored_bytes += size;
                                    sh.unindexed.push((name, entries.clone()));
                                    sh.out.packs.push((name, entries));
                                    if sh.unindexed.len() >= INDEX_EVERY {
                                        let f = write_index_file(&*backend, &keys, &sh.unindexed)?;
                                        sh.out.index_files.push(f);
                                        sh.unindexed.clear();
                                    }
                                    Ok(())
                                },
                            );
                            if let Err(e) = res {
                                failed.store(true, Ordering::SeqCst);
                                shared.lock().expect("packer state").err.get_or_insert(e);
                            }
                        }
                    })
                    .expect("spawn pack writer")
            })
            .collect();
        Packer {
            current: Mutex::new(Current {
                blobs: Vec::new(),
                size: 0,
            }),
            pack_size,
            tx: Some(tx),
            writers,
            shared,
            backend,
            keys,
            failed,
            written,
        }
    }

    /// Appends a blob; hands a full pack to the writer (may block).
    pub fn add(&self, blob: SealedBlob) -> Result<()> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(Error::io(
                "pack writer",
                std::io::Error::other("pack writer failed"),
            ));
        }
        let full = {
            let mut cur = self.current.lock().expect("packer poisoned");
            cur.size += blob.data.len();
            cur.blobs.push(blob);
            if cur.size >= self.pack_size {
                cur.size = 0;
                Some(std::mem::take(&mut cur.blobs))
            } else {
                None
            }
        };
        if let Some(blobs) = full {
            self.send(blobs)?;
        }
        Ok(())
    }

    fn send(&self, blobs: Vec<SealedBlob>) -> Result<()> {
        let tx = self.tx.as_ref().expect("packer open");
        tx.send(blobs)
            .map_err(|_| Error::io("pack writer", std::io::Error::other("pack writer stopped")))
    }

    /// Bytes written to packs so far.
    pub fn written_bytes(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Flushes the last pack, waits for the writers, writes the index for
    /// the remaining packs.
    pub fn finish(mut self) -> Result<PackerOutcome> {
        let span = tracing::info_span!("index", index_files = tracing::field::Empty);
        let _entered = span.enter();
        let rest = std::mem::take(&mut self.current.lock().expect("packer poisoned").blobs);
        let sent = if rest.is_empty() {
            Ok(())
        } else {
            self.send(rest)
        };
        drop(self.tx.take());
        for w in self.writers.drain(..) {
            w.join().expect("pack writer panicked");
        }
        let mut sh = std::mem::take(&mut *self.shared.lock().expect("packer state"));
        if let Some(e) = sh.err.take() {
            return Err(e);
        }
        if !sh.unindexed.is_empty() {
            sh.out
                .index_files
                .push(write_index_file(&*self.backend, &self.keys, &sh.unindexed)?);
        }
        span.record("index_files", sh.out.index_files.len());
        sent.map(|_| sh.out)
    }
}

impl Drop for Packer {
    fn drop(&mut self) {
        drop(self.tx.take());
        for w in self.writers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Writes one pack durably; returns its name, entries and size.
pub fn write_pack(
    backend: &dyn Backend,
    keys: &Keys,
    blobs: Vec<SealedBlob>,
) -> Result<(Id, Vec<BlobEntry>, u64)> {
    let name = Id::random();
    let mut entries = Vec::with_capacity(blobs.len());
    let mut off = PACK_MAGIC.len() as u64;
    for b in &blobs {
        entries.push(BlobEntry {
            id: b.id,
            offset: off as u32,
            len: b.data.len() as u32,
            raw_len: b.raw_len,
            compressed: b.compressed,
        });
        off += b.data.len() as u64;
    }
    let t = trailer(keys, &entries);
    let size = off + t.len() as u64;
    let mut parts: Vec<Vec<u8>> = Vec::with_capacity(blobs.len() + 2);
    parts.push(PACK_MAGIC.to_vec());
    parts.extend(blobs.into_iter().map(|b| b.data));
    parts.push(t);
    backend.put_parts(FileKind::Pack, &name.to_hex(), parts)?;
    Ok((name, entries, size))
}
