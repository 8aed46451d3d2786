//! Extracting a checked archive into a directory (guarantee E4): nothing is
//! written outside the target, nothing is written through a symlink, and
//! nothing that exists is replaced unless `overwrite` is set. Every conflict
//! is found before the first byte is written.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use filetime::FileTime;

use super::manifest::{Member, MemberKind};
use super::reader::ArchiveReader;
use crate::error::{Error, Result};

/// How to extract.
#[derive(Clone, Debug, Default)]
pub struct ExtractOptions {
    /// Replace existing files and symlinks.
    pub overwrite: bool,
    /// Write stream members (dumps) as files too; otherwise they go only to
    /// the stream callback.
    pub streams_as_files: bool,
    /// Only these member paths and what lies under them; empty means all.
    pub paths: Vec<String>,
}

/// What an extraction wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Regular files (and streams written as files).
    pub files: u64,
    /// Bytes of file content.
    pub bytes: u64,
    /// Directories.
    pub dirs: u64,
    /// Symlinks.
    pub symlinks: u64,
}

/// Permission bits restored: setuid and setgid are dropped, since the
/// archive may come from anywhere.
const MODE_MASK: u32 = 0o1777;

/// Extracts `reader` into `target`. Stream members are handed to `on_stream`
/// (and written as files when asked). `progress` is called with the bytes
/// and files written so far.
pub fn extract<R: Read>(
    reader: ArchiveReader<R>,
    target: &Path,
    opts: &ExtractOptions,
    on_stream: &mut dyn FnMut(&Member, &mut dyn Read) -> Result<()>,
    progress: &dyn Fn(u64, u64),
    cancel: &AtomicBool,
) -> Result<ExtractStats> {
    if !target.is_absolute() {
        return Err(Error::invalid("target_dir", "must be an absolute path"));
    }
    let filter: Vec<String> = opts
        .paths
        .iter()
        .map(|p| p.trim_matches('/').to_owned())
        .collect();
    let selected = |m: &Member| {
        filter.is_empty()
            || filter
                .iter()
                .any(|p| m.path == *p || m.path.starts_with(&format!("{p}/")) || p.is_empty())
    };
    let writes =
        |m: &Member| selected(m) && (m.kind != MemberKind::Stream || opts.streams_as_files);
    preflight(
        target,
        reader.manifest().members.iter().filter(|m| writes(m)),
        opts.overwrite,
    )?;
    fs::create_dir_all(target).map_err(|e| Error::io(target, e))?;

    let mut stats = ExtractStats::default();
    let mut dirs: Vec<(PathBuf, u32, FileTime)> = Vec::new();
    reader.for_each(|m, content| {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let dest = target.join(&m.path);
        let mtime = FileTime::from_unix_time(m.mtime, m.mtime_nsec);
        let mut content = content;
        if m.kind == MemberKind::Stream
            && !opts.streams_as_files
            && let Some(r) = content.as_mut()
        {
            return on_stream(m, *r);
        }
        if !writes(m) {
            return Ok(());
        }
        ensure_parent(target, &m.path)?;
        write_member(m, dest, mtime, content, progress, &mut stats, &mut dirs)
    })?;
    // Directory times last: writing into a directory moves its mtime.
    for (dir, mode, mtime) in dirs.iter().rev() {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode & MODE_MASK))
            .map_err(|e| Error::io(dir, e))?;
        filetime::set_file_mtime(dir, *mtime).map_err(|e| Error::io(dir, e))?;
    }
    Ok(stats)
}

/// Writes one selected member at `dest`: a directory (its mode and time are
/// set at the end, see [`extract`]), a symlink or a file, each replacing
/// what was there only through a temporary name.
fn write_member(
    m: &Member,
    dest: PathBuf,
    mtime: FileTime,
    content: Option<&mut dyn Read>,
    progress: &dyn Fn(u64, u64),
    stats: &mut ExtractStats,
    dirs: &mut Vec<(PathBuf, u32, FileTime)>,
) -> Result<()> {
    match (m.kind, content) {
        (MemberKind::Dir, _) => {
            make_dir(&dest)?;
            dirs.push((dest, m.mode, mtime));
            stats.dirs += 1;
        }
        (MemberKind::Symlink, _) => {
            let tmp = temp_name(&dest);
            let link = m.target.as_deref().unwrap_or_default();
            std::os::unix::fs::symlink(link, &tmp).map_err(|e| Error::io(&tmp, e))?;
            filetime::set_symlink_file_times(&tmp, mtime, mtime).map_err(|e| Error::io(&tmp, e))?;
            replace(&tmp, &dest)?;
            stats.symlinks += 1;
        }
        (_, Some(r)) => {
            stats.bytes += write_file(&dest, r, m.mode, mtime)?;
            stats.files += 1;
            progress(stats.bytes, stats.files);
        }
        (_, None) => {
            return Err(Error::Internal(format!(
                "data member {:?} came without data",
                m.path
            )));
        }
    }
    Ok(())
}

/// Finds every conflict before anything is written.
fn preflight<'a>(
    target: &Path,
    members: impl Iterator<Item = &'a Member>,
    overwrite: bool,
) -> Result<()> {
    match fs::symlink_metadata(target) {
        Ok(md) if !md.is_dir() => {
            return Err(Error::FailedPrecondition(format!(
                "target_dir: {} exists and is not a directory",
                target.display()
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(target, e)),
    }
    for m in members {
        let mut here = target.to_path_buf();
        let parts: Vec<&str> = m.path.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            here.push(part);
            let last = i + 1 == parts.len();
            let md = match fs::symlink_metadata(&here) {
                Ok(md) => md,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => return Err(Error::io(&here, e)),
            };
            if !last {
                if md.file_type().is_symlink() {
                    return Err(Error::FailedPrecondition(format!(
                        "target_dir: refusing to write through the symlink {}",
                        here.display()
                    )));
                }
                if !md.is_dir() {
                    return Err(Error::FailedPrecondition(format!(
                        "target_dir: {} is not a directory",
                        here.display()
                    )));
                }
                continue;
            }
            match (m.kind, md.is_dir() && !md.file_type().is_symlink()) {
                (MemberKind::Dir, true) => {}
                (MemberKind::Dir, false) | (_, true) => {
                    return Err(Error::FailedPrecondition(format!(
                        "target_dir: {} exists with another type; it is never replaced",
                        here.display()
                    )));
                }
                (_, false) if !overwrite => {
                    return Err(Error::FailedPrecondition(format!(
                        "target_dir: {} already exists; set overwrite to replace it",
                        here.display()
                    )));
                }
                (_, false) => {}
            }
        }
    }
    Ok(())
}

/// Creates the missing parents of `rel` under `root`, refusing symlinks.
fn ensure_parent(root: &Path, rel: &str) -> Result<()> {
    let mut here = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        here.push(part);
        make_dir(&here)?;
    }
    Ok(())
}

fn make_dir(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() && !md.file_type().is_symlink() => Ok(()),
        Ok(_) => Err(Error::FailedPrecondition(format!(
            "target_dir: {} is not a directory",
            path.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => make_dir(path),
            Err(e) => Err(Error::io(path, e)),
        },
        Err(e) => Err(Error::io(path, e)),
    }
}

fn write_file(dest: &Path, content: &mut dyn Read, mode: u32, mtime: FileTime) -> Result<u64> {
    let tmp = temp_name(dest);
    let result = (|| {
        let mut f = fs::File::create_new(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let n = io::copy(content, &mut f).map_err(|e| Error::io(dest, e))?;
        f.set_permissions(fs::Permissions::from_mode(mode & MODE_MASK))
            .map_err(|e| Error::io(&tmp, e))?;
        filetime::set_file_handle_times(&f, Some(mtime), Some(mtime))
            .map_err(|e| Error::io(&tmp, e))?;
        Ok(n)
    })();
    match result {
        Ok(n) => replace(&tmp, dest).map(|()| n),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn replace(tmp: &Path, dest: &Path) -> Result<()> {
    fs::rename(tmp, dest).map_err(|e| {
        let _ = fs::remove_file(tmp);
        Error::io(dest, e)
    })
}

fn temp_name(dest: &Path) -> PathBuf {
    let name = format!(".vigil-tmp-{}", uuid::Uuid::new_v4().simple());
    dest.parent()
        .map(|p| p.join(&name))
        .unwrap_or_else(|| PathBuf::from(name))
}
