//! The snapshot tree: every file, directory, symlink and stream entry.
//!
//! Paths are stored relative (the absolute source path without its leading
//! `/`), as raw bytes. The tree is encoded in a compact binary form, then
//! chunked and stored like file data, so an unchanged tree costs nothing.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::id::Id;

const TREE_MAGIC: &[u8; 8] = b"VGTREE01";

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File = 1,
    /// A directory.
    Dir = 2,
    /// A symbolic link (stored, never followed).
    Symlink = 3,
    /// A named stream read from `std::io::Read` (e.g. a database dump).
    Stream = 4,
}

impl EntryKind {
    fn from_u8(b: u8) -> Option<EntryKind> {
        Some(match b {
            1 => EntryKind::File,
            2 => EntryKind::Dir,
            3 => EntryKind::Symlink,
            4 => EntryKind::Stream,
            _ => return None,
        })
    }
}

/// One entry of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Kind of entry.
    pub kind: EntryKind,
    /// Relative path (files) or stream name (streams), raw bytes.
    pub path: Vec<u8>,
    /// Permission bits and file type bits as in `st_mode`.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time: seconds since the epoch.
    pub mtime: i64,
    /// Modification time: nanoseconds.
    pub mtime_ns: u32,
    /// Status change time (files cache), seconds.
    pub ctime: i64,
    /// Status change time, nanoseconds.
    pub ctime_ns: u32,
    /// Inode number (files cache).
    pub ino: u64,
    /// Size in bytes (files and streams).
    pub size: u64,
    /// Content chunks in order (files and streams).
    pub chunks: Vec<Id>,
    /// Symlink target, raw bytes.
    pub target: Vec<u8>,
}

impl Entry {
    /// An empty entry of `kind` at `path`.
    pub fn new(kind: EntryKind, path: Vec<u8>) -> Entry {
        Entry {
            kind,
            path,
            mode: 0,
            uid: 0,
            gid: 0,
            mtime: 0,
            mtime_ns: 0,
            ctime: 0,
            ctime_ns: 0,
            ino: 0,
            size: 0,
            chunks: Vec::new(),
            target: Vec::new(),
        }
    }

    /// The path as text (lossy for non UTF-8 names).
    pub fn path_lossy(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }
}

/// Encodes a tree.
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut o = Vec::with_capacity(64 + entries.len() * 96);
    o.extend_from_slice(TREE_MAGIC);
    o.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for e in entries {
        o.push(e.kind as u8);
        put_bytes(&mut o, &e.path);
        for v in [e.mode, e.uid, e.gid, e.mtime_ns, e.ctime_ns] {
            o.extend_from_slice(&v.to_le_bytes());
        }
        o.extend_from_slice(&e.mtime.to_le_bytes());
        o.extend_from_slice(&e.ctime.to_le_bytes());
        o.extend_from_slice(&e.ino.to_le_bytes());
        o.extend_from_slice(&e.size.to_le_bytes());
        o.extend_from_slice(&(e.chunks.len() as u32).to_le_bytes());
        for c in &e.chunks {
            o.extend_from_slice(&c.0);
        }
        put_bytes(&mut o, &e.target);
    }
    o
}

fn put_bytes(o: &mut Vec<u8>, b: &[u8]) {
    o.extend_from_slice(&(b.len() as u32).to_le_bytes());
    o.extend_from_slice(b);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()? as usize;
        Some(self.take(n)?.to_vec())
    }
}

/// Decodes a tree.
pub fn decode(b: &[u8]) -> Result<Vec<Entry>> {
    decode_opt(b).ok_or_else(|| Error::integrity("snapshot tree", "malformed tree encoding"))
}

fn decode_opt(b: &[u8]) -> Option<Vec<Entry>> {
    let mut r = Reader(b.strip_prefix(TREE_MAGIC)?);
    let n = r.u64()? as usize;
    let mut out = Vec::with_capacity(n.min(1 << 24));
    for _ in 0..n {
        let kind = EntryKind::from_u8(r.take(1)?[0])?;
        let path = r.bytes()?;
        let (mode, uid, gid, mtime_ns, ctime_ns) =
            (r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?);
        let mtime = r.u64()? as i64;
        let ctime = r.u64()? as i64;
        let ino = r.u64()?;
        let size = r.u64()?;
        let nc = r.u32()? as usize;
        let raw = r.take(nc.checked_mul(32)?)?;
        let chunks = raw
            .chunks_exact(32)
            .map(|c| Id(c.try_into().expect("32")))
            .collect();
        let target = r.bytes()?;
        out.push(Entry {
            kind,
            path,
            mode,
            uid,
            gid,
            mtime,
            mtime_ns,
            ctime,
            ctime_ns,
            ino,
            size,
            chunks,
            target,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_round_trip() {
        let mut e = Entry::new(EntryKind::File, b"a/b\xffc".to_vec());
        e.mode = 0o100644;
        e.mtime = -5;
        e.chunks = vec![Id([1; 32]), Id([2; 32])];
        let mut s = Entry::new(EntryKind::Symlink, b"a/l".to_vec());
        s.target = b"../x".to_vec();
        let t = vec![e, s];
        assert_eq!(decode(&encode(&t)).unwrap(), t);
        assert!(decode(&encode(&t)[..20]).is_err());
    }
}
