//! Archive checksums written as `algorithm:hex`, such as `blake3:…` or `sha256:…`.

use std::fmt;

use sha2::Digest;

use crate::error::{Error, Result};

/// Supported checksum algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// BLAKE3, 32-byte output (the executor's default).
    Blake3,
    /// SHA-256.
    Sha256,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Blake3 => "blake3",
            Algorithm::Sha256 => "sha256",
        }
    }
}

/// A parsed checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    algorithm: Algorithm,
    digest: Vec<u8>,
}

impl Checksum {
    /// Parses `algorithm:hex`; the hex part is case-insensitive.
    pub fn parse(text: &str) -> Result<Self> {
        let (alg, hex_digest) = text
            .split_once(':')
            .ok_or_else(|| Error::invalid("checksum", format!("{text:?} is not algorithm:hex")))?;
        let algorithm = match alg.to_ascii_lowercase().as_str() {
            "blake3" => Algorithm::Blake3,
            "sha256" | "sha-256" => Algorithm::Sha256,
            other => {
                return Err(Error::invalid(
                    "checksum",
                    format!("algorithm {other:?} is not supported"),
                ));
            }
        };
        let digest = hex::decode(hex_digest)
            .map_err(|e| Error::invalid("checksum", format!("{hex_digest:?} is not hex: {e}")))?;
        if digest.len() != 32 {
            return Err(Error::invalid(
                "checksum",
                format!("expected 32 bytes, got {}", digest.len()),
            ));
        }
        Ok(Self { algorithm, digest })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// An incremental hasher of the same algorithm.
    pub fn hasher(&self) -> Hasher {
        match self.algorithm {
            Algorithm::Blake3 => Hasher::Blake3(Box::default()),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        }
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), hex::encode(&self.digest))
    }
}

/// An incremental hasher producing a [`Checksum`].
pub enum Hasher {
    /// BLAKE3.
    Blake3(Box<blake3::Hasher>),
    /// SHA-256.
    Sha256(sha2::Sha256),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hasher")
    }
}

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Blake3(h) => {
                h.update(bytes);
            }
            Hasher::Sha256(h) => h.update(bytes),
        }
    }

    /// The checksum of everything fed.
    pub fn finish(self) -> Checksum {
        match self {
            Hasher::Blake3(h) => Checksum {
                algorithm: Algorithm::Blake3,
                digest: h.finalize().as_bytes().to_vec(),
            },
            Hasher::Sha256(h) => Checksum {
                algorithm: Algorithm::Sha256,
                digest: h.finalize().to_vec(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blake3_round_trips_and_detects_change() {
        let expected = format!("blake3:{}", blake3::hash(b"archive bytes").to_hex());
        let parsed =
            Checksum::parse(&expected.to_uppercase().replacen("BLAKE3", "blake3", 1)).unwrap();
        let mut h = parsed.hasher();
        h.update(b"archive ");
        h.update(b"bytes");
        assert_eq!(h.finish(), parsed);
        let mut h = parsed.hasher();
        h.update(b"archive bytez");
        assert_ne!(h.finish(), parsed);
        assert_eq!(parsed.to_string(), expected);
    }

    #[test]
    fn sha256_is_supported() {
        let hex_digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let parsed = Checksum::parse(&format!("sha256:{hex_digest}")).unwrap();
        let mut h = parsed.hasher();
        h.update(b"abc");
        assert_eq!(h.finish(), parsed);
    }

    #[test]
    fn malformed_checksums_name_the_field() {
        for bad in ["nocolon", "md5:00", "blake3:zz", "blake3:00"] {
            let err = Checksum::parse(bad).unwrap_err();
            assert!(err.to_string().starts_with("checksum: "), "{bad}: {err}");
        }
    }
}
