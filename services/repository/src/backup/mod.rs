//! Backing up file trees and named streams into a snapshot.
//!
//! The walk runs on the calling thread; regular files that the files cache
//! cannot vouch for go over a bounded queue to worker threads, which read,
//! chunk, hash, deduplicate, compress and encrypt; sealed blobs go to the
//! packer's writer thread. Named streams run on their own threads.

mod scan;
mod store;
mod types;
mod walk;
mod worker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossbeam_channel::{RecvTimeoutError, bounded, unbounded};

pub use scan::{ScanTotals, scan_sources};
use store::ChunkStore;
pub use store::Counters;
pub use types::{
    BackupOptions, BackupResult, BackupStats, Control, Progress, ProgressFn, StreamSource, Warning,
};
use types::{FileOutcome, validate};
pub(crate) use walk::rel_bytes as rel_path;
use walk::{Filters, Walked, walk};
use worker::{file_worker, same_file, store_stream};

use crate::error::{Error, Result};
use crate::id::SnapshotId;
use crate::packer::Packer;
use crate::repo::Repository;
use crate::snapshot::{self, Snapshot, SnapshotSummary};
use crate::tree::{self, Entry, EntryKind};

impl Repository {
    /// Backs up `opts.paths` and `streams` into a new snapshot.
    ///
    /// Data is written before the index and the index before the snapshot,
    /// so the snapshot id returned names durable, readable data (E1).
    pub fn backup(
        &self,
        opts: &BackupOptions,
        streams: Vec<StreamSource>,
        ctl: &Control,
    ) -> Result<BackupResult> {
        let started = Instant::now();
        validate(opts, &streams)?;
        let filters = Filters::new(&opts.include, &opts.exclude)?;
        let lock = self.lock(false)?;
        let index = Arc::new(self.load_index_recovering()?);
        let hostname = opts.hostname.clone().unwrap_or_else(crate::lock::hostname);
        let mut paths: Vec<String> = opts.paths.iter().map(|p| p.display().to_string()).collect();
        paths.sort();
        paths.dedup();
        let (parent_id, parent_tree) = self.parent_tree(opts, &index, &hostname, &paths)?;
        let parent_map: HashMap<&[u8], &Entry> = parent_tree
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| (e.path.as_slice(), e))
            .collect();

        let packer = Packer::new(
            self.backend.clone(),
            self.keys.clone(),
            self.config.pack_size as usize,
        );
        let store = Arc::new(ChunkStore::new(
            self.keys.clone(),
            self.chunker.clone(),
            index.clone(),
            packer,
            ctl.cancel.clone(),
            self.config.compression_level,
        ));
        let stream_threads: Vec<_> = streams
            .into_iter()
            .map(|s| {
                let store = store.clone();
                std::thread::spawn(move || store_stream(&store, s))
            })
            .collect();

        let threads = opts
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1);
        let (job_tx, job_rx) = bounded::<(usize, PathBuf)>(1024);
        let (res_tx, res_rx) = unbounded::<(usize, FileOutcome)>();
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (store, job_rx, res_tx) = (store.clone(), job_rx.clone(), res_tx.clone());
                std::thread::spawn(move || file_worker(&store, job_rx, res_tx))
            })
            .collect();
        drop(res_tx);

        let mut entries: Vec<Entry> = Vec::new();
        let mut warnings = Vec::new();
        let mut unchanged = 0u64;
        let cancelled = || store.cancelled();
        let mut walk_err = None;
        for root in &opts.paths {
            let r = walk(root, &filters, &mut warnings, &cancelled, |w| {
                match w {
                    Walked::Done(e) => entries.push(e),
                    Walked::File(mut e, path) => {
                        if !opts.no_files_cache
                            && let Some(p) = parent_map.get(e.path.as_slice())
                            && same_file(p, &e)
                            && p.chunks.iter().all(|c| index.contains(c))
                        {
                            e.chunks = p.chunks.clone();
                            unchanged += 1;
                            store.counters.files_done.fetch_add(1, Ordering::Relaxed);
                            store
                                .counters
                                .bytes_unchanged
                                .fetch_add(e.size, Ordering::Relaxed);
                            entries.push(e);
                            return Ok(());
                        }
                        entries.push(e);
                        job_tx.send((entries.len() - 1, path)).map_err(|_| {
                            Error::io("backup workers", std::io::Error::other("workers stopped"))
                        })?;
                    }
                }
                Ok(())
            });
            if let Err(e) = r {
                walk_err = Some(e);
                break;
            }
        }
        drop(job_tx);

        let mut fatal = walk_err;
        let mut skipped = vec![false; entries.len()];
        let mut last_progress = Instant::now();
        loop {
            match res_rx.recv_timeout(Duration::from_millis(100)) {
                Ok((i, FileOutcome::Stored(chunks, size))) => {
                    entries[i].chunks = chunks;
                    entries[i].size = size;
                }
                Ok((i, FileOutcome::Skipped(msg))) => {
                    skipped[i] = true;
                    warnings.push(Warning {
                        path: PathBuf::from(format!("/{}", entries[i].path_lossy())),
                        message: msg,
                    });
                }
                Ok((_, FileOutcome::Fatal(e))) => {
                    store.abort();
                    fatal.get_or_insert(e);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if let Some(cb) = &ctl.progress
                && last_progress.elapsed() >= Duration::from_millis(100)
            {
                last_progress = Instant::now();
                cb(&store.progress());
            }
        }
        for w in workers {
            w.join().expect("backup worker panicked");
        }
        for t in stream_threads {
            match t.join().expect("stream thread panicked") {
                Ok(e) => entries.push(e),
                Err(e) => {
                    store.abort();
                    fatal.get_or_insert(e);
                }
            }
        }
        if store.cancelled() && fatal.is_none() {
            fatal = Some(Error::Cancelled);
        }
        let mut i = 0;
        entries.retain(|_| {
            i += 1;
            skipped.get(i - 1) != Some(&true)
        });
        entries.sort_by(|a, b| {
            (a.kind == EntryKind::Stream, &a.path).cmp(&(b.kind == EntryKind::Stream, &b.path))
        });
        entries.dedup_by(|a, b| a.path == b.path && a.kind == b.kind);

        let tree_ids = if fatal.is_none() {
            let mut sealer = store.sealer();
            match store.store_bytes(&tree::encode(&entries), &mut sealer) {
                Ok(ids) => Some(ids),
                Err(e) => {
                    fatal = Some(e);
                    None
                }
            }
        } else {
            None
        };
        // Flush packs and index even on failure: the next backup reuses them.
        let store = Arc::try_unwrap(store).unwrap_or_else(|_| panic!("chunk store still shared"));
        let c = &store.counters;
        let (chunks_new, chunks_reused) = (
            c.chunks_new.load(Ordering::Relaxed),
            c.chunks_reused.load(Ordering::Relaxed),
        );
        let (bytes_read, bytes_new) = (
            c.bytes_read.load(Ordering::Relaxed),
            c.bytes_new.load(Ordering::Relaxed),
        );
        let outcome = store.packer.finish();
        if let Some(e) = fatal {
            return Err(e);
        }
        let outcome = outcome?;
        lock.refresh_if_due()?;

        let mut stats = BackupStats {
            files_unchanged: unchanged,
            bytes_read,
            bytes_new,
            stored_bytes_added: outcome.stored_bytes,
            chunks_new,
            chunks_reused,
            ..Default::default()
        };
        let mut stream_names = Vec::new();
        for e in &entries {
            match e.kind {
                EntryKind::File => stats.files += 1,
                EntryKind::Dir => stats.dirs += 1,
                EntryKind::Symlink => stats.symlinks += 1,
                EntryKind::Stream => {
                    stats.streams += 1;
                    stream_names.push(e.path_lossy());
                }
            }
            stats.total_bytes += e.size;
        }
        let snap = Snapshot {
            time: opts.time.unwrap_or_else(Utc::now),
            hostname,
            paths,
            tags: opts.tags.clone(),
            labels: opts.labels.clone(),
            streams: stream_names,
            tree: tree_ids.expect("tree stored"),
            parent: parent_id,
            summary: SnapshotSummary {
                files: stats.files,
                dirs: stats.dirs,
                symlinks: stats.symlinks,
                streams: stats.streams,
                total_bytes: stats.total_bytes,
                bytes_new: stats.bytes_new,
                stored_bytes_added: stats.stored_bytes_added,
            },
        };
        let snapshot_id = snapshot::save(&*self.backend, &self.keys, &snap)?;
        drop(lock);
        stats.duration = started.elapsed();
        if let Some(cb) = &ctl.progress {
            cb(&Progress {
                bytes_read: stats.bytes_read,
                files_done: stats.files,
                bytes_unchanged: stats.total_bytes.saturating_sub(stats.bytes_read),
            });
        }
        tracing::info!(snapshot = %snapshot_id, files = stats.files, bytes_new = stats.bytes_new, "backup complete");
        Ok(BackupResult {
            snapshot_id,
            stats,
            warnings,
        })
    }

    /// Stores `entries` as a new snapshot without reading any files
    /// (entries' chunk lists must already be stored). Meant for tests and
    /// tools that rewrite snapshots.
    #[doc(hidden)]
    pub fn commit_entries(
        &self,
        mut entries: Vec<Entry>,
        opts: BackupOptions,
    ) -> Result<SnapshotId> {
        let _lock = self.lock(false)?;
        let index = Arc::new(self.load_index()?);
        let packer = Packer::new(
            self.backend.clone(),
            self.keys.clone(),
            self.config.pack_size as usize,
        );
        let store = ChunkStore::new(
            self.keys.clone(),
            self.chunker.clone(),
            index,
            packer,
            None,
            1,
        );
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let tree = store.store_bytes(&tree::encode(&entries), &mut store.sealer())?;
        store.packer.finish()?;
        let snap = Snapshot {
            time: opts.time.unwrap_or_else(Utc::now),
            hostname: opts.hostname.unwrap_or_else(crate::lock::hostname),
            paths: Vec::new(),
            tags: opts.tags,
            labels: opts.labels,
            streams: Vec::new(),
            tree,
            parent: None,
            summary: SnapshotSummary::default(),
        };
        snapshot::save(&*self.backend, &self.keys, &snap)
    }

    fn parent_tree(
        &self,
        opts: &BackupOptions,
        index: &crate::index::Index,
        hostname: &str,
        paths: &[String],
    ) -> Result<(Option<SnapshotId>, Vec<Entry>)> {
        if opts.no_files_cache {
            return Ok((None, Vec::new()));
        }
        let id = match opts.parent {
            Some(id) => Some(id),
            None => self
                .list_snapshots()?
                .into_iter()
                .rev()
                .find(|s| s.snapshot.hostname == hostname && s.snapshot.paths == paths)
                .map(|s| s.id),
        };
        let Some(id) = id else {
            return Ok((None, Vec::new()));
        };
        let snap = self.snapshot(&id)?;
        match self.load_tree(index, &snap) {
            Ok(t) => Ok((Some(id), t)),
            Err(e) => {
                tracing::warn!(parent = %id, error = %e, "parent tree unreadable, reading all files");
                Ok((None, Vec::new()))
            }
        }
    }
}
