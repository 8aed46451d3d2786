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
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded, unbounded};

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
use crate::id::{Id, SnapshotId};
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
        let pipeline = Pipeline::start(&store, streams, opts.threads);
        let mut walked = Walk::default();
        let walk_err = walked.walk_roots(opts, &filters, &parent_map, &store, &pipeline.jobs);
        let (entries, tree_ids, fatal) = pipeline.finish(&store, walked, walk_err, ctl);
        // Flush packs and index even on failure: the next backup reuses them.
        let store = Arc::try_unwrap(store).unwrap_or_else(|_| panic!("chunk store still shared"));
        let mut stats = BackupStats::from_counters(&store.counters);
        let outcome = store.packer.finish();
        if let Some(e) = fatal {
            return Err(e);
        }
        stats.stored_bytes_added = outcome?.stored_bytes;
        stats.files_unchanged = entries.unchanged;
        lock.refresh_if_due()?;

        let stream_names = stats.tally(&entries.list);
        let snap = Snapshot {
            time: opts.time.unwrap_or_else(Utc::now),
            hostname,
            paths,
            tags: opts.tags.clone(),
            labels: opts.labels.clone(),
            streams: stream_names,
            tree: tree_ids.expect("tree stored"),
            parent: parent_id,
            summary: stats.summary(),
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
            warnings: entries.warnings,
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

/// The entries of a backup as the walk finds them, with what the walk and
/// the workers warned about.
#[derive(Default)]
struct Walk {
    list: Vec<Entry>,
    warnings: Vec<Warning>,
    /// Files taken from the parent snapshot unread, by the files cache.
    unchanged: u64,
}

impl Walk {
    /// Walks every root: files the files cache vouches for take the parent's
    /// chunks, the others go to the workers by their index in `list`.
    fn walk_roots(
        &mut self,
        opts: &BackupOptions,
        filters: &Filters,
        parent_map: &HashMap<&[u8], &Entry>,
        store: &ChunkStore,
        jobs: &Sender<(usize, PathBuf)>,
    ) -> Option<Error> {
        let cancelled = || store.cancelled();
        for root in &opts.paths {
            let r = walk(root, filters, &mut self.warnings, &cancelled, |w| {
                match w {
                    Walked::Done(e) => self.list.push(e),
                    Walked::File(mut e, path) => {
                        if !opts.no_files_cache
                            && let Some(p) = parent_map.get(e.path.as_slice())
                            && same_file(p, &e)
                            && p.chunks.iter().all(|c| store.index.contains(c))
                        {
                            e.chunks = p.chunks.clone();
                            self.unchanged += 1;
                            store.counters.files_done.fetch_add(1, Ordering::Relaxed);
                            store
                                .counters
                                .bytes_unchanged
                                .fetch_add(e.size, Ordering::Relaxed);
                            self.list.push(e);
                            return Ok(());
                        }
                        self.list.push(e);
                        jobs.send((self.list.len() - 1, path)).map_err(|_| {
                            Error::io("backup workers", std::io::Error::other("workers stopped"))
                        })?;
                    }
                }
                Ok(())
            });
            if let Err(e) = r {
                return Some(e);
            }
        }
        None
    }

    /// Drops the files the workers skipped, and sorts: files, directories
    /// and links by path, then streams.
    fn settle(&mut self, skipped: &[bool]) {
        let mut i = 0;
        self.list.retain(|_| {
            i += 1;
            skipped.get(i - 1) != Some(&true)
        });
        self.list.sort_by(|a, b| {
            (a.kind == EntryKind::Stream, &a.path).cmp(&(b.kind == EntryKind::Stream, &b.path))
        });
        self.list
            .dedup_by(|a, b| a.path == b.path && a.kind == b.kind);
    }
}

/// The threads of a backup: file workers fed by the walk, and one thread
/// per named stream.
struct Pipeline {
    jobs: Sender<(usize, PathBuf)>,
    results: Receiver<(usize, FileOutcome)>,
    workers: Vec<JoinHandle<()>>,
    streams: Vec<JoinHandle<Result<Entry>>>,
}

impl Pipeline {
    fn start(store: &Arc<ChunkStore>, streams: Vec<StreamSource>, threads: Option<usize>) -> Self {
        let streams = streams
            .into_iter()
            .map(|s| {
                let store = store.clone();
                std::thread::spawn(move || store_stream(&store, s))
            })
            .collect();
        let threads = threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1);
        let (jobs, job_rx) = bounded::<(usize, PathBuf)>(1024);
        let (res_tx, results) = unbounded::<(usize, FileOutcome)>();
        let workers = (0..threads)
            .map(|_| {
                let (store, job_rx, res_tx) = (store.clone(), job_rx.clone(), res_tx.clone());
                std::thread::spawn(move || file_worker(&store, job_rx, res_tx))
            })
            .collect();
        Pipeline {
            jobs,
            results,
            workers,
            streams,
        }
    }

    /// Collects the workers' results into `walked` while reporting
    /// progress, joins every thread, and stores the tree unless something
    /// failed. Returns the entries, the tree's blob ids and the first
    /// failure.
    fn finish(
        self,
        store: &ChunkStore,
        mut walked: Walk,
        walk_err: Option<Error>,
        ctl: &Control,
    ) -> (Walk, Option<Vec<Id>>, Option<Error>) {
        drop(self.jobs);
        let mut fatal = walk_err;
        let mut skipped = vec![false; walked.list.len()];
        let mut last_progress = Instant::now();
        loop {
            match self.results.recv_timeout(Duration::from_millis(100)) {
                Ok((i, FileOutcome::Stored(chunks, size))) => {
                    walked.list[i].chunks = chunks;
                    walked.list[i].size = size;
                }
                Ok((i, FileOutcome::Skipped(msg))) => {
                    skipped[i] = true;
                    walked.warnings.push(Warning {
                        path: PathBuf::from(format!("/{}", walked.list[i].path_lossy())),
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
        for w in self.workers {
            w.join().expect("backup worker panicked");
        }
        for t in self.streams {
            match t.join().expect("stream thread panicked") {
                Ok(e) => walked.list.push(e),
                Err(e) => {
                    store.abort();
                    fatal.get_or_insert(e);
                }
            }
        }
        if store.cancelled() && fatal.is_none() {
            fatal = Some(Error::Cancelled);
        }
        walked.settle(&skipped);
        if fatal.is_some() {
            return (walked, None, fatal);
        }
        let mut sealer = store.sealer();
        match store.store_bytes(&tree::encode(&walked.list), &mut sealer) {
            Ok(ids) => (walked, Some(ids), None),
            Err(e) => (walked, None, Some(e)),
        }
    }
}

impl BackupStats {
    /// The chunk and byte counts of a finished run.
    fn from_counters(c: &Counters) -> Self {
        BackupStats {
            bytes_read: c.bytes_read.load(Ordering::Relaxed),
            bytes_new: c.bytes_new.load(Ordering::Relaxed),
            chunks_new: c.chunks_new.load(Ordering::Relaxed),
            chunks_reused: c.chunks_reused.load(Ordering::Relaxed),
            ..Default::default()
        }
    }

    /// Counts the snapshot's entries by kind and their bytes; returns the
    /// names of its streams.
    fn tally(&mut self, entries: &[Entry]) -> Vec<String> {
        let mut stream_names = Vec::new();
        for e in entries {
            match e.kind {
                EntryKind::File => self.files += 1,
                EntryKind::Dir => self.dirs += 1,
                EntryKind::Symlink => self.symlinks += 1,
                EntryKind::Stream => {
                    self.streams += 1;
                    stream_names.push(e.path_lossy());
                }
            }
            self.total_bytes += e.size;
        }
        stream_names
    }

    /// The summary a snapshot records of its run.
    fn summary(&self) -> SnapshotSummary {
        SnapshotSummary {
            files: self.files,
            dirs: self.dirs,
            symlinks: self.symlinks,
            streams: self.streams,
            total_bytes: self.total_bytes,
            bytes_new: self.bytes_new,
            stored_bytes_added: self.stored_bytes_added,
        }
    }
}
