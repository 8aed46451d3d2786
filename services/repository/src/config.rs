//! The repository `config` object: format parameters and key slots.
//!
//! The master key is random and never stored in the clear. Each key slot
//! wraps it with a key-encryption key (KEK) derived either from a passphrase
//! (Argon2id with the slot's salt and cost) or from a key file. The format
//! parameters are bound into the wrapping's associated data, so editing them
//! makes every slot fail to open.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{self, CipherKind};
use crate::error::{Error, Result};

/// The current format version.
pub const FORMAT_VERSION: u32 = 1;

/// Where the key comes from when a repository is created or opened.
#[derive(Clone)]
pub enum KeySource {
    /// A passphrase, stretched with Argon2id.
    Passphrase(Zeroizing<String>),
    /// A key file holding 32 random bytes as 64 hex digits
    /// (see [`generate_key_file`]).
    KeyFile(PathBuf),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Passphrase(_) => f.write_str("Passphrase(<redacted>)"),
            KeySource::KeyFile(p) => write!(f, "KeyFile({})", p.display()),
        }
    }
}

impl KeySource {
    /// A passphrase key source.
    pub fn passphrase(p: impl Into<String>) -> KeySource {
        KeySource::Passphrase(Zeroizing::new(p.into()))
    }
}

/// Writes a new random key file (mode 0600). The file appears complete or
/// not at all: it is written to a temporary name and hard-linked into
/// place, so a process racing another reads either no file or the whole
/// key. Fails with [`Error::AlreadyExists`] if the file exists.
pub fn generate_key_file(path: &Path) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut k = Zeroizing::new([0u8; 32]);
    rand::fill(&mut k[..]);
    let hex = Zeroizing::new(hex::encode(&k[..]));
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".tmp-key-{}", crate::id::Id::random().short()));
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(hex.as_bytes())?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    let _ = std::fs::remove_file(&tmp);
    match res {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::AlreadyExists(path.display().to_string()))
        }
        Err(e) => Err(Error::io(path.display(), e)),
    }
}

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

/// Content-defined chunking parameters (bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    /// Minimum chunk size.
    pub min: u32,
    /// Average (target) chunk size.
    pub avg: u32,
    /// Maximum chunk size.
    pub max: u32,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        ChunkerParams {
            min: 512 << 10,
            avg: 1 << 20,
            max: 8 << 20,
        }
    }
}

/// One key slot: a wrapped copy of the master key.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum KeySlot {
    /// Wrapped with Argon2id(passphrase, salt).
    Passphrase {
        /// Argon2id cost.
        kdf: KdfParams,
        /// Salt, hex.
        salt: String,
        /// The sealed master key, hex.
        wrapped: String,
    },
    /// Wrapped with a key derived from a key file's contents.
    KeyFile {
        /// The sealed master key, hex.
        wrapped: String,
    },
}

/// The stored `config` object (plain JSON; secrets only in wrapped form).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Format version.
    pub version: u32,
    /// Random repository id, hex.
    pub id: String,
    /// AEAD for stored objects.
    pub cipher: CipherKind,
    /// Chunking parameters.
    pub chunker: ChunkerParams,
    /// zstd level for chunks.
    pub compression_level: i32,
    /// Target pack size in bytes.
    pub pack_size: u32,
    /// Key slots; any one of them opens the repository.
    pub key_slots: Vec<KeySlot>,
}

impl Config {
    fn aad(&self) -> Vec<u8> {
        format!(
            "vigil master key v{} {} {:?} {}/{}/{} {} {}",
            self.version,
            self.id,
            self.cipher,
            self.chunker.min,
            self.chunker.avg,
            self.chunker.max,
            self.compression_level,
            self.pack_size
        )
        .into_bytes()
    }

    /// Adds a slot wrapping `master` for `source`.
    pub(crate) fn add_slot(
        &mut self,
        source: &KeySource,
        master: &[u8; 32],
        kdf: KdfParams,
    ) -> Result<()> {
        let aad = self.aad();
        let slot = match source {
            KeySource::Passphrase(p) => {
                let mut salt = [0u8; 16];
                rand::fill(&mut salt);
                let kek = passphrase_kek(p, &salt, kdf)?;
                KeySlot::Passphrase {
                    kdf,
                    salt: hex::encode(salt),
                    wrapped: hex::encode(crypto::wrap(&kek, &aad, master)),
                }
            }
            KeySource::KeyFile(path) => {
                let kek = keyfile_kek(path)?;
                KeySlot::KeyFile {
                    wrapped: hex::encode(crypto::wrap(&kek, &aad, master)),
                }
            }
        };
        self.key_slots.push(slot);
        Ok(())
    }

    /// Recovers the master key with `source`, trying each matching slot.
    pub(crate) fn unlock(&self, source: &KeySource) -> Result<Zeroizing<[u8; 32]>> {
        if self.version != FORMAT_VERSION {
            return Err(Error::Format(format!("config version {}", self.version)));
        }
        let aad = self.aad();
        let keyfile_kek = match source {
            KeySource::KeyFile(p) => Some(keyfile_kek(p)?),
            KeySource::Passphrase(_) => None,
        };
        for slot in &self.key_slots {
            let opened = match (slot, source) {
                (KeySlot::Passphrase { kdf, salt, wrapped }, KeySource::Passphrase(p)) => {
                    let salt = hex::decode(salt).map_err(|e| Error::Format(e.to_string()))?;
                    let kek = passphrase_kek(p, &salt, *kdf)?;
                    crypto::unwrap(&kek, &aad, &hex::decode(wrapped).unwrap_or_default())
                }
                (KeySlot::KeyFile { wrapped }, KeySource::KeyFile(_)) => {
                    let kek = keyfile_kek.as_ref().expect("key file kek");
                    crypto::unwrap(kek, &aad, &hex::decode(wrapped).unwrap_or_default())
                }
                _ => None,
            };
            if let Some(m) = opened.filter(|m| m.len() == 32) {
                let mut out = Zeroizing::new([0u8; 32]);
                out.copy_from_slice(&m);
                return Ok(out);
            }
        }
        Err(Error::WrongKey)
    }
}

fn passphrase_kek(p: &str, salt: &[u8], kdf: KdfParams) -> Result<Zeroizing<[u8; 32]>> {
    let params =
        argon2::Params::new(kdf.m_cost_kib, kdf.t_cost, kdf.p_cost, Some(32)).map_err(|e| {
            Error::InvalidArgument {
                field: "kdf",
                reason: e.to_string(),
            }
        })?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    a.hash_password_into(p.as_bytes(), salt, &mut out[..])
        .map_err(|e| Error::InvalidArgument {
            field: "passphrase",
            reason: e.to_string(),
        })?;
    Ok(out)
}

fn keyfile_kek(path: &Path) -> Result<Zeroizing<[u8; 32]>> {
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?);
    let mut raw = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), &mut raw[..]).map_err(|_| Error::InvalidArgument {
        field: "key_file",
        reason: format!("{} does not hold 64 hex digits", path.display()),
    })?;
    Ok(Zeroizing::new(blake3::derive_key(
        "vigil repository v1 key file kek",
        &raw[..],
    )))
}
