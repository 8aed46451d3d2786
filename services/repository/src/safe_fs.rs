//! Creating files strictly inside a restore target (E4).
//!
//! Every stored path is checked to be relative with no `.`/`..`/empty
//! components. Directories are opened component by component with
//! `openat(O_NOFOLLOW | O_DIRECTORY)` from a descriptor of the target, and
//! files are created with `openat(O_CREAT | O_EXCL | O_NOFOLLOW)` in their
//! parent's descriptor. A symlink anywhere on the way (planted in the
//! target or restored from the snapshot) is never followed, so nothing can
//! be written outside the target, even with a concurrent attacker.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};

/// Splits a stored path into checked components.
pub fn components(path: &[u8]) -> Result<Vec<&[u8]>> {
    let bad = |reason: &str| Error::UnsafePath {
        path: PathBuf::from(String::from_utf8_lossy(path).into_owned()),
        reason: reason.into(),
    };
    if path.is_empty() {
        return Err(bad("empty path"));
    }
    if path[0] == b'/' {
        return Err(bad("absolute path"));
    }
    if path.contains(&0) {
        return Err(bad("NUL byte in path"));
    }
    let comps: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
    for c in &comps {
        match *c {
            b"" => return Err(bad("empty path component")),
            b"." | b".." => return Err(bad("'.' or '..' component")),
            _ => {}
        }
    }
    Ok(comps)
}

/// A restore target directory, accessed only through descriptors.
pub struct Target {
    root: Arc<OwnedFd>,
    root_path: PathBuf,
    dirs: Mutex<HashMap<Vec<u8>, Arc<OwnedFd>>>,
    cache_limit: usize,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.root_path.display())
    }
}

fn errno(path: &[u8], e: Errno) -> Error {
    Error::io(String::from_utf8_lossy(path), std::io::Error::from(e))
}

fn unsafe_path(path: &[u8], reason: &str) -> Error {
    Error::UnsafePath {
        path: PathBuf::from(String::from_utf8_lossy(path).into_owned()),
        reason: reason.into(),
    }
}

impl Target {
    /// Opens (creating if missing) the target directory.
    pub fn open(path: &Path) -> Result<Target> {
        std::fs::create_dir_all(path).map_err(|e| Error::io(path.display(), e))?;
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io(path.display(), e.into()))?;
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(1024);
        Ok(Target {
            root: Arc::new(fd),
            root_path: path.to_path_buf(),
            dirs: Mutex::new(HashMap::new()),
            cache_limit: (soft as usize / 4).clamp(16, 8192),
        })
    }

    /// The descriptor of directory `comps` (relative to the target),
    /// creating missing directories (mode 0700 until metadata is applied).
    pub fn dir(&self, comps: &[&[u8]]) -> Result<Arc<OwnedFd>> {
        if comps.is_empty() {
            return Ok(self.root.clone());
        }
        let key = comps.join(&b'/');
        if let Some(fd) = self.dirs.lock().expect("dir cache").get(&key) {
            return Ok(fd.clone());
        }
        let parent = self.dir(&comps[..comps.len() - 1])?;
        let name = comps[comps.len() - 1];
        match rustix::fs::mkdirat(&*parent, name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(errno(&key, e)),
        }
        let fd = match rustix::fs::openat(
            &*parent,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Arc::new(fd),
            Err(Errno::LOOP) | Err(Errno::NOTDIR) => {
                return Err(unsafe_path(
                    &key,
                    "exists in the target and is not a directory (symlinks are never followed)",
                ));
            }
            Err(e) => return Err(errno(&key, e)),
        };
        let mut cache = self.dirs.lock().expect("dir cache");
        if cache.len() < self.cache_limit {
            cache.insert(key, fd.clone());
        }
        Ok(fd)
    }

    /// Removes a non-directory entry in the way when overwriting.
    fn clear(&self, parent: &OwnedFd, name: &[u8], path: &[u8]) -> Result<()> {
        match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st)
                if rustix::fs::FileType::from_raw_mode(st.st_mode)
                    == rustix::fs::FileType::Directory =>
            {
                Err(unsafe_path(path, "a directory is in the way"))
            }
            Ok(_) => {
                rustix::fs::unlinkat(parent, name, AtFlags::empty()).map_err(|e| errno(path, e))
            }
            Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(errno(path, e)),
        }
    }

    /// Creates a new regular file with permission bits `mode` (the caller
    /// passes 0600 when the final mode has special bits or the umask would
    /// change it). Refuses an existing entry unless `overwrite`.
    pub fn create_file(&self, path: &[u8], overwrite: bool, mode: u32) -> Result<File> {
        let comps = components(path)?;
        let parent = self.dir(&comps[..comps.len() - 1])?;
        let name = comps[comps.len() - 1];
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        for attempt in 0..2 {
            match rustix::fs::openat(&*parent, name, flags, Mode::from_raw_mode(mode & 0o777)) {
                Ok(fd) => return Ok(File::from(fd)),
                Err(Errno::EXIST) if overwrite && attempt == 0 => {
                    self.clear(&parent, name, path)?
                }
                Err(Errno::EXIST) => {
                    return Err(Error::AlreadyExists(format!(
                        "{} (pass overwrite to replace)",
                        String::from_utf8_lossy(path)
                    )));
                }
                Err(e) => return Err(errno(path, e)),
            }
        }
        Err(Error::AlreadyExists(
            String::from_utf8_lossy(path).into_owned(),
        ))
    }

    /// Opens a regular file this restore created again, for writing (its
    /// handle was closed while it waited for more data). Never follows a
    /// symlink.
    pub fn reopen_file(&self, path: &[u8]) -> Result<File> {
        let comps = components(path)?;
        let parent = self.dir(&comps[..comps.len() - 1])?;
        let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        rustix::fs::openat(&*parent, comps[comps.len() - 1], flags, Mode::empty())
            .map(File::from)
            .map_err(|e| errno(path, e))
    }

    /// Removes a file this restore created (after a failed write).
    pub fn remove_file(&self, path: &[u8]) -> Result<()> {
        let comps = components(path)?;
        let parent = self.dir(&comps[..comps.len() - 1])?;
        rustix::fs::unlinkat(&*parent, comps[comps.len() - 1], AtFlags::empty())
            .map_err(|e| errno(path, e))
    }

    /// Creates a symlink (its target is stored verbatim and never followed
    /// by the restore) and sets its times and, if `owner`, its owner.
    pub fn create_symlink(
        &self,
        path: &[u8],
        target: &[u8],
        overwrite: bool,
        meta: &Meta,
    ) -> Result<()> {
        let comps = components(path)?;
        let parent = self.dir(&comps[..comps.len() - 1])?;
        let name = comps[comps.len() - 1];
        for attempt in 0..2 {
            match rustix::fs::symlinkat(target, &*parent, name) {
                Ok(()) => break,
                Err(Errno::EXIST) if overwrite && attempt == 0 => {
                    self.clear(&parent, name, path)?
                }
                Err(Errno::EXIST) => {
                    return Err(Error::AlreadyExists(
                        String::from_utf8_lossy(path).into_owned(),
                    ));
                }
                Err(e) => return Err(errno(path, e)),
            }
        }
        if let Some((uid, gid)) = meta.owner {
            let _ = rustix::fs::chownat(
                &*parent,
                name,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            );
        }
        rustix::fs::utimensat(&*parent, name, &meta.times(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| errno(path, e))
    }

    /// Applies mode (unless `mode_set`), owner and times to an open file
    /// or directory. Files this process creates start out owned by it, so
    /// owner `(0, 0)` when running as root needs no call.
    pub fn apply_meta(
        fd: &impl std::os::fd::AsFd,
        meta: &Meta,
        path: &[u8],
        mode_set: bool,
    ) -> Result<()> {
        let chowned = meta.owner.filter(|o| *o != (0, 0));
        if let Some((uid, gid)) = chowned {
            let _ = rustix::fs::fchown(
                fd,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            );
        }
        // chown clears set-id bits, so the mode is applied after it.
        if !mode_set || chowned.is_some() {
            rustix::fs::fchmod(fd, Mode::from_raw_mode(meta.mode & 0o7777))
                .map_err(|e| errno(path, e))?;
        }
        rustix::fs::futimens(fd, &meta.times()).map_err(|e| errno(path, e))
    }
}

/// The process umask, read without changing it (Linux `/proc`); `None`
/// when unknown, in which case modes are always applied explicitly.
pub fn current_umask() -> Option<u32> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let v = s.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(v.trim(), 8).ok()
}

/// The mode to create a file with, and whether it is already final.
pub fn creation_mode(mode: u32, umask: Option<u32>) -> (u32, bool) {
    let perm = mode & 0o7777;
    match umask {
        Some(u) if perm & 0o7000 == 0 && perm & u == 0 => (perm, true),
        _ => (0o600, false),
    }
}

/// Metadata to apply to a restored entry.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    /// `st_mode` bits.
    pub mode: u32,
    /// Modification time (seconds, nanoseconds).
    pub mtime: (i64, u32),
    /// Owner to set, if any (only when running as root, so new files
    /// start out owned by 0:0 and that case needs no call).
    pub owner: Option<(u32, u32)>,
}

impl Meta {
    fn times(&self) -> rustix::fs::Timestamps {
        let t = rustix::fs::Timespec {
            tv_sec: self.mtime.0,
            tv_nsec: self.mtime.1 as _,
        };
        rustix::fs::Timestamps {
            last_access: t,
            last_modification: t,
        }
    }
}
