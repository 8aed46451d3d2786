//! The local directory backend (the default).
//!
//! Writes go to a temporary file in the target directory, which is fsynced,
//! renamed over the final name (or hard-linked to it for a conditional
//! create, which fails when the name exists), and then the directory is
//! fsynced, so a kill -9 or power loss leaves either the old state or the
//! complete object.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Backend, FileKind, ObjectInfo};
use crate::error::{Error, Result};
use crate::id::Id;

const TMP_PREFIX: &str = ".tmp-";

/// Open pack files kept for ranged reads (restore reads many small ranges).
const PACK_FD_CACHE: usize = 64;

/// A repository in a local directory.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
    packs: Arc<Mutex<HashMap<String, Arc<File>>>>,
}

impl LocalBackend {
    /// A backend rooted at `root`, creating the directory layout if missing.
    pub fn create(root: impl Into<PathBuf>) -> Result<LocalBackend> {
        let root = root.into();
        for kind in [
            FileKind::Pack,
            FileKind::Index,
            FileKind::Snapshot,
            FileKind::Lock,
        ] {
            let d = root.join(kind.dir());
            fs::create_dir_all(&d).map_err(|e| Error::io(d.display(), e))?;
        }
        Ok(LocalBackend {
            root,
            packs: Arc::default(),
        })
    }

    /// A backend for `root` that neither checks nor creates anything; the
    /// directories are created by the first write.
    pub fn unopened(root: impl Into<PathBuf>) -> LocalBackend {
        LocalBackend {
            root: root.into(),
            packs: Arc::default(),
        }
    }

    /// A backend for an existing repository directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<LocalBackend> {
        let root = root.into();
        if !root.join("config").is_file() {
            return Err(Error::NotFound(format!(
                "no repository at {}",
                root.display()
            )));
        }
        LocalBackend::create(root)
    }

    /// The repository directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, kind: FileKind, name: &str) -> PathBuf {
        match kind {
            FileKind::Config => self.root.join("config"),
            _ => self.root.join(kind.dir()).join(name),
        }
    }

    /// Opens a pack for ranged reads, reusing a recently opened handle
    /// (packs are immutable once named, so a cached handle stays valid).
    fn open_cached(&self, kind: FileKind, name: &str, p: &Path) -> Result<Arc<File>> {
        if kind != FileKind::Pack {
            return Ok(Arc::new(File::open(p).map_err(|e| not_found_or_io(p, e))?));
        }
        if let Some(f) = self.packs.lock().expect("pack cache").get(name).cloned() {
            // A pack deleted behind this process must read as missing, not
            // from the handle that still holds the unlinked file.
            if p.exists() {
                return Ok(f);
            }
            self.packs.lock().expect("pack cache").remove(name);
            return Err(Error::NotFound(p.display().to_string()));
        }
        let f = Arc::new(File::open(p).map_err(|e| not_found_or_io(p, e))?);
        let mut cache = self.packs.lock().expect("pack cache");
        if cache.len() >= PACK_FD_CACHE {
            cache.clear();
        }
        cache.insert(name.to_string(), f.clone());
        Ok(f)
    }

    /// Writes `parts` to a temporary file and moves it to the object's
    /// name: renamed over it, or (`create_only`) hard-linked, which fails
    /// when the name exists. Returns whether the object was written.
    fn write(
        &self,
        kind: FileKind,
        name: &str,
        parts: &[&[u8]],
        durable: bool,
        create_only: bool,
    ) -> Result<bool> {
        let target = self.path(kind, name);
        let dir = target.parent().expect("object has a parent").to_path_buf();
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
        }
        let tmp = dir.join(format!("{TMP_PREFIX}{}", Id::random().short()));
        let res = (|| -> std::io::Result<bool> {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            for p in parts {
                f.write_all(p)?;
            }
            if durable {
                f.sync_all()?;
            }
            drop(f);
            let created = if create_only {
                match fs::hard_link(&tmp, &target) {
                    Ok(()) => true,
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => false,
                    Err(e) => return Err(e),
                }
            } else {
                fs::rename(&tmp, &target)?;
                true
            };
            if durable && created {
                File::open(&dir)?.sync_all()?;
            }
            Ok(created)
        })();
        if create_only || res.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        res.map_err(|e| Error::io(target.display(), e))
    }
}

fn not_found_or_io(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == ErrorKind::NotFound {
        Error::NotFound(path.display().to_string())
    } else {
        Error::io(path.display(), e)
    }
}

impl Backend for LocalBackend {
    fn list(&self, kind: FileKind) -> Result<Vec<ObjectInfo>> {
        if kind == FileKind::Config {
            let p = self.path(kind, "config");
            return Ok(match fs::metadata(&p) {
                Ok(m) => vec![ObjectInfo {
                    name: "config".into(),
                    size: m.len(),
                }],
                Err(_) => vec![],
            });
        }
        let dir = self.root.join(kind.dir());
        let mut out = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(dir.display(), e)),
        };
        for ent in entries {
            let ent = ent.map_err(|e| Error::io(dir.display(), e))?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if name.starts_with(TMP_PREFIX) {
                continue;
            }
            match ent.metadata() {
                Ok(m) if m.is_file() => out.push(ObjectInfo {
                    name,
                    size: m.len(),
                }),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(ent.path().display(), e)),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn get(&self, kind: FileKind, name: &str) -> Result<Vec<u8>> {
        let p = self.path(kind, name);
        let mut f = File::open(&p).map_err(|e| not_found_or_io(&p, e))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| Error::io(p.display(), e))?;
        Ok(buf)
    }

    fn get_range(&self, kind: FileKind, name: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let p = self.path(kind, name);
        let f = self.open_cached(kind, name, &p)?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact_at(&mut buf, offset)
            .map_err(|e| Error::io(p.display(), e))?;
        Ok(buf)
    }

    fn put_atomic(&self, kind: FileKind, name: &str, parts: &[&[u8]]) -> Result<()> {
        self.write(kind, name, parts, true, false).map(|_| ())
    }

    fn put_volatile(&self, kind: FileKind, name: &str, data: &[u8]) -> Result<()> {
        self.write(kind, name, &[data], false, false).map(|_| ())
    }

    fn put_create(&self, kind: FileKind, name: &str, data: &[u8]) -> Result<bool> {
        self.write(kind, name, &[data], true, true)
    }

    fn delete(&self, kind: FileKind, name: &str) -> Result<()> {
        let p = self.path(kind, name);
        if kind == FileKind::Pack {
            self.packs.lock().expect("pack cache").remove(name);
        }
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(p.display(), e)),
        }
    }

    fn exists(&self, kind: FileKind, name: &str) -> Result<bool> {
        Ok(self.path(kind, name).exists())
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }
}
