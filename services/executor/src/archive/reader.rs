//! Reading an archive while checking everything it claims: the manifest's
//! hash, each member's size and BLAKE3, the body length, the trailer, and
//! that nothing follows it.

use std::cell::RefCell;
use std::io::{self, BufReader, Read, Take};
use std::rc::Rc;

use super::manifest::{Manifest, Member};
use super::{HEADER_LEN, MAGIC, MAX_MANIFEST, TRAILER_LEN, TRAILER_MAGIC};
use crate::error::{Error, Result};

/// An archive whose header and manifest have been read and checked.
pub struct ArchiveReader<R: Read> {
    src: CountingReader<R>,
    manifest: Manifest,
    body_len: u64,
    head_len: u64,
}

impl<R: Read> std::fmt::Debug for ArchiveReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveReader")
            .field("members", &self.manifest.members.len())
            .finish()
    }
}

/// Reads and checks a whole archive; returns its manifest.
pub fn validate<R: Read>(r: R) -> Result<Manifest> {
    let reader = ArchiveReader::open(r)?;
    let manifest = reader.manifest.clone();
    reader.for_each(|_, _| Ok(()))?;
    Ok(manifest)
}

impl<R: Read> ArchiveReader<R> {
    /// Reads the header and the manifest, and checks both.
    pub fn open(r: R) -> Result<ArchiveReader<R>> {
        let mut src = CountingReader {
            inner: r,
            count: 0,
            eof: false,
        };
        let mut header = [0u8; HEADER_LEN];
        read_exact(&mut src, &mut header, "the header")?;
        if &header[..8] != MAGIC {
            return Err(Error::archive("not a Vigil export archive (bad magic)"));
        }
        let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        if version != super::manifest::VERSION {
            return Err(Error::archive(format!(
                "format version {version} is not supported"
            )));
        }
        if header[12..16] != [0; 4] {
            return Err(Error::archive("reserved header bytes are not zero"));
        }
        let manifest_len = u64::from_le_bytes(header[16..24].try_into().expect("8 bytes"));
        if manifest_len == 0 || manifest_len > MAX_MANIFEST {
            return Err(Error::archive(format!(
                "manifest length {manifest_len} is out of range"
            )));
        }
        let expected_hash: [u8; 32] = header[24..56].try_into().expect("32 bytes");
        let body_len = u64::from_le_bytes(header[56..64].try_into().expect("8 bytes"));
        let mut json = Vec::new();
        (&mut src)
            .take(manifest_len)
            .read_to_end(&mut json)
            .map_err(|e| Error::archive(format!("reading the manifest: {e}")))?;
        if (json.len() as u64) < manifest_len {
            return Err(Error::archive("truncated in the manifest"));
        }
        if blake3::hash(&json).as_bytes() != &expected_hash {
            return Err(Error::archive("the manifest does not match its hash"));
        }
        let manifest: Manifest = serde_json::from_slice(&json)
            .map_err(|e| Error::archive(format!("the manifest is not valid: {e}")))?;
        let needed = manifest.validate()?;
        if needed != body_len {
            return Err(Error::archive(format!(
                "the header says the body has {body_len} bytes, the manifest's members need {needed}"
            )));
        }
        Ok(ArchiveReader {
            src,
            manifest,
            body_len,
            head_len: HEADER_LEN as u64 + manifest_len,
        })
    }

    /// The checked manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Walks the members in order. For a data member `f` gets a reader of its
    /// content that fails unless the content matches the manifest's size and
    /// hash; what `f` leaves unread is read and checked anyway. Ends by
    /// checking the trailer and that nothing follows it.
    pub fn for_each<F>(mut self, mut f: F) -> Result<()>
    where
        F: FnMut(&Member, Option<&mut dyn Read>) -> Result<()>,
    {
        let members = std::mem::take(&mut self.manifest.members);
        for (i, m) in members.iter().enumerate() {
            if !m.kind.has_data() {
                f(m, None)?;
                continue;
            }
            let fault = Rc::new(RefCell::new(None::<String>));
            let name = format!("member {i} ({:?})", m.path);
            let mut content = MemberReader::new(&mut self.src, m, name.clone(), fault.clone())?;
            let outcome = f(m, Some(&mut content)).and_then(|()| {
                io::copy(&mut content, &mut io::sink())
                    .map(drop)
                    .map_err(|e| Error::archive(format!("{name}: {e}")))
            });
            drop(content);
            if self.src.eof {
                return Err(Error::archive(format!(
                    "truncated: the archive ends inside {name}"
                )));
            }
            if let Some(reason) = fault.borrow_mut().take() {
                return Err(Error::archive(reason));
            }
            outcome?;
        }
        if self.src.count != self.head_len + self.body_len {
            return Err(Error::Internal(
                "archive body length drifted from the manifest".into(),
            ));
        }
        let mut trailer = [0u8; TRAILER_LEN];
        read_exact(&mut self.src, &mut trailer, "the trailer")?;
        if &trailer[..8] != TRAILER_MAGIC {
            return Err(Error::archive("the trailer is missing or corrupt"));
        }
        let total = u64::from_le_bytes(trailer[8..].try_into().expect("8 bytes"));
        if total != self.head_len + self.body_len {
            return Err(Error::archive(
                "the trailer's length does not match the archive",
            ));
        }
        let mut extra = [0u8; 1];
        match self.src.read(&mut extra) {
            Ok(0) => Ok(()),
            Ok(_) => Err(Error::archive("unexpected bytes after the trailer")),
            Err(e) => Err(Error::archive(format!("reading after the trailer: {e}"))),
        }
    }
}

fn read_exact<R: Read>(src: &mut CountingReader<R>, buf: &mut [u8], what: &str) -> Result<()> {
    src.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => Error::archive(format!("truncated in {what}")),
        _ => Error::archive(format!("reading {what}: {e}")),
    })
}

struct CountingReader<R> {
    inner: R,
    count: u64,
    eof: bool,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.count += n as u64;
        Ok(n)
    }
}

/// The content of one data member, checked against the manifest.
struct MemberReader<'a, R: Read> {
    dec: Option<zstd::stream::read::Decoder<'static, BufReader<Take<&'a mut CountingReader<R>>>>>,
    hasher: blake3::Hasher,
    count: u64,
    size: u64,
    expected: String,
    name: String,
    fault: Rc<RefCell<Option<String>>>,
    done: bool,
}

impl<'a, R: Read> MemberReader<'a, R> {
    fn new(
        src: &'a mut CountingReader<R>,
        m: &Member,
        name: String,
        fault: Rc<RefCell<Option<String>>>,
    ) -> Result<Self> {
        let dec = zstd::stream::read::Decoder::new(src.take(m.stored_size))
            .map_err(|e| Error::Internal(format!("zstd decoder: {e}")))?
            .single_frame();
        Ok(MemberReader {
            dec: Some(dec),
            hasher: blake3::Hasher::new(),
            count: 0,
            size: m.size,
            expected: m.blake3.to_ascii_lowercase(),
            name,
            fault,
            done: false,
        })
    }

    fn fail(&mut self, reason: String) -> io::Error {
        let msg = format!("{}: {reason}", self.name);
        self.fault.borrow_mut().get_or_insert(msg.clone());
        self.done = true;
        io::Error::new(io::ErrorKind::InvalidData, msg)
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.count != self.size {
            return Err(self.fail(format!(
                "holds {} bytes, the manifest says {}",
                self.count, self.size
            )));
        }
        if self.hasher.finalize().to_hex().as_str() != self.expected {
            return Err(self.fail("content does not match its blake3 hash".into()));
        }
        let buffered = self
            .dec
            .take()
            .map(|d| d.finish())
            .map(|b| b.buffer().len() as u64 + b.into_inner().limit());
        if buffered.unwrap_or(0) != 0 {
            return Err(self.fail("stored size is larger than its compressed data".into()));
        }
        self.done = true;
        Ok(())
    }
}

impl<R: Read> Read for MemberReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let Some(dec) = self.dec.as_mut() else {
            return Ok(0);
        };
        let n = match dec.read(buf) {
            Ok(n) => n,
            Err(e) => {
                return Err(self.fail(format!("compressed data is corrupt or truncated: {e}")));
            }
        };
        if n == 0 {
            self.finish()?;
            return Ok(0);
        }
        self.count += n as u64;
        if self.count > self.size {
            return Err(self.fail(format!(
                "holds more bytes than the {} the manifest says",
                self.size
            )));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
