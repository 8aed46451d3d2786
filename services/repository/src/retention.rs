//! Retention: which snapshots to keep and which to forget.
//!
//! [`select`] is a pure function of the policy, the snapshot times and
//! "now". Rules are applied to snapshots sorted newest first and their
//! results are united:
//! - `keep_within_days`: every snapshot not older than `now - days`;
//! - `keep_last`: the newest N;
//! - `keep_daily` / `keep_weekly` / `keep_monthly`: the newest snapshot of
//!   each of the N most recent days / ISO weeks / months that have one (UTC).
//!
//! A policy with every rule at zero keeps everything (forgetting all
//! snapshots is never the result of an empty policy).

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::id::SnapshotId;

/// A retention policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Keep every snapshot younger than this many days.
    pub keep_within_days: u32,
    /// Keep the newest N snapshots.
    pub keep_last: u32,
    /// Keep the newest snapshot of each of the last N days that have one.
    pub keep_daily: u32,
    /// Same per ISO week.
    pub keep_weekly: u32,
    /// Same per calendar month.
    pub keep_monthly: u32,
}

impl RetentionPolicy {
    /// Whether no rule is set (then everything is kept).
    pub fn is_empty(&self) -> bool {
        *self == RetentionPolicy::default()
    }
}

/// Why a snapshot is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepReason {
    /// The policy is empty.
    NoPolicy,
    /// Within `keep_within_days`.
    Within,
    /// Among the newest `keep_last`.
    Last,
    /// Newest of its day.
    Daily,
    /// Newest of its ISO week.
    Weekly,
    /// Newest of its month.
    Monthly,
}

/// The result of [`select`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Kept snapshots with their reasons, newest first.
    pub keep: Vec<(SnapshotId, Vec<KeepReason>)>,
    /// Snapshots to forget, newest first.
    pub forget: Vec<SnapshotId>,
}

/// Applies `policy` to `snapshots` (id and time) as of `now`.
pub fn select(
    policy: &RetentionPolicy,
    snapshots: &[(SnapshotId, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Selection {
    let mut sorted: Vec<_> = snapshots.to_vec();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    sorted.dedup_by(|a, b| a.0 == b.0);
    let mut reasons: Vec<BTreeSet<KeepReason>> = vec![BTreeSet::new(); sorted.len()];
    if policy.is_empty() {
        reasons.iter_mut().for_each(|r| {
            r.insert(KeepReason::NoPolicy);
        });
    }
    if policy.keep_within_days > 0 {
        let cutoff = now - chrono::Duration::days(policy.keep_within_days as i64);
        for (i, (_, t)) in sorted.iter().enumerate() {
            if *t >= cutoff {
                reasons[i].insert(KeepReason::Within);
            }
        }
    }
    for r in reasons.iter_mut().take(policy.keep_last as usize) {
        r.insert(KeepReason::Last);
    }
    let mut bucketed =
        |n: u32, reason: KeepReason, bucket: &dyn Fn(&DateTime<Utc>) -> (i32, u32)| {
            let mut last = None;
            let mut kept = 0;
            for (i, (_, t)) in sorted.iter().enumerate() {
                if kept >= n {
                    break;
                }
                let b = bucket(t);
                if last != Some(b) {
                    reasons[i].insert(reason);
                    kept += 1;
                    last = Some(b);
                }
            }
        };
    bucketed(policy.keep_daily, KeepReason::Daily, &|t| {
        (t.year(), t.ordinal())
    });
    bucketed(policy.keep_weekly, KeepReason::Weekly, &|t| {
        (t.iso_week().year(), t.iso_week().week())
    });
    bucketed(policy.keep_monthly, KeepReason::Monthly, &|t| {
        (t.year(), t.month())
    });
    let mut sel = Selection::default();
    for ((id, _), r) in sorted.into_iter().zip(reasons) {
        if r.is_empty() {
            sel.forget.push(id);
        } else {
            sel.keep.push((id, r.into_iter().collect()));
        }
    }
    sel
}
