//! Bearer tokens: generated from 32 random bytes, stored only as a SHA-256
//! hash, compared in constant time.

use sha2::{Digest, Sha256};

/// Every Vigil token starts with this, so leaked ones are easy to scan for.
pub const PREFIX: &str = "vigil_";

/// A new random token: the prefix and 64 hex digits (256 bits).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// The stored form of a token: its SHA-256, in hex. The token has 256 bits
/// of entropy, so a plain hash (no salt, no stretching) cannot be reversed.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `token` has the shape [`generate`] makes (for early refusal of
/// garbage without a database lookup).
pub fn well_formed(token: &str) -> bool {
    token
        .strip_prefix(PREFIX)
        .is_some_and(|rest| rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_well_formed() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(well_formed(&a));
        assert!(!well_formed("vigil_xyz"));
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
    }

    #[test]
    fn comparison_checks_every_byte() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
