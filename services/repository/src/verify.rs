//! Verify: read packs back, decrypt and hash every chunk, and name the
//! snapshots and files that damaged or missing data affects.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rand::seq::SliceRandom;

use crate::backend::FileKind;
use crate::blob::open_blob;
use crate::error::Result;
use crate::id::{Id, SnapshotId};
use crate::index::Index;
use crate::pack::{BlobEntry, PACK_MAGIC};
use crate::repo::Repository;
use crate::snapshot::{self, SnapshotInfo};

/// Options for [`Repository::verify`].
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Fraction of packs to read back, in (0, 1]; 1 reads everything.
    pub sample_fraction: f64,
    /// Reader threads (default 2).
    pub threads: Option<usize>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            sample_fraction: 1.0,
            threads: None,
        }
    }
}

/// A pack that failed verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedPack {
    /// Pack name.
    pub pack: String,
    /// What is wrong.
    pub reason: String,
    /// Chunks in it that failed.
    pub bad_chunks: Vec<Id>,
}

/// A snapshot entry affected by damaged or missing data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffectedEntry {
    /// The snapshot.
    pub snapshot: SnapshotId,
    /// The stored path or stream name (`<tree>` if the tree itself is hit).
    pub path: String,
}

/// The outcome of a verify run.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// Packs read back.
    pub packs_checked: usize,
    /// Packs in the repository.
    pub packs_total: usize,
    /// Chunks decrypted and hashed.
    pub chunks_checked: u64,
    /// Bytes read.
    pub bytes_checked: u64,
    /// Packs with problems.
    pub damaged_packs: Vec<DamagedPack>,
    /// Index files that failed their checks.
    pub damaged_index_files: Vec<String>,
    /// Snapshot files that failed their checks.
    pub damaged_snapshots: Vec<String>,
    /// Chunks referenced by snapshots but absent from the index.
    pub missing_chunks: usize,
    /// Snapshot entries affected by any of the above.
    pub affected: Vec<AffectedEntry>,
}

impl VerifyReport {
    /// Whether everything checked is intact.
    pub fn is_ok(&self) -> bool {
        self.damaged_packs.is_empty()
            && self.damaged_index_files.is_empty()
            && self.damaged_snapshots.is_empty()
            && self.missing_chunks == 0
            && self.affected.is_empty()
    }
}

impl Repository {
    /// Verifies all packs, or a random sample of them.
    pub fn verify(&self, opts: &VerifyOptions) -> Result<VerifyReport> {
        let _lock = self.lock(false)?;
        let index = self.load_index()?;
        let (snaps, bad_snaps) = snapshot::list(&*self.backend, &self.keys)?;
        let mut report = VerifyReport {
            damaged_index_files: index.damaged_files.iter().map(|(n, _)| n.clone()).collect(),
            damaged_snapshots: bad_snaps.into_iter().map(|(n, _)| n).collect(),
            ..Default::default()
        };
        let sizes: HashMap<String, u64> = self
            .backend
            .list(FileKind::Pack)?
            .into_iter()
            .map(|o| (o.name, o.size))
            .collect();
        let by_pack = index.by_pack();
        let mut packs: Vec<(&Id, &Vec<BlobEntry>)> = by_pack.iter().collect();
        packs.sort_by_key(|(id, _)| **id);
        report.packs_total = packs.len();
        if opts.sample_fraction < 1.0 {
            packs.shuffle(&mut rand::rng());
            let n = ((packs.len() as f64 * opts.sample_fraction.max(0.0)).ceil() as usize)
                .clamp(1, packs.len().max(1));
            packs.truncate(n);
        }
        report.packs_checked = packs.len();

        let (chunks, bytes, damaged) = self.check_packs(&packs, &sizes, opts.threads);
        report.chunks_checked = chunks;
        report.bytes_checked = bytes;
        report.damaged_packs = damaged;
        report.damaged_packs.sort_by(|a, b| a.pack.cmp(&b.pack));
        self.find_affected(&index, &snaps, &mut report);
        Ok(report)
    }

    /// Checks `packs` on `threads` threads; returns the chunks and bytes
    /// checked and the damage found.
    fn check_packs(
        &self,
        packs: &[(&Id, &Vec<BlobEntry>)],
        sizes: &HashMap<String, u64>,
        threads: Option<usize>,
    ) -> (u64, u64, Vec<DamagedPack>) {
        let next = AtomicUsize::new(0);
        let (chunks, bytes) = (AtomicU64::new(0), AtomicU64::new(0));
        let damaged = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..threads.unwrap_or(2).max(1) {
                s.spawn(|| {
                    while let Some((pack, entries)) =
                        packs.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        let name = pack.to_hex();
                        if let Some(d) = self.check_pack(
                            &name,
                            entries,
                            sizes.get(&name).copied(),
                            &chunks,
                            &bytes,
                        ) {
                            damaged.lock().expect("damaged").push(d);
                        }
                    }
                });
            }
        });
        (
            chunks.into_inner(),
            bytes.into_inner(),
            damaged.into_inner().expect("damaged"),
        )
    }

    /// Lists the snapshot entries that use a damaged or missing chunk, and
    /// counts the missing chunks.
    fn find_affected(&self, index: &Index, snaps: &[SnapshotInfo], report: &mut VerifyReport) {
        let bad: HashSet<Id> = report
            .damaged_packs
            .iter()
            .flat_map(|d| d.bad_chunks.iter().copied())
            .collect();
        let mut missing = HashSet::new();
        for s in snaps {
            let hit = |id: &Id, missing: &mut HashSet<Id>| {
                if !index.contains(id) {
                    missing.insert(*id);
                    true
                } else {
                    bad.contains(id)
                }
            };
            let tree_hit = s.snapshot.tree.iter().any(|id| hit(id, &mut missing));
            let tree = if tree_hit {
                Err(())
            } else {
                self.load_tree(index, &s.snapshot).map_err(|_| ())
            };
            match tree {
                Err(()) => report.affected.push(AffectedEntry {
                    snapshot: s.id,
                    path: "<tree>".into(),
                }),
                Ok(entries) => {
                    for e in entries {
                        if e.chunks.iter().any(|id| hit(id, &mut missing)) {
                            report.affected.push(AffectedEntry {
                                snapshot: s.id,
                                path: e.path_lossy(),
                            });
                        }
                    }
                }
            }
        }
        report.missing_chunks = missing.len();
    }

    fn check_pack(
        &self,
        name: &str,
        entries: &[BlobEntry],
        size: Option<u64>,
        chunks: &AtomicU64,
        bytes: &AtomicU64,
    ) -> Option<DamagedPack> {
        let all = || entries.iter().map(|e| e.id).collect::<Vec<_>>();
        let Some(_) = size else {
            return Some(DamagedPack {
                pack: name.into(),
                reason: "pack is missing".into(),
                bad_chunks: all(),
            });
        };
        let data = match self.backend.get(FileKind::Pack, name) {
            Ok(d) => d,
            Err(e) => {
                return Some(DamagedPack {
                    pack: name.into(),
                    reason: e.to_string(),
                    bad_chunks: all(),
                });
            }
        };
        bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        let mut bad = Vec::new();
        let mut reasons = Vec::new();
        if !data.starts_with(PACK_MAGIC) {
            reasons.push("bad pack header".to_string());
        }
        for e in entries {
            let (o, l) = (e.offset as usize, e.len as usize);
            let res = match data.get(o..o + l) {
                Some(s) => open_blob(&self.keys, &e.id, &mut s.to_vec(), e.compressed, e.raw_len)
                    .map(|_| ()),
                None => Err(crate::Error::integrity(
                    format!("chunk {}", e.id),
                    "beyond the end of the pack",
                )),
            };
            chunks.fetch_add(1, Ordering::Relaxed);
            if let Err(err) = res {
                bad.push(e.id);
                if reasons.len() < 4 {
                    reasons.push(err.to_string());
                }
            }
        }
        if let Err(e) = crate::pack::read_trailer(&self.keys, name, data.len() as u64, |o, l| {
            Ok(data[o as usize..(o + l) as usize].to_vec())
        }) {
            reasons.push(format!("trailer: {e}"));
        }
        (!reasons.is_empty()).then(|| DamagedPack {
            pack: name.into(),
            reason: reasons.join("; "),
            bad_chunks: bad,
        })
    }
}
