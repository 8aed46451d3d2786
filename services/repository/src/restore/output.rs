//! The files a restore writes. Chunks arrive in pack order, not file
//! order, so each file is created by the first chunk that arrives for it,
//! written at offsets, and gets its metadata and is closed when its last
//! chunk is in. Handles of files still waiting for chunks are kept open up
//! to a limit (a quarter of the descriptor limit); beyond it they are
//! closed and the file is opened again (never followed through a symlink)
//! when its next chunk arrives. A file that fails is removed and reported
//! once, and later chunks for it are dropped.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::{RestoreError, meta_of};
use crate::error::{Error, Result};
use crate::safe_fs::{Target, creation_mode};
use crate::tree::Entry;

/// What is known about one file being restored.
#[derive(Debug, Default)]
struct Slot {
    /// Chunk writes still to come.
    remaining: usize,
    file: Option<File>,
    created: bool,
    failed: bool,
}

/// How many handles of unfinished files a restore keeps open: a quarter
/// of the descriptor limit.
pub(super) fn open_limit() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(1024);
    (soft as usize / 4).clamp(16, 4096)
}

/// The files of one restore and their progress.
pub(super) struct Outputs<'a> {
    target: &'a Target,
    entries: &'a [&'a Entry],
    slots: Vec<Mutex<Slot>>,
    overwrite: bool,
    owner: bool,
    umask: Option<u32>,
    open: AtomicUsize,
    open_limit: usize,
    /// Bytes written so far.
    pub bytes: AtomicU64,
    /// Files completed so far.
    pub done: AtomicU64,
    errors: Mutex<Vec<RestoreError>>,
}

impl<'a> Outputs<'a> {
    pub(super) fn new(
        target: &'a Target,
        entries: &'a [&'a Entry],
        overwrite: bool,
        owner: bool,
        umask: Option<u32>,
        open_limit: usize,
    ) -> Outputs<'a> {
        Outputs {
            target,
            entries,
            slots: entries
                .iter()
                .map(|e| {
                    Mutex::new(Slot {
                        remaining: e.chunks.len(),
                        ..Default::default()
                    })
                })
                .collect(),
            overwrite,
            owner,
            umask,
            open: AtomicUsize::new(0),
            open_limit,
            bytes: AtomicU64::new(0),
            done: AtomicU64::new(0),
            errors: Mutex::new(Vec::new()),
        }
    }

    /// The mode to create file `e` with and whether it is final. A file
    /// written in several pieces must stay writable by its owner so it can
    /// be opened again; its mode is then applied at the end.
    fn mode(&self, e: &Entry) -> (u32, bool) {
        let (mode, set) = creation_mode(e.mode, self.umask);
        if e.chunks.len() > 1 && mode & 0o200 == 0 {
            (0o600, false)
        } else {
            (mode, set)
        }
    }

    /// Restores an empty file.
    pub(super) fn create_empty(&self, f: usize) {
        let e = self.entries[f];
        let mut slot = self.slots[f].lock().expect("restore slot");
        let res = self
            .target
            .create_file(&e.path, self.overwrite, self.mode(e).0)
            .and_then(|file| {
                slot.created = true;
                self.finish(e, &file)
            });
        match res {
            Ok(()) => {
                self.done.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => self.fail_locked(f, &mut slot, &err.to_string()),
        }
    }

    /// Writes one chunk's plaintext at `offset` of file `f`.
    pub(super) fn write(&self, f: usize, offset: u64, data: &[u8]) {
        let mut slot = self.slots[f].lock().expect("restore slot");
        if slot.failed || slot.remaining == 0 {
            return;
        }
        if let Err(err) = self.write_locked(self.entries[f], &mut slot, offset, data) {
            self.fail_locked(f, &mut slot, &err.to_string());
        }
    }

    fn write_locked(&self, e: &Entry, slot: &mut Slot, offset: u64, data: &[u8]) -> Result<()> {
        let file = match slot.file.take() {
            Some(file) => {
                self.open.fetch_sub(1, Ordering::Relaxed);
                file
            }
            None if !slot.created => {
                let file = self
                    .target
                    .create_file(&e.path, self.overwrite, self.mode(e).0)?;
                slot.created = true;
                file
            }
            None => self.target.reopen_file(&e.path)?,
        };
        file.write_all_at(data, offset)
            .map_err(|err| Error::io(e.path_lossy(), err))?;
        self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        slot.remaining -= 1;
        if slot.remaining == 0 {
            self.finish(e, &file)?;
            self.done.fetch_add(1, Ordering::Relaxed);
        } else if self.open.fetch_add(1, Ordering::Relaxed) < self.open_limit {
            slot.file = Some(file);
        } else {
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn finish(&self, e: &Entry, file: &File) -> Result<()> {
        Target::apply_meta(file, &meta_of(e, self.owner), &e.path, self.mode(e).1)
    }

    /// Marks file `f` failed with `message`: it is removed if this
    /// restore created it, and reported once.
    pub(super) fn fail(&self, f: usize, message: &str) {
        let mut slot = self.slots[f].lock().expect("restore slot");
        if !slot.failed && slot.remaining > 0 {
            self.fail_locked(f, &mut slot, message);
        }
    }

    fn fail_locked(&self, f: usize, slot: &mut Slot, message: &str) {
        let e = self.entries[f];
        slot.failed = true;
        if slot.file.take().is_some() {
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
        if slot.created {
            let _ = self.target.remove_file(&e.path);
        }
        self.errors.lock().expect("errors").push(RestoreError {
            path: e.path_lossy(),
            message: message.to_string(),
        });
    }

    /// The failures, in no particular order.
    pub(super) fn into_errors(self) -> Vec<RestoreError> {
        self.errors.into_inner().expect("errors")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;
    use crate::tree::EntryKind;
    use std::os::unix::fs::MetadataExt;

    fn file(name: &str, mode: u32, pieces: u8) -> Entry {
        let mut e = Entry::new(EntryKind::File, name.as_bytes().to_vec());
        e.mode = 0o100000 | mode;
        e.mtime = 1_600_000_000;
        e.chunks = (0..pieces).map(|i| Id([i; 32])).collect();
        e
    }

    #[test]
    fn pieces_in_any_order_beyond_the_open_limit_make_whole_files_with_their_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::open(dir.path()).unwrap();
        let entries = [
            file("a", 0o444, 3),
            file("b", 0o640, 3),
            file("c", 0o400, 3),
        ];
        let refs: Vec<&Entry> = entries.iter().collect();
        // One handle kept open at most: the others are closed and opened
        // again for their next piece.
        let out = Outputs::new(&target, &refs, false, false, Some(0o022), 1);
        for piece in [2u64, 0, 1] {
            for f in 0..3 {
                out.write(f, piece * 3, format!("{f}:{piece}").as_bytes());
            }
        }
        assert_eq!(out.done.load(Ordering::Relaxed), 3);
        assert_eq!(out.open.load(Ordering::Relaxed), 0, "every handle closed");
        assert!(out.into_errors().is_empty());
        for (f, e) in entries.iter().enumerate() {
            let p = dir.path().join(String::from_utf8_lossy(&e.path).as_ref());
            let want: String = (0..3).map(|i| format!("{f}:{i}")).collect();
            assert_eq!(std::fs::read_to_string(&p).unwrap(), want);
            let m = std::fs::metadata(&p).unwrap();
            assert_eq!(m.mode() & 0o7777, e.mode & 0o7777, "{p:?}");
            assert_eq!(m.mtime(), 1_600_000_000);
        }
    }

    #[test]
    fn a_failed_file_is_removed_reported_once_and_later_pieces_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::open(dir.path()).unwrap();
        let entries = [file("x", 0o644, 3)];
        let refs: Vec<&Entry> = entries.iter().collect();
        let out = Outputs::new(&target, &refs, false, false, Some(0o022), 8);
        out.write(0, 0, b"one");
        assert!(dir.path().join("x").exists());
        out.fail(0, "pack gone");
        out.fail(0, "pack gone again");
        out.write(0, 3, b"two");
        out.write(0, 6, b"six");
        assert!(!dir.path().join("x").exists(), "a failed file is removed");
        assert_eq!(out.done.load(Ordering::Relaxed), 0);
        let errors = out.into_errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            (errors[0].path.as_str(), errors[0].message.as_str()),
            ("x", "pack gone")
        );
    }
}
