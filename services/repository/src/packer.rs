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

struct Current {
    blobs: Vec<SealedBlob>,
    size: usize,
}

/// A concurrent pack builder with a background writer.
pub struct Packer {
    current: Mutex<Current>,
    pack_size: usize,
    tx: Option<Sender<Vec<SealedBlob>>>,
    writer: Option<JoinHandle<Result<PackerOutcome>>>,
    failed: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
}

impl std::fmt::Debug for Packer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Packer")
    }
}

impl Packer {
    /// Starts the writer thread.
    pub fn new(backend: Arc<dyn Backend>, keys: Arc<Keys>, pack_size: usize) -> Packer {
        let (tx, rx) = bounded::<Vec<SealedBlob>>(1);
        let failed = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let (f2, w2) = (failed.clone(), written.clone());
        let writer = std::thread::Builder::new()
            .name("vigil-pack-writer".into())
            .spawn(move || {
                let mut out = PackerOutcome::default();
                let mut unindexed: Vec<(Id, Vec<BlobEntry>)> = Vec::new();
                let mut err = None;
                for blobs in rx {
                    if err.is_some() {
                        continue;
                    }
                    let res =
                        write_pack(&*backend, &keys, &blobs).and_then(|(name, entries, size)| {
                            w2.fetch_add(size, Ordering::Relaxed);
                            out.stored_bytes += size;
                            unindexed.push((name, entries.clone()));
                            out.packs.push((name, entries));
                            if unindexed.len() >= INDEX_EVERY {
                                out.index_files
                                    .push(write_index_file(&*backend, &keys, &unindexed)?);
                                unindexed.clear();
                            }
                            Ok(())
                        });
                    if let Err(e) = res {
                        f2.store(true, Ordering::SeqCst);
                        err = Some(e);
                    }
                }
                if let Some(e) = err {
                    return Err(e);
                }
                if !unindexed.is_empty() {
                    out.index_files
                        .push(write_index_file(&*backend, &keys, &unindexed)?);
                }
                Ok(out)
            })
            .expect("spawn pack writer");
        Packer {
            current: Mutex::new(Current {
                blobs: Vec::new(),
                size: 0,
            }),
            pack_size,
            tx: Some(tx),
            writer: Some(writer),
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

    /// Flushes the last pack, waits for the writer and its index files.
    pub fn finish(mut self) -> Result<PackerOutcome> {
        let rest = std::mem::take(&mut self.current.lock().expect("packer poisoned").blobs);
        let sent = if rest.is_empty() {
            Ok(())
        } else {
            self.send(rest)
        };
        drop(self.tx.take());
        let out = self
            .writer
            .take()
            .expect("writer")
            .join()
            .expect("pack writer panicked");
        sent.and(out)
    }
}

impl Drop for Packer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// Writes one pack durably; returns its name, entries and size.
pub fn write_pack(
    backend: &dyn Backend,
    keys: &Keys,
    blobs: &[SealedBlob],
) -> Result<(Id, Vec<BlobEntry>, u64)> {
    let name = Id::random();
    let mut entries = Vec::with_capacity(blobs.len());
    let mut off = PACK_MAGIC.len() as u64;
    for b in blobs {
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
    let mut parts: Vec<&[u8]> = Vec::with_capacity(blobs.len() + 2);
    parts.push(PACK_MAGIC);
    parts.extend(blobs.iter().map(|b| b.data.as_slice()));
    parts.push(&t);
    backend.put_atomic(FileKind::Pack, &name.to_hex(), &parts)?;
    Ok((name, entries, off + t.len() as u64))
}
