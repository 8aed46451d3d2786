//! The portable export archive (format version 1; see `docs/EXPORT-FORMAT.md`).
//!
//! ```text
//! header   64 bytes   "VIGILEXP", version u32 LE, reserved u32, manifest length u64 LE,
//!                     BLAKE3 of the manifest (32 bytes), body length u64 LE
//! manifest            JSON: every member with path, type, mode, mtime, size,
//!                     stored size, BLAKE3 of the content, symlink target
//! body                the data members in manifest order, each one zstd frame
//! trailer  16 bytes   "VGXEND01", length of everything before the trailer u64 LE
//! ```
//!
//! An archive is trusted only after [`reader::validate`] has read all of it:
//! header, manifest hash, every member's size and hash, the trailer, and the
//! absence of trailing bytes. Extraction ([`extract`]) never writes outside its
//! target and never overwrites without being told to.

pub mod extract;
pub mod manifest;
pub mod reader;
pub mod writer;

pub use manifest::{DatabaseInfo, Manifest, Member, MemberKind};
pub use reader::{ArchiveReader, validate};
pub use writer::{ArchiveBuilder, RenderedArchive};

/// First bytes of every archive.
pub const MAGIC: &[u8; 8] = b"VIGILEXP";
/// First bytes of the trailer.
pub const TRAILER_MAGIC: &[u8; 8] = b"VGXEND01";
/// The header's length.
pub const HEADER_LEN: usize = 64;
/// The trailer's length.
pub const TRAILER_LEN: usize = 16;
/// The largest manifest accepted, in bytes.
pub const MAX_MANIFEST: u64 = 256 << 20;
/// The suggested file name extension.
pub const EXTENSION: &str = "vgx";

/// The checksum text of an archive: `blake3:<hex>`.
pub fn checksum_text(hash: &blake3::Hash) -> String {
    format!("blake3:{}", hash.to_hex())
}
