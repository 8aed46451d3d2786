//! Forget and prune: apply a retention policy and free space.
//!
//! Under the exclusive lock, in this order (each step durable before the
//! next, so a kill at any point leaves a valid repository):
//! 1. select snapshots with [`crate::retention::select`]; stop here on dry run
//!    (the report still shows the pack plan);
//! 2. delete the forgotten snapshot files;
//! 3. mark: collect every chunk the remaining snapshots use; classify packs
//!    as fully used (kept), unused (deleted) or partly used; partly used
//!    packs with more than `repack_threshold` unused bytes are repacked;
//! 4. repack: copy the still-used sealed blobs (no re-encryption needed:
//!    blobs are position independent) into new packs, written durably;
//! 5. write one new index covering every kept and new pack, durably;
//! 6. delete the old index files (the new one already covers all packs);
//! 7. delete unused and repacked packs. A crash before 7 only leaves
//!    unreferenced packs, which the next prune deletes.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::backend::FileKind;
use crate::blob::{SealedBlob, open_blob};
use crate::error::{Error, Result};
use crate::id::{Id, SnapshotId};
use crate::index::{Index, write_index_file};
use crate::lock::LockGuard;
use crate::pack::BlobEntry;
use crate::packer::write_pack;
use crate::repo::Repository;
use crate::retention::{KeepReason, RetentionPolicy, select};
use crate::snapshot::SnapshotInfo;

/// Which snapshots a policy applies to; the others are left alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotFilter {
    /// Labels that must all be present with these values.
    pub labels: BTreeMap<String, String>,
    /// Tags that must all be present.
    pub tags: Vec<String>,
    /// Host name that must match.
    pub hostname: Option<String>,
}

impl SnapshotFilter {
    /// Whether `s` matches.
    pub fn matches(&self, s: &crate::snapshot::Snapshot) -> bool {
        self.labels.iter().all(|(k, v)| s.labels.get(k) == Some(v))
            && self.tags.iter().all(|t| s.tags.contains(t))
            && self.hostname.as_ref().is_none_or(|h| *h == s.hostname)
    }
}

/// Options for [`Repository::prune`].
#[derive(Clone, Debug)]
pub struct PruneOptions {
    /// The retention policy.
    pub policy: RetentionPolicy,
    /// The snapshots the policy applies to.
    pub filter: SnapshotFilter,
    /// "Now" for `keep_within_days` (default: the current time).
    pub now: Option<DateTime<Utc>>,
    /// Only report what would happen.
    pub dry_run: bool,
    /// Repack a partly used pack when more than this fraction is unused.
    pub repack_threshold: f64,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            policy: RetentionPolicy::default(),
            filter: SnapshotFilter::default(),
            now: None,
            dry_run: false,
            repack_threshold: 0.2,
        }
    }
}

/// What prune did (or would do, on a dry run).
#[derive(Clone, Debug, Default)]
pub struct PruneReport {
    /// Snapshots kept, with reasons.
    pub keep: Vec<(SnapshotId, Vec<KeepReason>)>,
    /// Snapshots forgotten.
    pub forget: Vec<SnapshotId>,
    /// Packs deleted because nothing uses them.
    pub packs_deleted: usize,
    /// Packs rewritten because they were partly unused.
    pub packs_repacked: usize,
    /// Packs written by repacking.
    pub packs_written: usize,
    /// Bytes freed (deleted minus written).
    pub bytes_freed: u64,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

impl Repository {
    /// Removes snapshot files (also damaged ones) under the exclusive lock.
    /// Their data is freed by the next [`Repository::prune`].
    pub fn forget_snapshots(&self, ids: &[SnapshotId]) -> Result<()> {
        let _lock = self.lock(true)?;
        for id in ids {
            self.backend.delete(FileKind::Snapshot, &id.to_hex())?;
        }
        Ok(())
    }

    /// Applies a retention policy and removes unused data.
    pub fn prune(&self, opts: &PruneOptions) -> Result<PruneReport> {
        let lock = self.lock(true)?;
        let (snaps, damaged) = crate::snapshot::list(&*self.backend, &self.keys)?;
        if let Some((name, why)) = damaged.first() {
            // Its chunks cannot be known, so nothing may be deleted.
            return Err(Error::integrity(
                format!("snapshot {name}"),
                format!("{why}; refusing to prune (remove it with forget_snapshots first)"),
            ));
        }
        let now = opts.now.unwrap_or_else(Utc::now);
        let candidates: Vec<_> = snaps
            .iter()
            .filter(|s| opts.filter.matches(&s.snapshot))
            .map(|s| (s.id, s.snapshot.time))
            .collect();
        let sel = select(&opts.policy, &candidates, now);
        let forget: HashSet<SnapshotId> = sel.forget.iter().copied().collect();
        let mut report = PruneReport {
            keep: sel.keep,
            forget: sel.forget,
            dry_run: opts.dry_run,
            ..Default::default()
        };
        let remaining: Vec<&SnapshotInfo> =
            snaps.iter().filter(|s| !forget.contains(&s.id)).collect();

        // Phase 3 (mark) runs before anything is deleted so a dry run can report it.
        let index = self.load_index_recovering()?;
        let used = self.mark_used(&index, &remaining)?;
        let by_pack = index.by_pack();
        let plan = self.plan_packs(&by_pack, &used, opts.repack_threshold)?;
        report.packs_deleted = plan.delete.len();
        report.packs_repacked = plan.repack.len();
        if opts.dry_run {
            report.bytes_freed = plan.delete.iter().map(|(_, s)| s).sum();
            return Ok(report);
        }

        // Phase 2: forget.
        for id in &report.forget {
            self.backend.delete(FileKind::Snapshot, &id.to_hex())?;
        }
        // Phase 4: repack.
        let (new_packs, written) = self.repack(&lock, &plan.repack, &by_pack, &used)?;
        report.packs_written = new_packs.len();
        let (delete, repack, keep) = (plan.delete, plan.repack, plan.keep);

        // Phase 5: the new index covers kept packs and new packs.
        let mut all: Vec<(Id, Vec<BlobEntry>)> = keep
            .iter()
            .map(|id| (*id, by_pack.get(id).cloned().unwrap_or_default()))
            .collect();
        all.extend(new_packs);
        let old_files: Vec<String> = self
            .backend
            .list(FileKind::Index)?
            .into_iter()
            .map(|o| o.name)
            .collect();
        let new_file = write_index_file(&*self.backend, &self.keys, &all)?;
        // Phase 6: old index files.
        for f in old_files.iter().filter(|f| **f != new_file) {
            self.backend.delete(FileKind::Index, f)?;
        }
        // Phase 7: packs.
        let mut freed = 0u64;
        for (id, size) in delete.iter().chain(repack.iter()) {
            self.backend.delete(FileKind::Pack, &id.to_hex())?;
            freed += size;
        }
        report.bytes_freed = freed.saturating_sub(written);
        drop(lock);
        Ok(report)
    }
}

/// What prune does with each pack: delete it (nothing in it is used),
/// repack it (too much of it is unused) or keep it.
/// A pack and the blobs it holds.
type PackEntries = (Id, Vec<BlobEntry>);

struct PackPlan {
    delete: Vec<(Id, u64)>,
    repack: Vec<(Id, u64)>,
    keep: Vec<Id>,
}

impl Repository {
    /// The blobs the remaining snapshots use: their trees and every chunk
    /// their trees name. A tree that cannot be read stops the prune.
    fn mark_used(&self, index: &Index, remaining: &[&SnapshotInfo]) -> Result<HashSet<Id>> {
        let mut used: HashSet<Id> = HashSet::new();
        for s in remaining {
            used.extend(s.snapshot.tree.iter().copied());
            let tree = self.load_tree(index, &s.snapshot).map_err(|e| {
                Error::integrity(
                    format!("snapshot {}", s.id),
                    format!("tree unreadable, refusing to prune: {e}"),
                )
            })?;
            for e in tree {
                used.extend(e.chunks);
            }
        }
        Ok(used)
    }

    /// Sorts the stored packs by how much of each is still used.
    fn plan_packs(
        &self,
        by_pack: &HashMap<Id, Vec<BlobEntry>>,
        used: &HashSet<Id>,
        repack_threshold: f64,
    ) -> Result<PackPlan> {
        let mut plan = PackPlan {
            delete: Vec::new(),
            repack: Vec::new(),
            keep: Vec::new(),
        };
        for pack in self.backend.list(FileKind::Pack)? {
            let Ok(id) = Id::from_hex(&pack.name) else {
                continue;
            };
            let size = pack.size;
            let used_bytes: u64 = by_pack
                .get(&id)
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .filter(|e| used.contains(&e.id))
                .map(|e| e.len as u64)
                .sum();
            if used_bytes == 0 {
                plan.delete.push((id, size));
            } else if (size - used_bytes.min(size)) as f64 > repack_threshold * size as f64 {
                plan.repack.push((id, size));
            } else {
                plan.keep.push(id);
            }
        }
        Ok(plan)
    }

    /// Copies the used blobs of `repack` into new packs, checking each blob
    /// as it goes. Returns the new packs' entries and the bytes written.
    fn repack(
        &self,
        lock: &LockGuard,
        repack: &[(Id, u64)],
        by_pack: &HashMap<Id, Vec<BlobEntry>>,
        used: &HashSet<Id>,
    ) -> Result<(Vec<PackEntries>, u64)> {
        let mut new_packs: Vec<PackEntries> = Vec::new();
        let mut batch: Vec<SealedBlob> = Vec::new();
        let mut batch_size = 0usize;
        let mut written = 0u64;
        let mut flush =
            |batch: &mut Vec<SealedBlob>, new_packs: &mut Vec<PackEntries>| -> Result<()> {
                if !batch.is_empty() {
                    let (name, entries, size) =
                        write_pack(&*self.backend, &self.keys, std::mem::take(batch))?;
                    written += size;
                    new_packs.push((name, entries));
                }
                Ok(())
            };
        for (id, _) in repack {
            let data = self.backend.get(FileKind::Pack, &id.to_hex())?;
            for e in by_pack.get(id).map(Vec::as_slice).unwrap_or(&[]) {
                if !used.contains(&e.id) {
                    continue;
                }
                let sealed = data
                    .get(e.offset as usize..(e.offset + e.len) as usize)
                    .ok_or_else(|| Error::integrity(format!("pack {id}"), "entry beyond end"))?;
                open_blob(
                    &self.keys,
                    &e.id,
                    &mut sealed.to_vec(),
                    e.compressed,
                    e.raw_len,
                )?;
                batch_size += sealed.len();
                batch.push(SealedBlob {
                    id: e.id,
                    data: sealed.to_vec(),
                    raw_len: e.raw_len,
                    compressed: e.compressed,
                });
                if batch_size >= self.config.pack_size as usize {
                    flush(&mut batch, &mut new_packs)?;
                    batch_size = 0;
                }
            }
            lock.refresh_if_due()?;
        }
        flush(&mut batch, &mut new_packs)?;
        Ok((new_packs, written))
    }
}
