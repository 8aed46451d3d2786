//! The chunk index: chunk id -> (pack, offset, length).
//!
//! Index files hold, for a set of packs, every blob entry of those packs.
//! They are zstd-compressed, sealed (AAD "vigil index") and named by the
//! BLAKE3 hash of their stored bytes, so a damaged index file is detected
//! and skipped; its packs are then re-indexed from their trailers.

use std::collections::HashMap;

use crate::backend::{Backend, FileKind};
use crate::crypto::Keys;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::pack::{BlobEntry, ENTRY_LEN};

const INDEX_MAGIC: &[u8; 8] = b"VGINDX01";
const INDEX_AAD: &[u8] = b"vigil index";

/// Location of one chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Index into [`Index::packs`].
    pub pack: u32,
    /// Byte offset of the sealed blob.
    pub offset: u32,
    /// Length of the sealed blob.
    pub len: u32,
    /// Plaintext length.
    pub raw_len: u32,
    /// Whether the payload is compressed.
    pub compressed: bool,
}

/// The in-memory index of a repository.
#[derive(Debug, Default, Clone)]
pub struct Index {
    /// Pack names, referenced by position from [`Location::pack`].
    pub packs: Vec<Id>,
    pack_pos: HashMap<Id, u32>,
    chunks: HashMap<Id, Location>,
    /// Index files the index was loaded from.
    pub files: Vec<String>,
    /// Index files that failed to load (damaged), with the reason.
    pub damaged_files: Vec<(String, String)>,
}

impl Index {
    /// Adds every entry of a pack.
    pub fn add_pack(&mut self, pack: Id, entries: &[BlobEntry]) {
        let pos = *self.pack_pos.entry(pack).or_insert_with(|| {
            self.packs.push(pack);
            (self.packs.len() - 1) as u32
        });
        for e in entries {
            self.chunks.entry(e.id).or_insert(Location {
                pack: pos,
                offset: e.offset,
                len: e.len,
                raw_len: e.raw_len,
                compressed: e.compressed,
            });
        }
    }

    /// Looks a chunk up.
    pub fn get(&self, id: &Id) -> Option<&Location> {
        self.chunks.get(id)
    }

    /// Whether a chunk is stored.
    pub fn contains(&self, id: &Id) -> bool {
        self.chunks.contains_key(id)
    }

    /// Whether a pack is indexed.
    pub fn has_pack(&self, pack: &Id) -> bool {
        self.pack_pos.contains_key(pack)
    }

    /// The pack name of a location.
    pub fn pack_name(&self, loc: &Location) -> Id {
        self.packs[loc.pack as usize]
    }

    /// Number of chunks.
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Every chunk and its location.
    pub fn iter(&self) -> impl Iterator<Item = (&Id, &Location)> {
        self.chunks.iter()
    }

    /// Entries grouped per pack (used by verify and prune).
    pub fn by_pack(&self) -> HashMap<Id, Vec<BlobEntry>> {
        let mut out: HashMap<Id, Vec<BlobEntry>> = HashMap::new();
        for (id, l) in &self.chunks {
            out.entry(self.packs[l.pack as usize])
                .or_default()
                .push(BlobEntry {
                    id: *id,
                    offset: l.offset,
                    len: l.len,
                    raw_len: l.raw_len,
                    compressed: l.compressed,
                });
        }
        for v in out.values_mut() {
            v.sort_by_key(|e| e.offset);
        }
        out
    }

    /// Loads every index file of the repository.
    pub fn load(backend: &dyn Backend, keys: &Keys) -> Result<Index> {
        let mut idx = Index::default();
        for f in backend.list(FileKind::Index)? {
            match read_index_file(backend, keys, &f.name) {
                Ok(packs) => {
                    for (p, entries) in packs {
                        idx.add_pack(p, &entries);
                    }
                    idx.files.push(f.name);
                }
                Err(Error::NotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(file = %f.name, error = %e, "skipping damaged index file");
                    idx.damaged_files.push((f.name, e.to_string()));
                }
            }
        }
        Ok(idx)
    }
}

/// Reads and checks one index file.
pub fn read_index_file(
    backend: &dyn Backend,
    keys: &Keys,
    name: &str,
) -> Result<Vec<(Id, Vec<BlobEntry>)>> {
    let what = format!("index {name}");
    let sealed = backend.get(FileKind::Index, name)?;
    if Id::hash_of(&sealed).to_hex() != name {
        return Err(Error::integrity(&what, "content does not match its name"));
    }
    let comp = keys.open(INDEX_AAD, &sealed, &what)?;
    let plain = zstd::bulk::decompress(&comp, 1 << 30).map_err(|e| Error::integrity(&what, e))?;
    decode(&plain).ok_or_else(|| Error::integrity(&what, "malformed"))
}

fn decode(b: &[u8]) -> Option<Vec<(Id, Vec<BlobEntry>)>> {
    let rest = b.strip_prefix(INDEX_MAGIC)?;
    let n = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let mut pos = 4;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let name = Id(rest.get(pos..pos + 32)?.try_into().ok()?);
        let cnt = u32::from_le_bytes(rest.get(pos + 32..pos + 36)?.try_into().ok()?) as usize;
        pos += 36;
        let body = rest.get(pos..pos + cnt * ENTRY_LEN)?;
        out.push((
            name,
            body.chunks_exact(ENTRY_LEN)
                .map(BlobEntry::decode)
                .collect(),
        ));
        pos += cnt * ENTRY_LEN;
    }
    Some(out)
}

/// Writes one index file describing `packs`; returns its name.
pub fn write_index_file(
    backend: &dyn Backend,
    keys: &Keys,
    packs: &[(Id, Vec<BlobEntry>)],
) -> Result<String> {
    let mut plain = INDEX_MAGIC.to_vec();
    plain.extend_from_slice(&(packs.len() as u32).to_le_bytes());
    for (name, entries) in packs {
        plain.extend_from_slice(&name.0);
        plain.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for e in entries {
            e.encode(&mut plain);
        }
    }
    let comp = zstd::bulk::compress(&plain, 3).map_err(|e| Error::io("index compression", e))?;
    let sealed = keys.seal(INDEX_AAD, &comp);
    let name = Id::hash_of(&sealed).to_hex();
    backend.put_atomic(FileKind::Index, &name, &[&sealed])?;
    Ok(name)
}
