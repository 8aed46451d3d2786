//! Reading many blobs with few requests: blobs of one pack that lie close
//! together are merged into one ranged read (restic reads whole packs for
//! the same reason). On an object store every request costs a round trip,
//! so a restore that asked for each chunk alone spent its time waiting.
//!
//! Reads always go to the store: nothing read here outlives the call that
//! asked for it (a pack deleted behind a running process fails the reads
//! that need it).

use std::collections::VecDeque;
use std::io::Write;
use std::ops::Range;

use crate::backend::{FileKind, ReadCoalescing};
use crate::blob::open_blob_with;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::index::{Index, Location};
use crate::repo::Repository;

/// One blob to read: its chunk id and where the index says it lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlobRef {
    pub id: Id,
    pub loc: Location,
}

impl BlobRef {
    /// Looks a chunk up in the index.
    pub(crate) fn find(index: &Index, id: &Id) -> Result<BlobRef> {
        let loc = index
            .get(id)
            .ok_or_else(|| Error::integrity(format!("chunk {id}"), "missing from the index"))?;
        Ok(BlobRef { id: *id, loc: *loc })
    }

    fn start(&self) -> u64 {
        self.loc.offset as u64
    }

    fn end(&self) -> u64 {
        self.loc.offset as u64 + self.loc.len as u64
    }
}

/// Splits `blobs` (in the order they are wanted) into runs read with one
/// request each: a run stays in one pack, moves forward through it, skips
/// at most `c.max_gap` bytes between blobs and spans at most `c.max_span`
/// bytes (a single larger blob makes a run of its own).
pub(crate) fn coalesce(blobs: &[BlobRef], c: ReadCoalescing) -> Vec<Range<usize>> {
    let mut runs: Vec<Range<usize>> = Vec::new();
    let mut span = (0u64, 0u64);
    for (i, b) in blobs.iter().enumerate() {
        if let Some(run) = runs.last_mut() {
            let first = &blobs[run.start];
            let joins = first.loc.pack == b.loc.pack
                && b.start() >= span.1
                && b.start() - span.1 <= c.max_gap
                && b.end() - span.0 <= c.max_span;
            if joins {
                run.end = i + 1;
                span.1 = b.end();
                continue;
            }
        }
        runs.push(i..i + 1);
        span = (b.start(), b.end());
    }
    runs
}

impl Repository {
    /// Reads one run of blobs (from [`coalesce`]) with one ranged read and
    /// hands each blob's checked plaintext, or its error, to `each` with
    /// its position in `run`. Fails without calling `each` when the read
    /// itself fails (the pack is missing or unreachable). `rehash` as in
    /// [`open_blob_with`].
    pub(crate) fn read_run(
        &self,
        index: &Index,
        run: &[BlobRef],
        rehash: bool,
        mut each: impl FnMut(usize, Result<Vec<u8>>),
    ) -> Result<()> {
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            return Ok(());
        };
        let pack = index.pack_name(&first.loc).to_hex();
        let start = first.start();
        let mut buf = self
            .backend
            .get_range(FileKind::Pack, &pack, start, last.end() - start)?;
        for (i, b) in run.iter().enumerate() {
            let at = (b.start() - start) as usize;
            let sealed = &mut buf[at..at + b.loc.len as usize];
            let l = &b.loc;
            each(
                i,
                open_blob_with(&self.keys, &b.id, sealed, l.compressed, l.raw_len, rehash),
            );
        }
        Ok(())
    }

    /// Writes the plaintext of `ids`, in order, to `w`: runs of them are
    /// read ahead in parallel, at most a few runs beyond the one being
    /// written, so memory stays bounded however long the stream is.
    /// Returns the bytes written; `what` names the output in errors.
    pub(crate) fn stream_chunks(
        &self,
        index: &Index,
        ids: &[Id],
        w: &mut dyn Write,
        what: &str,
    ) -> Result<u64> {
        let blobs = ids
            .iter()
            .map(|id| BlobRef::find(index, id))
            .collect::<Result<Vec<_>>>()?;
        let runs = coalesce(&blobs, self.backend.read_coalescing());
        let window = self.backend.read_parallelism().clamp(1, STREAM_WINDOW);
        let blobs = &blobs;
        std::thread::scope(|s| {
            let (jobs, queue) = crossbeam_channel::unbounded::<(Range<usize>, Reply)>();
            for _ in 0..window.min(runs.len()) {
                let queue = queue.clone();
                s.spawn(move || {
                    for (r, reply) in queue {
                        let _ = reply.send(self.read_run_whole(index, &blobs[r]));
                    }
                });
            }
            let mut runs = runs.into_iter();
            let mut pending = VecDeque::new();
            let mut n = 0u64;
            loop {
                while pending.len() < window
                    && let Some(r) = runs.next()
                {
                    let (reply, answer) = crossbeam_channel::bounded(1);
                    jobs.send((r, reply)).expect("stream readers");
                    pending.push_back(answer);
                }
                let Some(answer) = pending.pop_front() else {
                    return Ok(n);
                };
                for data in answer.recv().expect("stream reader")? {
                    w.write_all(&data).map_err(|e| Error::io(what, e))?;
                    n += data.len() as u64;
                }
            }
        })
    }

    /// Reads one run and returns every blob's plaintext (re-hashed), or
    /// the first error.
    fn read_run_whole(&self, index: &Index, run: &[BlobRef]) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::with_capacity(run.len());
        let mut first_err = None;
        self.read_run(index, run, true, |_, got| match got {
            Ok(d) => out.push(d),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        })?;
        first_err.map_or(Ok(out), Err)
    }
}

/// Runs read ahead of the writer when streaming one entry.
const STREAM_WINDOW: usize = 8;

type Reply = crossbeam_channel::Sender<Result<Vec<Vec<u8>>>>;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn blob(pack: u32, offset: u32, len: u32) -> BlobRef {
        BlobRef {
            id: Id([0; 32]),
            loc: Location {
                pack,
                offset,
                len,
                raw_len: len,
                compressed: false,
            },
        }
    }

    const C: ReadCoalescing = ReadCoalescing {
        max_gap: 100,
        max_span: 1000,
    };

    #[test]
    fn near_blobs_merge_and_far_ones_do_not() {
        let blobs = [
            blob(0, 8, 50),
            blob(0, 58, 50),    // adjacent
            blob(0, 208, 50),   // gap 100: merged
            blob(0, 359, 50),   // gap 101: new run
            blob(1, 409, 50),   // other pack
            blob(1, 300, 50),   // backwards
            blob(1, 350, 2000), // too long to join, read alone
        ];
        assert_eq!(coalesce(&blobs, C), vec![0..3, 3..4, 4..5, 5..6, 6..7]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn runs_cover_every_blob_once_within_limits(
            raw in prop::collection::vec((0u32..3, 0u32..5000, 1u32..400), 0..60)
        ) {
            let blobs: Vec<BlobRef> = raw.iter().map(|&(p, o, l)| blob(p, o, l)).collect();
            let runs = coalesce(&blobs, C);
            let covered: Vec<usize> = runs.iter().flat_map(|r| r.clone()).collect();
            prop_assert_eq!(covered, (0..blobs.len()).collect::<Vec<_>>());
            for r in &runs {
                let run = &blobs[r.clone()];
                prop_assert!(!run.is_empty());
                let span = run.last().unwrap().end() - run[0].start();
                prop_assert!(run.len() == 1 || span <= C.max_span, "span {}", span);
                for w in run.windows(2) {
                    prop_assert_eq!(w[0].loc.pack, w[1].loc.pack);
                    prop_assert!(w[1].start() >= w[0].end());
                    prop_assert!(w[1].start() - w[0].end() <= C.max_gap);
                }
            }
        }
    }
}
