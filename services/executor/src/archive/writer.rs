//! Building an archive: members are compressed into a body file in the
//! staging directory as they come; the header and manifest, which must come
//! first, are rendered once every member is known.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::manifest::{self, DatabaseInfo, Manifest, Member, MemberKind};
use super::{HEADER_LEN, MAGIC, MAX_MANIFEST, TRAILER_MAGIC, checksum_text};
use crate::error::{Error, Result};

/// What a manifest says besides its members.
#[derive(Clone, Debug, Default)]
pub struct ManifestHead {
    /// When the content was taken, RFC 3339.
    pub created: String,
    /// Configuration name.
    pub configuration: String,
    /// `FULL`, `DATABASE` or `EXPORT`.
    pub backup_kind: String,
    /// Job id.
    pub job: String,
    /// Source paths of the file trees.
    pub source_paths: Vec<String>,
    /// The dump, if any.
    pub database: Option<DatabaseInfo>,
}

/// Metadata of one member being added.
#[derive(Clone, Debug, Default)]
pub struct MemberMeta {
    /// Relative path.
    pub path: String,
    /// Permission bits.
    pub mode: u32,
    /// Modification time, seconds.
    pub mtime: i64,
    /// Modification time, nanoseconds.
    pub mtime_nsec: u32,
}

/// Collects members into a body file.
pub struct ArchiveBuilder {
    body: CountingWriter<BufWriter<File>>,
    members: Vec<Member>,
    level: i32,
}

impl std::fmt::Debug for ArchiveBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveBuilder")
            .field("members", &self.members.len())
            .finish()
    }
}

impl ArchiveBuilder {
    /// A builder whose body is an anonymous file in `staging`.
    pub fn new(staging: &Path, level: i32) -> Result<ArchiveBuilder> {
        let file = tempfile::tempfile_in(staging).map_err(|e| Error::io(staging, e))?;
        Ok(ArchiveBuilder {
            body: CountingWriter {
                inner: BufWriter::with_capacity(1 << 20, file),
                count: 0,
            },
            members: Vec::new(),
            level,
        })
    }

    /// Members added so far.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Adds a directory.
    pub fn add_dir(&mut self, meta: MemberMeta) -> Result<()> {
        self.push(meta, MemberKind::Dir, |m| m)
    }

    /// Adds a symlink.
    pub fn add_symlink(&mut self, meta: MemberMeta, target: String) -> Result<()> {
        self.push(meta, MemberKind::Symlink, |m| Member {
            target: Some(target),
            ..m
        })
    }

    /// Adds a file (`engine` is `None`) or a dump stream (`engine` set): `fill`
    /// writes the content, which is hashed and compressed on the way.
    pub fn add_data<F>(&mut self, meta: MemberMeta, engine: Option<String>, fill: F) -> Result<()>
    where
        F: FnOnce(&mut dyn Write) -> Result<()>,
    {
        let kind = if engine.is_some() {
            MemberKind::Stream
        } else {
            MemberKind::File
        };
        manifest::check_path(&meta.path)
            .map_err(|r| Error::archive(format!("{:?}: {r}", meta.path)))?;
        let start = self.body.count;
        let mut enc = zstd::stream::write::Encoder::new(&mut self.body, self.level)
            .map_err(|e| Error::Internal(format!("zstd encoder: {e}")))?;
        let mut hashing = HashingWriter {
            inner: &mut enc,
            hasher: blake3::Hasher::new(),
            count: 0,
        };
        fill(&mut hashing)?;
        let (hash, size) = (hashing.hasher.finalize(), hashing.count);
        enc.finish()
            .map_err(|e| Error::Internal(format!("zstd encoder: {e}")))?;
        let stored_size = self.body.count - start;
        self.members.push(Member {
            path: meta.path,
            kind,
            mode: meta.mode & 0o7777,
            mtime: meta.mtime,
            mtime_nsec: meta.mtime_nsec,
            size,
            stored_size,
            blake3: hash.to_hex().to_string(),
            target: None,
            engine,
        });
        Ok(())
    }

    fn push(
        &mut self,
        meta: MemberMeta,
        kind: MemberKind,
        f: impl FnOnce(Member) -> Member,
    ) -> Result<()> {
        manifest::check_path(&meta.path)
            .map_err(|r| Error::archive(format!("{:?}: {r}", meta.path)))?;
        self.members.push(f(Member {
            path: meta.path,
            kind,
            mode: meta.mode & 0o7777,
            mtime: meta.mtime,
            mtime_nsec: meta.mtime_nsec,
            size: 0,
            stored_size: 0,
            blake3: String::new(),
            target: None,
            engine: None,
        }));
        Ok(())
    }

    /// Renders header, manifest and trailer, and hashes the whole archive.
    pub fn finish(self, head: ManifestHead) -> Result<RenderedArchive> {
        let manifest = Manifest {
            format: manifest::FORMAT.into(),
            version: manifest::VERSION,
            created: head.created,
            configuration: head.configuration,
            backup_kind: head.backup_kind,
            job: head.job,
            source_paths: head.source_paths,
            database: head.database,
            members: self.members,
        };
        let body_len = manifest.validate()?;
        let json =
            serde_json::to_vec(&manifest).map_err(|e| Error::Internal(format!("manifest: {e}")))?;
        if json.len() as u64 > MAX_MANIFEST {
            return Err(Error::archive(format!(
                "manifest would be {} bytes, over the {MAX_MANIFEST} limit",
                json.len()
            )));
        }
        let mut head_bytes = Vec::with_capacity(HEADER_LEN + json.len());
        head_bytes.extend_from_slice(MAGIC);
        head_bytes.extend_from_slice(&manifest::VERSION.to_le_bytes());
        head_bytes.extend_from_slice(&0u32.to_le_bytes());
        head_bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
        head_bytes.extend_from_slice(blake3::hash(&json).as_bytes());
        head_bytes.extend_from_slice(&body_len.to_le_bytes());
        debug_assert_eq!(head_bytes.len(), HEADER_LEN);
        head_bytes.extend_from_slice(&json);
        let mut trailer = [0u8; 16];
        trailer[..8].copy_from_slice(TRAILER_MAGIC);
        trailer[8..].copy_from_slice(&(head_bytes.len() as u64 + body_len).to_le_bytes());

        let mut body = self
            .body
            .inner
            .into_inner()
            .map_err(|e| Error::io("archive body", e.into_error()))?;
        let mut rendered = RenderedArchive {
            size: head_bytes.len() as u64 + body_len + trailer.len() as u64,
            head: head_bytes,
            body: {
                body.flush().map_err(|e| Error::io("archive body", e))?;
                body
            },
            trailer,
            checksum: String::new(),
            manifest,
        };
        let mut hasher = blake3::Hasher::new();
        io::copy(&mut rendered.reader()?, &mut hasher).map_err(|e| Error::io("archive body", e))?;
        rendered.checksum = checksum_text(&hasher.finalize());
        Ok(rendered)
    }
}

/// A finished archive: a head in memory, a body in a staging file, a trailer.
#[derive(Debug)]
pub struct RenderedArchive {
    head: Vec<u8>,
    body: File,
    trailer: [u8; 16],
    /// Total length in bytes.
    pub size: u64,
    /// `blake3:<hex>` of the whole archive.
    pub checksum: String,
    /// The manifest.
    pub manifest: Manifest,
}

impl RenderedArchive {
    /// Reads the archive from its first byte.
    pub fn reader(&mut self) -> Result<impl Read + '_> {
        self.body
            .seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("archive body", e))?;
        Ok(self
            .head
            .as_slice()
            .chain(&self.body)
            .chain(&self.trailer[..]))
    }

    /// Writes the archive to `path` (created new, synced).
    pub fn write_to(&mut self, path: &Path) -> Result<()> {
        let mut f = File::create_new(path).map_err(|e| Error::io(path, e))?;
        io::copy(&mut self.reader()?, &mut f).map_err(|e| Error::io(path, e))?;
        f.sync_all().map_err(|e| Error::io(path, e))
    }
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct HashingWriter<W> {
    inner: W,
    hasher: blake3::Hasher,
    count: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
