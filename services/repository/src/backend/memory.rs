//! An in-memory backend: proves the storage seam and serves tests.
//!
//! It behaves like an object store: whole-object puts replace atomically,
//! ranged gets, flat namespaces per kind.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use super::{Backend, FileKind, ObjectInfo};
use crate::error::{Error, Result};

type Objects = HashMap<FileKind, BTreeMap<String, Arc<Vec<u8>>>>;

/// A repository held in memory (lost when dropped).
#[derive(Debug, Default, Clone)]
pub struct MemoryBackend {
    objects: Arc<RwLock<Objects>>,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    fn obj(&self, kind: FileKind, name: &str) -> Result<Arc<Vec<u8>>> {
        self.objects
            .read()
            .expect("memory backend")
            .get(&kind)
            .and_then(|m| m.get(name).cloned())
            .ok_or_else(|| Error::NotFound(format!("{}/{name}", kind.dir())))
    }
}

impl Backend for MemoryBackend {
    fn list(&self, kind: FileKind) -> Result<Vec<ObjectInfo>> {
        let g = self.objects.read().expect("memory backend");
        Ok(g.get(&kind)
            .map(|m| {
                m.iter()
                    .map(|(n, d)| ObjectInfo {
                        name: n.clone(),
                        size: d.len() as u64,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn get(&self, kind: FileKind, name: &str) -> Result<Vec<u8>> {
        Ok(self.obj(kind, name)?.to_vec())
    }

    fn get_range(&self, kind: FileKind, name: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let o = self.obj(kind, name)?;
        o.get(offset as usize..(offset + len) as usize)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                Error::io(
                    name,
                    std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
                )
            })
    }

    fn put_atomic(&self, kind: FileKind, name: &str, parts: &[&[u8]]) -> Result<()> {
        let data = Arc::new(parts.concat());
        self.objects
            .write()
            .expect("memory backend")
            .entry(kind)
            .or_default()
            .insert(name.to_string(), data);
        Ok(())
    }

    fn put_create(&self, kind: FileKind, name: &str, data: &[u8]) -> Result<bool> {
        let mut g = self.objects.write().expect("memory backend");
        let m = g.entry(kind).or_default();
        if m.contains_key(name) {
            return Ok(false);
        }
        m.insert(name.to_string(), Arc::new(data.to_vec()));
        Ok(true)
    }

    fn delete(&self, kind: FileKind, name: &str) -> Result<()> {
        if let Some(m) = self.objects.write().expect("memory backend").get_mut(&kind) {
            m.remove(name);
        }
        Ok(())
    }

    fn exists(&self, kind: FileKind, name: &str) -> Result<bool> {
        Ok(self.obj(kind, name).is_ok())
    }

    fn location(&self) -> String {
        "memory".into()
    }
}
