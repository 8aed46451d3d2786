//! The restore plan: every chunk the selected files need, listed once,
//! grouped by pack (packs in the order the files first need them, blobs in
//! pack order) and merged into ranged reads. A chunk shared by many files
//! is read once and written to each of them.

use std::collections::HashMap;
use std::ops::Range;

use crate::backend::ReadCoalescing;
use crate::error::Error;
use crate::id::Id;
use crate::index::Index;
use crate::read_plan::{BlobRef, coalesce};
use crate::tree::Entry;

/// Where one chunk's plaintext goes: a file (by position in the restore's
/// file list) and the byte offset in it.
pub(super) type Use = (usize, u64);

/// What to read, and for whom.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// Every needed chunk once, grouped by pack.
    pub blobs: Vec<BlobRef>,
    /// For each of `blobs`, where its plaintext goes.
    pub uses: Vec<Vec<Use>>,
    /// Runs of `blobs` read with one request each.
    pub reads: Vec<Range<usize>>,
    /// Files that cannot be planned (a chunk missing from the index).
    pub unplanned: Vec<(usize, Error)>,
}

/// Plans the reads for `files`.
pub(super) fn plan(index: &Index, files: &[&Entry], c: ReadCoalescing) -> Plan {
    let mut slot: HashMap<Id, usize> = HashMap::new();
    let mut pack_rank: HashMap<u32, usize> = HashMap::new();
    let (mut blobs, mut uses) = (Vec::<BlobRef>::new(), Vec::<Vec<Use>>::new());
    let mut unplanned = Vec::new();
    for (f, e) in files.iter().enumerate() {
        let refs = match e
            .chunks
            .iter()
            .map(|id| BlobRef::find(index, id))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(r) => r,
            Err(err) => {
                unplanned.push((f, err));
                continue;
            }
        };
        let mut offset = 0u64;
        for b in refs {
            let rank = pack_rank.len();
            pack_rank.entry(b.loc.pack).or_insert(rank);
            let i = *slot.entry(b.id).or_insert_with(|| {
                blobs.push(b);
                uses.push(Vec::new());
                blobs.len() - 1
            });
            uses[i].push((f, offset));
            offset += b.loc.raw_len as u64;
        }
    }
    let mut order: Vec<usize> = (0..blobs.len()).collect();
    order.sort_by_key(|&i| (pack_rank[&blobs[i].loc.pack], blobs[i].loc.offset));
    let blobs: Vec<BlobRef> = order.iter().map(|&i| blobs[i]).collect();
    let uses = order
        .iter()
        .map(|&i| std::mem::take(&mut uses[i]))
        .collect();
    let reads = coalesce(&blobs, c);
    Plan {
        blobs,
        uses,
        reads,
        unplanned,
    }
}
