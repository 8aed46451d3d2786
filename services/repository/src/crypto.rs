//! Key material and authenticated encryption of every stored object.
//!
//! A sealed object is `nonce (12) || ciphertext || tag (16)`. The associated
//! data binds the object to its role (a chunk's id, or a domain string for
//! index, snapshot and pack-trailer files), so blobs cannot be swapped.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use chacha20poly1305::ChaCha20Poly1305;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::id::Id;

/// Bytes added to every sealed object (nonce and tag).
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The AEAD used for stored objects; recorded in the repository config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CipherKind {
    /// AES-256-GCM (hardware accelerated on x86_64 and aarch64).
    Aes256Gcm,
    /// ChaCha20-Poly1305 (fast without AES instructions).
    ChaCha20Poly1305,
}

enum Cipher {
    Aes(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

impl Cipher {
    fn new(kind: CipherKind, key: &[u8; 32]) -> Cipher {
        match kind {
            CipherKind::Aes256Gcm => Cipher::Aes(Box::new(Aes256Gcm::new(key.into()))),
            CipherKind::ChaCha20Poly1305 => {
                Cipher::ChaCha(Box::new(ChaCha20Poly1305::new(key.into())))
            }
        }
    }

    fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let n = Nonce::from(*nonce);
        let tag = match self {
            Cipher::Aes(c) => c.encrypt_inout_detached(&n, aad, buf.into()),
            Cipher::ChaCha(c) => c.encrypt_inout_detached(&n, aad, buf.into()),
        };
        // Only fails for plaintexts above 64 GiB; chunks are at most a few MiB.
        let tag = tag.expect("aead plaintext within limits");
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&tag);
        out
    }

    fn open(&self, nonce: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
        let n = Nonce::try_from(nonce).expect("nonce length");
        let t = aes_gcm::Tag::try_from(tag).expect("tag length");
        match self {
            Cipher::Aes(c) => c.decrypt_inout_detached(&n, aad, buf.into(), &t).is_ok(),
            Cipher::ChaCha(c) => c.decrypt_inout_detached(&n, aad, buf.into(), &t).is_ok(),
        }
    }
}

/// The repository master key and the keys derived from it.
///
/// Never printed: `Debug` is redacted, and the raw bytes are zeroized on drop.
pub struct Keys {
    master: Zeroizing<[u8; 32]>,
    id_key: Zeroizing<[u8; 32]>,
    gear_key: Zeroizing<[u8; 32]>,
    cipher: Cipher,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    /// Derives the working keys from a 32-byte master key.
    pub fn from_master(master: &[u8; 32], kind: CipherKind) -> Keys {
        let id_key = blake3::derive_key("vigil repository v1 chunk id", master);
        let gear_key = blake3::derive_key("vigil repository v1 chunker gear", master);
        let mut enc = blake3::derive_key("vigil repository v1 encryption", master);
        let cipher = Cipher::new(kind, &enc);
        enc.zeroize();
        Keys {
            master: Zeroizing::new(*master),
            id_key: Zeroizing::new(id_key),
            gear_key: Zeroizing::new(gear_key),
            cipher,
        }
    }

    /// The master key (used only to wrap it into key slots).
    pub(crate) fn master(&self) -> &[u8; 32] {
        &self.master
    }

    /// The key for the chunker's gear table.
    pub(crate) fn gear_key(&self) -> &[u8; 32] {
        &self.gear_key
    }

    /// The chunk id of `data`: keyed BLAKE3.
    pub fn chunk_id(&self, data: &[u8]) -> Id {
        Id(*blake3::keyed_hash(&self.id_key, data).as_bytes())
    }

    /// Encrypts `buf[NONCE_LEN..]` in place, where the caller reserved
    /// `NONCE_LEN` leading bytes; appends the tag.
    pub(crate) fn seal_reserved(&self, aad: &[u8], buf: &mut Vec<u8>) {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        buf[..NONCE_LEN].copy_from_slice(&nonce);
        let tag = self.cipher.seal(&nonce, aad, &mut buf[NONCE_LEN..]);
        buf.extend_from_slice(&tag);
    }

    /// Seals `plain` into a new buffer.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut buf = Vec::with_capacity(plain.len() + SEAL_OVERHEAD);
        buf.extend_from_slice(&[0u8; NONCE_LEN]);
        buf.extend_from_slice(plain);
        self.seal_reserved(aad, &mut buf);
        buf
    }

    /// Opens a sealed object in place; returns the plaintext range of `buf`.
    pub fn open_in_place<'a>(&self, aad: &[u8], buf: &'a mut [u8], what: &str) -> Result<&'a [u8]> {
        if buf.len() < SEAL_OVERHEAD {
            return Err(Error::integrity(what, "sealed object too short"));
        }
        let n = buf.len();
        let (nonce_body, tag) = buf.split_at_mut(n - TAG_LEN);
        let (nonce, body) = nonce_body.split_at_mut(NONCE_LEN);
        if !self.cipher.open(nonce, aad, body, tag) {
            return Err(Error::integrity(what, "authentication failed"));
        }
        Ok(&buf[NONCE_LEN..n - TAG_LEN])
    }

    /// Opens a sealed object into a new buffer.
    pub fn open(&self, aad: &[u8], sealed: &[u8], what: &str) -> Result<Vec<u8>> {
        let mut buf = sealed.to_vec();
        let len = self.open_in_place(aad, &mut buf, what)?.len();
        buf.copy_within(NONCE_LEN..NONCE_LEN + len, 0);
        buf.truncate(len);
        Ok(buf)
    }
}

/// Length of the nonce prefix reserved by [`Keys::seal_reserved`].
pub(crate) const RESERVED: usize = NONCE_LEN;

/// Seals `plain` with a one-off key (key wrapping in the config's key slots).
pub(crate) fn wrap(kek: &[u8; 32], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let c = Cipher::new(CipherKind::Aes256Gcm, kek);
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce);
    let mut buf = nonce.to_vec();
    buf.extend_from_slice(plain);
    let tag = c.seal(&nonce, aad, &mut buf[NONCE_LEN..]);
    buf.extend_from_slice(&tag);
    buf
}

/// Opens a wrapped key; `None` when the key-encryption key is wrong.
pub(crate) fn unwrap(kek: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < SEAL_OVERHEAD {
        return None;
    }
    let c = Cipher::new(CipherKind::Aes256Gcm, kek);
    let mut buf = Zeroizing::new(sealed.to_vec());
    let n = buf.len();
    let (nonce_body, tag) = buf.split_at_mut(n - TAG_LEN);
    let (nonce, body) = nonce_body.split_at_mut(NONCE_LEN);
    if !c.open(nonce, aad, body, tag) {
        return None;
    }
    Some(Zeroizing::new(buf[NONCE_LEN..n - TAG_LEN].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper_detected() {
        for kind in [CipherKind::Aes256Gcm, CipherKind::ChaCha20Poly1305] {
            let k = Keys::from_master(&[7u8; 32], kind);
            let sealed = k.seal(b"aad", b"hello world");
            assert_eq!(k.open(b"aad", &sealed, "t").unwrap(), b"hello world");
            assert!(k.open(b"other", &sealed, "t").is_err());
            let mut bad = sealed.clone();
            bad[14] ^= 1;
            assert!(k.open(b"aad", &bad, "t").is_err());
        }
    }
}
