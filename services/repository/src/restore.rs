//! Restoring snapshots into a directory, and streaming single entries.
//!
//! Order: directories first (created 0700), then files in parallel, sorted
//! by where their first chunk lives so packs are read mostly sequentially,
//! then symlinks, then directory metadata deepest first. A file whose data
//! cannot be read or fails its checks is removed and reported; the others
//! are still restored.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::backup::{Control, Progress};
use crate::error::{Error, Result};
use crate::id::SnapshotId;
use crate::index::Index;
use crate::repo::Repository;
use crate::safe_fs::{Meta, Target, components};
use crate::tree::{Entry, EntryKind};

/// Options for [`Repository::restore`].
#[derive(Clone, Debug, Default)]
pub struct RestoreOptions {
    /// Only restore these paths (as backed up, e.g. `/srv/docs`) and what
    /// is below them; empty means everything.
    pub paths: Vec<PathBuf>,
    /// Replace existing files and symlinks in the target.
    pub overwrite: bool,
    /// Worker threads (default: the backend's read parallelism, 4 for a
    /// local directory, 16 for an object store).
    pub threads: Option<usize>,
}

/// A per-entry restore failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreError {
    /// Stored path of the entry.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// The outcome of a restore.
#[derive(Clone, Debug, Default)]
pub struct RestoreReport {
    /// Files restored completely.
    pub files: u64,
    /// Directories restored.
    pub dirs: u64,
    /// Symlinks restored.
    pub symlinks: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Entries that failed; empty on full success.
    pub errors: Vec<RestoreError>,
    /// Streams in the selection (use [`Repository::restore_entry`]).
    pub streams_not_restored: Vec<String>,
}

/// Whether `e` is selected: a selected path, below one, or a directory
/// above one (so its metadata is restored too).
fn selected(e: &Entry, sel: &[Vec<u8>]) -> bool {
    let below = |a: &[u8], b: &[u8]| a.starts_with(b) && a.get(b.len()) == Some(&b'/');
    sel.is_empty()
        || sel.iter().any(|s| {
            e.path == *s || below(&e.path, s) || (e.kind == EntryKind::Dir && below(s, &e.path))
        })
}

fn meta_of(e: &Entry, owner: bool) -> Meta {
    Meta {
        mode: e.mode,
        mtime: (e.mtime, e.mtime_ns),
        owner: owner.then_some((e.uid, e.gid)),
    }
}

impl Repository {
    /// Restores a snapshot (or `opts.paths` of it) below `target`.
    ///
    /// Never writes outside `target` and never replaces existing files
    /// unless `opts.overwrite` (E4). Returns `Ok` with per-entry errors when
    /// some entries failed; check [`RestoreReport::errors`].
    pub fn restore(
        &self,
        snapshot: &SnapshotId,
        target: &Path,
        opts: &RestoreOptions,
        ctl: &Control,
    ) -> Result<RestoreReport> {
        let _lock = self.lock(false)?;
        let snap = self.snapshot(snapshot)?;
        let index = self.load_index()?;
        let tree = self.load_tree(&index, &snap)?;
        let sel: Vec<Vec<u8>> = opts
            .paths
            .iter()
            .map(|p| crate::backup::rel_path(p))
            .collect();
        let owner = rustix::process::geteuid().is_root();
        let umask = crate::safe_fs::current_umask();
        let target = Target::open(target)?;
        let mut report = RestoreReport::default();
        let entries: Vec<&Entry> = tree.iter().filter(|e| selected(e, &sel)).collect();
        let fail = |e: &Entry, err: Error, report: &mut RestoreReport| {
            report.errors.push(RestoreError {
                path: e.path_lossy(),
                message: err.to_string(),
            });
        };

        let mut dirs = Vec::new();
        for e in entries.iter().filter(|e| e.kind == EntryKind::Dir) {
            match components(&e.path).and_then(|c| target.dir(&c)) {
                Ok(_) => dirs.push(*e),
                Err(err) => fail(e, err, &mut report),
            }
        }
        let mut files: Vec<&Entry> = entries
            .iter()
            .copied()
            .filter(|e| e.kind == EntryKind::File)
            .collect();
        // Work is handed out one directory at a time: creating files in one
        // directory from several threads serialises on its lock in the
        // kernel, while different directories proceed in parallel.
        let parent =
            |e: &Entry| e.path[..e.path.iter().rposition(|&b| b == b'/').unwrap_or(0)].to_vec();
        files.sort_by_cached_key(|e| parent(e));
        let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
        for (i, e) in files.iter().enumerate() {
            match groups.last_mut() {
                Some(g) if parent(files[g.start]) == parent(e) => g.end = i + 1,
                _ => groups.push(i..i + 1),
            }
        }
        groups.sort_by_key(|g| {
            std::cmp::Reverse(files[g.clone()].iter().map(|e| e.size).sum::<u64>())
        });
        let next = AtomicUsize::new(0);
        let (bytes, done) = (AtomicU64::new(0), AtomicU64::new(0));
        let errors = Mutex::new(Vec::new());
        let threads = opts
            .threads
            .unwrap_or_else(|| self.backend.read_parallelism())
            .max(1);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut mine = 0..0;
                    loop {
                        if mine.is_empty() {
                            match groups.get(next.fetch_add(1, Ordering::Relaxed)) {
                                Some(g) => mine = g.clone(),
                                None => break,
                            }
                        }
                        let e = files[mine.start];
                        mine.start += 1;
                        if ctl
                            .cancel
                            .as_ref()
                            .is_some_and(|c| c.load(Ordering::Relaxed))
                        {
                            break;
                        }
                        match self.restore_file(&index, &target, e, opts.overwrite, owner, umask) {
                            Ok(n) => {
                                bytes.fetch_add(n, Ordering::Relaxed);
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(err) => errors.lock().expect("errors").push(RestoreError {
                                path: e.path_lossy(),
                                message: err.to_string(),
                            }),
                        }
                    }
                });
            }
            if let Some(cb) = &ctl.progress {
                while next.load(Ordering::Relaxed) < groups.len() {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    cb(&Progress {
                        bytes_read: bytes.load(Ordering::Relaxed),
                        files_done: done.load(Ordering::Relaxed),
                    });
                }
            }
        });
        if ctl
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(Error::Cancelled);
        }
        report.errors.extend(errors.into_inner().expect("errors"));
        report.files = done.load(Ordering::Relaxed);
        report.bytes = bytes.load(Ordering::Relaxed);

        for e in entries.iter().filter(|e| e.kind == EntryKind::Symlink) {
            match target.create_symlink(&e.path, &e.target, opts.overwrite, &meta_of(e, owner)) {
                Ok(()) => report.symlinks += 1,
                Err(err) => fail(e, err, &mut report),
            }
        }
        for e in entries.iter().filter(|e| e.kind == EntryKind::Stream) {
            report.streams_not_restored.push(e.path_lossy());
        }
        for e in dirs.iter().rev() {
            let r = components(&e.path)
                .and_then(|c| target.dir(&c))
                .and_then(|fd| Target::apply_meta(&*fd, &meta_of(e, owner), &e.path, false));
            match r {
                Ok(()) => report.dirs += 1,
                Err(err) => fail(e, err, &mut report),
            }
        }
        report.errors.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(report)
    }

    fn restore_file(
        &self,
        index: &Index,
        target: &Target,
        e: &Entry,
        overwrite: bool,
        owner: bool,
        umask: Option<u32>,
    ) -> Result<u64> {
        let (mode, mode_set) = crate::safe_fs::creation_mode(e.mode, umask);
        let mut f = target.create_file(&e.path, overwrite, mode)?;
        let res = (|| -> Result<u64> {
            let mut n = 0u64;
            for id in &e.chunks {
                let data = self.read_chunk_with(index, id, false)?;
                f.write_all(&data)
                    .map_err(|err| Error::io(e.path_lossy(), err))?;
                n += data.len() as u64;
            }
            Target::apply_meta(&f, &meta_of(e, owner), &e.path, mode_set)?;
            Ok(n)
        })();
        if res.is_err() {
            drop(f);
            let _ = target.remove_file(&e.path);
        }
        res
    }

    /// Writes one file or stream entry of a snapshot to `w` (e.g. a
    /// database dump into `psql`'s stdin). `name` is a stream name or a
    /// file path as backed up. Returns the bytes written.
    pub fn restore_entry(
        &self,
        snapshot: &SnapshotId,
        name: &str,
        w: &mut dyn Write,
    ) -> Result<u64> {
        let _lock = self.lock(false)?;
        let snap = self.snapshot(snapshot)?;
        let index = self.load_index()?;
        let tree = self.load_tree(&index, &snap)?;
        let stream = tree
            .iter()
            .find(|e| e.kind == EntryKind::Stream && e.path == name.as_bytes());
        let rel = crate::backup::rel_path(Path::new(name));
        let entry = stream
            .or_else(|| {
                tree.iter()
                    .find(|e| e.kind == EntryKind::File && e.path == rel)
            })
            .ok_or_else(|| Error::NotFound(format!("entry {name:?} in snapshot {snapshot}")))?;
        let mut n = 0u64;
        for id in &entry.chunks {
            let data = self.read_chunk(&index, id)?;
            w.write_all(&data)
                .map_err(|e| Error::io(format!("output of {name}"), e))?;
            n += data.len() as u64;
        }
        w.flush()
            .map_err(|e| Error::io(format!("output of {name}"), e))?;
        Ok(n)
    }
}
