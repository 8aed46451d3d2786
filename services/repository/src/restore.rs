//! Restoring snapshots into a directory, and streaming single entries.
//!
//! Order: directories first (created 0700), then file data, then symlinks,
//! then directory metadata deepest first. File data is read pack by pack,
//! not file by file: the chunks the files need are grouped by pack and
//! nearby ones merged into one ranged read ([`crate::read_plan`]), which
//! worker threads perform and hand to every file that uses them
//! ([`output`]). A file whose data cannot be read or fails its checks is
//! removed and reported; the others are still restored.

mod output;
mod plan;

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::backup::{Control, Progress};
use crate::error::{Error, Result};
use crate::id::SnapshotId;
use crate::index::Index;
use crate::repo::Repository;
use crate::safe_fs::{Meta, Target, components};
use crate::tree::{Entry, EntryKind};
use output::Outputs;
use plan::Plan;

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
        // Tree order is the order the backup stored the files in, so packs
        // are read in the order the files first need them.
        let files: Vec<&Entry> = entries
            .iter()
            .copied()
            .filter(|e| e.kind == EntryKind::File)
            .collect();
        let (errors, done, bytes) = self.restore_files(&index, &target, &files, opts, ctl)?;
        report.errors.extend(errors);
        report.files = done;
        report.bytes = bytes;

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

    /// Restores `files`: the plan's reads are shared among worker threads
    /// (each holds one read in memory) and every chunk read is written to
    /// the files that use it. Returns the per-file errors, the files
    /// completed and the bytes written.
    fn restore_files(
        &self,
        index: &Index,
        target: &Target,
        files: &[&Entry],
        opts: &RestoreOptions,
        ctl: &Control,
    ) -> Result<(Vec<RestoreError>, u64, u64)> {
        let plan = plan::plan(index, files, self.backend.read_coalescing());
        let owner = rustix::process::geteuid().is_root();
        let umask = crate::safe_fs::current_umask();
        let limit = output::open_limit();
        let out = Outputs::new(target, files, opts.overwrite, owner, umask, limit);
        for (f, err) in &plan.unplanned {
            out.fail(*f, &err.to_string());
        }
        for (f, _) in files
            .iter()
            .enumerate()
            .filter(|(_, e)| e.chunks.is_empty())
        {
            out.create_empty(f);
        }
        let cancelled = || {
            ctl.cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
        };
        let next = AtomicUsize::new(0);
        let threads = opts
            .threads
            .unwrap_or_else(|| self.backend.read_parallelism())
            .clamp(1, plan.reads.len().max(1));
        // Workers still reading: progress is reported until the last one
        // ends, whether it ran out of reads or saw the cancel.
        let running = AtomicUsize::new(threads);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    while let Some(r) = plan.reads.get(next.fetch_add(1, Ordering::Relaxed)) {
                        if cancelled() {
                            break;
                        }
                        self.restore_run(index, &plan, r.clone(), &out);
                    }
                    running.fetch_sub(1, Ordering::Relaxed);
                });
            }
            if let Some(cb) = &ctl.progress {
                while running.load(Ordering::Relaxed) > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    cb(&Progress {
                        bytes_read: out.bytes.load(Ordering::Relaxed),
                        files_done: out.done.load(Ordering::Relaxed),
                        bytes_unchanged: 0,
                    });
                }
            }
        });
        if cancelled() {
            return Err(Error::Cancelled);
        }
        let (done, bytes) = (
            out.done.load(Ordering::Relaxed),
            out.bytes.load(Ordering::Relaxed),
        );
        Ok((out.into_errors(), done, bytes))
    }

    /// Performs one read of the plan and hands its chunks to the files.
    fn restore_run(&self, index: &Index, plan: &Plan, r: Range<usize>, out: &Outputs<'_>) {
        let uses = &plan.uses[r.clone()];
        let res = self.read_run(index, &plan.blobs[r], false, |i, got| match got {
            Ok(data) => uses[i].iter().for_each(|&(f, at)| out.write(f, at, &data)),
            Err(e) => {
                let m = e.to_string();
                uses[i].iter().for_each(|&(f, _)| out.fail(f, &m));
            }
        });
        if let Err(e) = res {
            let m = e.to_string();
            uses.iter().flatten().for_each(|&(f, _)| out.fail(f, &m));
        }
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
        let what = format!("output of {name}");
        let n = self.stream_chunks(&index, &entry.chunks, w, &what)?;
        w.flush()
            .map_err(|e| Error::io(format!("output of {name}"), e))?;
        Ok(n)
    }
}
