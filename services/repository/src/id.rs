//! 32-byte identifiers: chunk ids (keyed BLAKE3) and object names.

use std::fmt;

use crate::error::{Error, Result};

/// A 32-byte identifier, shown as 64 lowercase hex digits.
///
/// Chunk ids are the keyed BLAKE3 hash of the chunk's plaintext; pack names
/// are random; index and snapshot names are the BLAKE3 hash of the stored file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub [u8; 32]);

/// The id of a chunk (keyed BLAKE3 of its plaintext).
pub type ChunkId = Id;

/// The id of a snapshot (BLAKE3 of its stored file).
pub type SnapshotId = Id;

impl Id {
    /// A fresh random id (pack names, lock names).
    pub fn random() -> Id {
        let mut b = [0u8; 32];
        rand::fill(&mut b);
        Id(b)
    }

    /// The unkeyed BLAKE3 hash of `data` (names of index and snapshot files).
    pub fn hash_of(data: &[u8]) -> Id {
        Id(*blake3::hash(data).as_bytes())
    }

    /// The id as 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 8 hex digits, for display.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Id> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b).map_err(|e| Error::InvalidArgument {
            field: "id",
            reason: format!("{s:?} is not 64 hex digits: {e}"),
        })?;
        Ok(Id(b))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

impl std::str::FromStr for Id {
    type Err = Error;
    fn from_str(s: &str) -> Result<Id> {
        Id::from_hex(s)
    }
}

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Id, D::Error> {
        let s = String::deserialize(d)?;
        Id::from_hex(&s).map_err(serde::de::Error::custom)
    }
}
