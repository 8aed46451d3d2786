//! Per-snapshot statistics.

use std::collections::HashSet;

use crate::error::Result;
use crate::id::SnapshotId;
use crate::repo::Repository;
use crate::snapshot::{Snapshot, SnapshotSummary};

/// Figures about one snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// The totals recorded at backup time.
    pub summary: SnapshotSummary,
    /// Entries in the tree (files, dirs, symlinks, streams).
    pub entries: u64,
    /// Distinct chunks the snapshot references (including its tree).
    pub unique_chunks: u64,
    /// Their plaintext size.
    pub unique_bytes: u64,
    /// Their stored size (compressed and encrypted).
    pub stored_bytes: u64,
}

impl Repository {
    /// Computes statistics for a snapshot.
    pub fn snapshot_stats(&self, id: &SnapshotId) -> Result<SnapshotStats> {
        let snap: Snapshot = self.snapshot(id)?;
        let index = self.load_index()?;
        let tree = self.load_tree(&index, &snap)?;
        let mut seen = HashSet::new();
        let mut st = SnapshotStats {
            summary: snap.summary.clone(),
            entries: tree.len() as u64,
            ..Default::default()
        };
        for id in snap
            .tree
            .iter()
            .chain(tree.iter().flat_map(|e| e.chunks.iter()))
        {
            if seen.insert(*id)
                && let Some(l) = index.get(id)
            {
                st.unique_bytes += l.raw_len as u64;
                st.stored_bytes += l.len as u64;
            }
        }
        st.unique_chunks = seen.len() as u64;
        Ok(st)
    }
}
