//! Pack files: many sealed chunks followed by a sealed trailer.
//!
//! ```text
//! "VGPACK01"                         8-byte magic
//! blob 0 .. blob n-1                 each: nonce || ciphertext || tag
//! trailer                            sealed list of entries (AAD "vigil pack trailer")
//! trailer length                     u32 little endian
//! ```
//!
//! The trailer repeats what the index says about this pack, so a pack
//! written by a backup that died before its index was written can be
//! indexed again by reading the last bytes of the pack.

use crate::crypto::Keys;
use crate::error::{Error, Result};
use crate::id::Id;

/// The pack magic.
pub const PACK_MAGIC: &[u8; 8] = b"VGPACK01";
const TRAILER_AAD: &[u8] = b"vigil pack trailer";
/// Size of one serialized entry.
pub const ENTRY_LEN: usize = 32 + 4 + 4 + 4 + 1;

/// Where one chunk lives inside a pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobEntry {
    /// The chunk id.
    pub id: Id,
    /// Byte offset of the sealed blob in the pack.
    pub offset: u32,
    /// Length of the sealed blob.
    pub len: u32,
    /// Length of the chunk's plaintext (after decompression).
    pub raw_len: u32,
    /// Whether the sealed payload is zstd-compressed.
    pub compressed: bool,
}

impl BlobEntry {
    /// Appends the fixed-size encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.raw_len.to_le_bytes());
        out.push(self.compressed as u8);
    }

    /// Decodes one entry from exactly [`ENTRY_LEN`] bytes.
    pub fn decode(b: &[u8]) -> BlobEntry {
        let u = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        BlobEntry {
            id: Id(b[..32].try_into().expect("32 bytes")),
            offset: u(32),
            len: u(36),
            raw_len: u(40),
            compressed: b[44] != 0,
        }
    }
}

/// Encodes a list of entries.
pub fn encode_entries(entries: &[BlobEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * ENTRY_LEN);
    for e in entries {
        e.encode(&mut out);
    }
    out
}

/// Decodes a list of entries.
pub fn decode_entries(b: &[u8], what: &str) -> Result<Vec<BlobEntry>> {
    if !b.len().is_multiple_of(ENTRY_LEN) {
        return Err(Error::integrity(what, "entry table has a partial entry"));
    }
    Ok(b.chunks_exact(ENTRY_LEN).map(BlobEntry::decode).collect())
}

/// Builds the sealed trailer and its length suffix for a pack.
pub fn trailer(keys: &Keys, entries: &[BlobEntry]) -> Vec<u8> {
    let mut t = keys.seal(TRAILER_AAD, &encode_entries(entries));
    let len = t.len() as u32;
    t.extend_from_slice(&len.to_le_bytes());
    t
}

/// Reads a pack's entries from its trailer, given a way to read ranges.
pub fn read_trailer(
    keys: &Keys,
    name: &str,
    size: u64,
    get_range: impl Fn(u64, u64) -> Result<Vec<u8>>,
) -> Result<Vec<BlobEntry>> {
    let what = format!("pack {name}");
    if size < 12 {
        return Err(Error::integrity(&what, "too short for a trailer"));
    }
    let tail = get_range(size - 4, 4)?;
    let tlen = u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")) as u64;
    if tlen + 12 > size {
        return Err(Error::integrity(&what, "trailer length out of range"));
    }
    let sealed = get_range(size - 4 - tlen, tlen)?;
    let plain = keys.open(TRAILER_AAD, &sealed, &what)?;
    let entries = decode_entries(&plain, &what)?;
    for e in &entries {
        if e.offset < 8 || e.offset as u64 + e.len as u64 > size - 4 - tlen {
            return Err(Error::integrity(&what, "trailer entry out of range"));
        }
    }
    Ok(entries)
}
