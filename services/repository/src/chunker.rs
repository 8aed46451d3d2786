//! Keyed content-defined chunking (FastCDC 2020 with a secret gear table).
//!
//! The gear table is 256 words drawn from BLAKE3's XOF keyed with a key
//! derived from the master key, so chunk boundaries depend on the key and
//! do not leak which known content a repository holds.

use std::io::{ErrorKind, Read};

use fastcdc::v2020::{Normalization, cut_gear, select_masks};

use crate::config::ChunkerParams;
use crate::error::{Error, Result};

/// A keyed FastCDC chunker.
pub struct Chunker {
    gear: Box<[u64; 256]>,
    gear_ls: Box<[u64; 256]>,
    min: usize,
    avg: usize,
    max: usize,
    mask_s: u64,
    mask_l: u64,
}

impl std::fmt::Debug for Chunker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Chunker({}/{}/{})", self.min, self.avg, self.max)
    }
}

impl Chunker {
    /// A chunker with `params` and a gear table derived from `key`.
    pub fn new(params: ChunkerParams, key: &[u8; 32]) -> Chunker {
        let mut bytes = [0u8; 256 * 8];
        blake3::Hasher::new_keyed(key)
            .finalize_xof()
            .fill(&mut bytes);
        let mut gear = Box::new([0u64; 256]);
        let mut gear_ls = Box::new([0u64; 256]);
        for i in 0..256 {
            let w = u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            gear[i] = w;
            gear_ls[i] = w << 1;
        }
        let (mask_s, mask_l) = select_masks(params.avg as usize, Normalization::Level1);
        Chunker {
            gear,
            gear_ls,
            min: params.min as usize,
            avg: params.avg as usize,
            max: params.max as usize,
            mask_s,
            mask_l,
        }
    }

    /// The maximum chunk size.
    pub fn max_size(&self) -> usize {
        self.max
    }

    /// Length of the first chunk of `data`. `data` must hold at least
    /// `max` bytes unless it is the end of the stream.
    pub fn cut(&self, data: &[u8]) -> usize {
        let (_, n) = cut_gear(
            data,
            self.min,
            self.avg,
            self.max,
            self.mask_s,
            self.mask_l,
            self.mask_s << 1,
            self.mask_l << 1,
            &self.gear[..],
            &self.gear_ls[..],
        );
        n
    }

    /// All chunk lengths of an in-memory buffer.
    pub fn cuts(&self, data: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            let n = self.cut(&data[pos..]);
            out.push(n);
            pos += n;
        }
        out
    }

    /// Chunks everything `r` yields, calling `f` for each chunk in order.
    /// `buf` is scratch space reused across calls (grown to `2 * max`).
    /// Returns the number of bytes read.
    pub fn chunk_reader<R: Read + ?Sized>(
        &self,
        r: &mut R,
        buf: &mut Vec<u8>,
        mut f: impl FnMut(&[u8]) -> Result<()>,
    ) -> std::result::Result<u64, ChunkReadError> {
        if buf.len() < 2 * self.max {
            buf.resize(2 * self.max, 0);
        }
        let (mut start, mut end, mut eof, mut total) = (0usize, 0usize, false, 0u64);
        loop {
            if !eof && end - start < self.max {
                if start > 0 {
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                }
                while end < buf.len() {
                    match r.read(&mut buf[end..]) {
                        Ok(0) => {
                            eof = true;
                            break;
                        }
                        Ok(n) => end += n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(ChunkReadError::Read(e)),
                    }
                }
            }
            if start == end {
                return Ok(total);
            }
            let n = self.cut(&buf[start..end]);
            f(&buf[start..start + n]).map_err(ChunkReadError::Sink)?;
            start += n;
            total += n as u64;
        }
    }
}

/// Why [`Chunker::chunk_reader`] stopped.
#[derive(Debug)]
pub enum ChunkReadError {
    /// Reading the source failed.
    Read(std::io::Error),
    /// The chunk callback failed.
    Sink(Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small() -> ChunkerParams {
        ChunkerParams {
            min: 1024,
            avg: 4096,
            max: 16384,
        }
    }

    fn data(seed: u64, len: usize) -> Vec<u8> {
        let mut h = blake3::Hasher::new();
        h.update(&seed.to_le_bytes());
        let mut v = vec![0u8; len];
        h.finalize_xof().fill(&mut v);
        v
    }

    fn boundaries(c: &Chunker, d: &[u8]) -> Vec<usize> {
        let mut pos = 0;
        c.cuts(d)
            .into_iter()
            .map(|n| {
                pos += n;
                pos
            })
            .collect()
    }

    #[test]
    fn streaming_matches_in_memory_and_respects_limits() {
        let c = Chunker::new(small(), &[1; 32]);
        let d = data(1, 300_000);
        let mut got = Vec::new();
        let mut buf = Vec::new();
        let mut r: &[u8] = &d;
        c.chunk_reader(&mut r, &mut buf, |ch| {
            got.push(ch.len());
            Ok(())
        })
        .unwrap();
        assert_eq!(got, c.cuts(&d));
        assert_eq!(got.iter().sum::<usize>(), d.len());
        for n in &got[..got.len() - 1] {
            assert!((1024..=16384).contains(n));
        }
    }

    #[test]
    fn boundaries_depend_on_key() {
        let d = data(2, 200_000);
        let a = boundaries(&Chunker::new(small(), &[1; 32]), &d);
        let b = boundaries(&Chunker::new(small(), &[2; 32]), &d);
        assert_ne!(a, b);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Inserting bytes at the front shifts, but does not change, the
        /// boundaries after the first few chunks.
        #[test]
        fn boundaries_stable_under_prefix_insert(seed in 0u64..1000, prefix in 1usize..5000) {
            let c = Chunker::new(small(), &[3; 32]);
            let d = data(seed, 200_000);
            let mut e = data(seed + 10_000, prefix);
            e.extend_from_slice(&d);
            let a: std::collections::BTreeSet<usize> = boundaries(&c, &d).into_iter().collect();
            let b: std::collections::BTreeSet<usize> =
                boundaries(&c, &e).into_iter().filter(|&x| x > prefix).map(|x| x - prefix).collect();
            // Past the resynchronisation point, every boundary of the original
            // appears in the shifted stream.
            let tail: Vec<_> = a.iter().filter(|&&x| x > 40_000).collect();
            prop_assert!(!tail.is_empty());
            for x in tail { prop_assert!(b.contains(x), "boundary {} lost", x); }
        }

        /// A change in the middle only affects chunks near it.
        #[test]
        fn boundaries_local_under_edit(seed in 0u64..1000, at in 50_000usize..150_000) {
            let c = Chunker::new(small(), &[4; 32]);
            let d = data(seed, 200_000);
            let mut e = d.clone();
            e[at] ^= 0xff;
            let a = boundaries(&c, &d);
            let b = boundaries(&c, &e);
            let before_a: Vec<_> = a.iter().filter(|&&x| x < at).collect();
            let before_b: Vec<_> = b.iter().filter(|&&x| x < at).collect();
            prop_assert_eq!(before_a, before_b);
            let after_a: std::collections::BTreeSet<_> = a.iter().filter(|&&x| x > at + 40_000).collect();
            let after_b: std::collections::BTreeSet<_> = b.iter().filter(|&&x| x > at + 40_000).collect();
            prop_assert_eq!(after_a, after_b);
        }
    }
}
