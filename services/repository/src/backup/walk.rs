//! Walking the source trees: metadata, globs, special files.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::Warning;
use crate::error::{Error, Result};
use crate::tree::{Entry, EntryKind};

/// Include/exclude filters. A pattern matches the absolute path or, for
/// patterns without `/`, the file name alone (`*.tmp`).
#[derive(Debug)]
pub(crate) struct Filters {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

fn build(patterns: &[String], field: &'static str) -> Result<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = Glob::new(p).map_err(|e| Error::InvalidArgument {
            field,
            reason: format!("{p:?}: {e}"),
        })?;
        b.add(g);
    }
    b.build().map_err(|e| Error::InvalidArgument {
        field,
        reason: e.to_string(),
    })
}

impl Filters {
    pub(crate) fn new(include: &[String], exclude: &[String]) -> Result<Filters> {
        Ok(Filters {
            include: if include.is_empty() {
                None
            } else {
                Some(build(include, "include")?)
            },
            exclude: build(exclude, "exclude")?,
        })
    }

    fn matches(set: &GlobSet, path: &Path) -> bool {
        set.is_match(path) || path.file_name().is_some_and(|n| set.is_match(n))
    }

    pub(crate) fn excluded(&self, path: &Path) -> bool {
        Filters::matches(&self.exclude, path)
    }

    pub(crate) fn included_file(&self, path: &Path) -> bool {
        self.include
            .as_ref()
            .is_none_or(|s| Filters::matches(s, path))
    }
}

/// One walked item.
pub(crate) enum Walked {
    /// A directory or symlink: complete.
    Done(Entry),
    /// A regular file: content still to be stored (or taken from the cache).
    File(Entry, PathBuf),
}

/// The relative (stored) form of an absolute path.
pub(crate) fn rel_bytes(abs: &Path) -> Vec<u8> {
    let b = abs.as_os_str().as_bytes();
    let mut s = b;
    while let [b'/', rest @ ..] = s {
        s = rest;
    }
    s.to_vec()
}

fn entry_for(kind: EntryKind, abs: &Path, m: &std::fs::Metadata) -> Entry {
    let mut e = Entry::new(kind, rel_bytes(abs));
    e.mode = m.mode();
    e.uid = m.uid();
    e.gid = m.gid();
    e.mtime = m.mtime();
    e.mtime_ns = m.mtime_nsec() as u32;
    e.ctime = m.ctime();
    e.ctime_ns = m.ctime_nsec() as u32;
    e.ino = m.ino();
    if kind == EntryKind::File {
        e.size = m.len();
    }
    e
}

/// Walks `root` (absolute), never following symlinks, calling `emit`.
pub(crate) fn walk(
    root: &Path,
    filters: &Filters,
    warnings: &mut Vec<Warning>,
    cancelled: &dyn Fn() -> bool,
    mut emit: impl FnMut(Walked) -> Result<()>,
) -> Result<()> {
    let span = tracing::info_span!(
        "scan",
        root = %root.display(),
        entries = tracing::field::Empty,
    );
    let _entered = span.enter();
    let mut entries = 0u64;
    let mut emit = |w: Walked| {
        entries += 1;
        span.record("entries", entries);
        emit(w)
    };
    let it = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by(|a, b| a.file_name().cmp(b.file_name()))
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !filters.excluded(e.path()));
    for item in it {
        if cancelled() {
            return Err(Error::Cancelled);
        }
        let de = match item {
            Ok(de) => de,
            Err(e) => {
                let path = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.to_path_buf());
                warnings.push(Warning {
                    path,
                    message: format!("skipped: {e}"),
                });
                continue;
            }
        };
        let path = de.path();
        let m = match de.metadata() {
            Ok(m) => m,
            Err(e) => {
                warnings.push(Warning {
                    path: path.to_path_buf(),
                    message: format!("skipped: {e}"),
                });
                continue;
            }
        };
        match visit(path, &m, filters) {
            Ok(Some(walked)) => emit(walked)?,
            Ok(None) => {}
            Err(message) => warnings.push(Warning {
                path: path.to_path_buf(),
                message,
            }),
        }
    }
    Ok(())
}

/// What the walk makes of one path: an entry, nothing (filtered out, or the
/// root directory "/", which has no stored name), or why it was skipped.
fn visit(
    path: &Path,
    m: &std::fs::Metadata,
    filters: &Filters,
) -> std::result::Result<Option<Walked>, String> {
    let ft = m.file_type();
    if ft.is_dir() {
        if rel_bytes(path).is_empty() {
            return Ok(None);
        }
        return Ok(Some(Walked::Done(entry_for(EntryKind::Dir, path, m))));
    }
    if !ft.is_symlink() && !ft.is_file() {
        let what = if ft.is_fifo() {
            "fifo"
        } else if ft.is_socket() {
            "socket"
        } else if ft.is_block_device() {
            "block device"
        } else {
            "character device"
        };
        return Err(format!("skipped special file ({what})"));
    }
    if !filters.included_file(path) {
        return Ok(None);
    }
    if ft.is_file() {
        return Ok(Some(Walked::File(
            entry_for(EntryKind::File, path, m),
            path.to_path_buf(),
        )));
    }
    let target = std::fs::read_link(path).map_err(|e| format!("skipped: {e}"))?;
    let mut e = entry_for(EntryKind::Symlink, path, m);
    e.target = OsStr::new(target.as_os_str()).as_bytes().to_vec();
    Ok(Some(Walked::Done(e)))
}
