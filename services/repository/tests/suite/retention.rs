//! Retention policy properties (pure function) and prune end to end.

use crate::common;

use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use vigil_repository::retention::select;
use vigil_repository::{
    BackupOptions, Control, Id, PruneOptions, RestoreOptions, RetentionPolicy, VerifyOptions,
};

fn snaps(offsets_h: &[u32], now: DateTime<Utc>) -> Vec<(Id, DateTime<Utc>)> {
    offsets_h
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&(i as u64).to_le_bytes());
            (Id(id), now - Duration::hours(*h as i64))
        })
        .collect()
}

fn policy() -> impl Strategy<Value = RetentionPolicy> {
    (0u32..40, 0u32..5, 0u32..10, 0u32..6, 0u32..6).prop_map(|(w, l, d, wk, m)| RetentionPolicy {
        keep_within_days: w,
        keep_last: l,
        keep_daily: d,
        keep_weekly: wk,
        keep_monthly: m,
    })
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
}

proptest! {
    #[test]
    fn keep_and_forget_partition_the_input(p in policy(), hs in prop::collection::vec(0u32..24 * 400, 0..60)) {
        let s = snaps(&hs, now());
        let sel = select(&p, &s, now());
        let kept: HashSet<Id> = sel.keep.iter().map(|k| k.0).collect();
        let forgot: HashSet<Id> = sel.forget.iter().copied().collect();
        prop_assert!(kept.is_disjoint(&forgot));
        prop_assert_eq!(kept.len() + forgot.len(), s.len());
        prop_assert!(sel.keep.iter().all(|k| !k.1.is_empty()));
    }

    #[test]
    fn newest_is_kept_by_any_nonempty_count_rule(p in policy(), hs in prop::collection::vec(0u32..24 * 400, 1..60)) {
        prop_assume!(p.keep_last + p.keep_daily + p.keep_weekly + p.keep_monthly > 0 || p.is_empty());
        let s = snaps(&hs, now());
        let newest = s.iter().max_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0))).unwrap().0;
        let sel = select(&p, &s, now());
        prop_assert!(sel.keep.iter().any(|k| k.0 == newest));
    }

    #[test]
    fn keep_within_keeps_every_recent_snapshot(days in 1u32..30, hs in prop::collection::vec(0u32..24 * 60, 0..60)) {
        let p = RetentionPolicy { keep_within_days: days, ..Default::default() };
        let s = snaps(&hs, now());
        let sel = select(&p, &s, now());
        for (id, t) in &s {
            let recent = *t >= now() - Duration::days(days as i64);
            prop_assert_eq!(sel.keep.iter().any(|k| k.0 == *id), recent);
        }
    }

    #[test]
    fn keep_last_keeps_exactly_the_newest_n(n in 1u32..10, hs in prop::collection::vec(0u32..24 * 60, 0..40)) {
        let p = RetentionPolicy { keep_last: n, ..Default::default() };
        let s = snaps(&hs, now());
        let sel = select(&p, &s, now());
        prop_assert_eq!(sel.keep.len(), s.len().min(n as usize));
        let oldest_kept = sel.keep.iter().map(|k| s.iter().find(|x| x.0 == k.0).unwrap().1).min();
        for f in &sel.forget {
            let t = s.iter().find(|x| x.0 == *f).unwrap().1;
            prop_assert!(Some(t) <= oldest_kept);
        }
    }

    #[test]
    fn daily_keeps_one_per_day_for_n_distinct_days(n in 1u32..10, hs in prop::collection::vec(0u32..24 * 30, 0..60)) {
        let p = RetentionPolicy { keep_daily: n, ..Default::default() };
        let s = snaps(&hs, now());
        let sel = select(&p, &s, now());
        let days: HashSet<_> = s.iter().map(|x| x.1.date_naive()).collect();
        prop_assert_eq!(sel.keep.len(), days.len().min(n as usize));
        let kept_days: HashSet<_> = sel.keep.iter().map(|k| s.iter().find(|x| x.0 == k.0).unwrap().1.date_naive()).collect();
        prop_assert_eq!(kept_days.len(), sel.keep.len(), "one per day");
    }

    #[test]
    fn raising_a_count_never_forgets_more(p in policy(), hs in prop::collection::vec(0u32..24 * 400, 0..60), which in 0usize..5) {
        let s = snaps(&hs, now());
        let mut q = p;
        match which { 0 => q.keep_last += 1, 1 => q.keep_daily += 1, 2 => q.keep_weekly += 1, 3 => q.keep_monthly += 1, _ => q.keep_within_days += 1 }
        let a: HashSet<Id> = select(&p, &s, now()).keep.iter().map(|k| k.0).collect();
        let b: HashSet<Id> = select(&q, &s, now()).keep.iter().map(|k| k.0).collect();
        prop_assert!(p.is_empty() || a.is_subset(&b));
    }

    #[test]
    fn result_does_not_depend_on_input_order(p in policy(), hs in prop::collection::vec(0u32..24 * 400, 0..40)) {
        let s = snaps(&hs, now());
        let mut r = s.clone();
        r.reverse();
        prop_assert_eq!(select(&p, &s, now()), select(&p, &r, now()));
    }
}

#[test]
fn empty_policy_keeps_everything() {
    let s = snaps(&[1, 50, 5000], now());
    let sel = select(&RetentionPolicy::default(), &s, now());
    assert_eq!(sel.keep.len(), 3);
    assert!(sel.forget.is_empty());
}

#[test]
fn prune_forgets_frees_space_and_keeps_the_rest_restorable() {
    let fx = common::Fixture::new();
    let f = fx.src().join("data.bin");
    let mut ids = Vec::new();
    for v in 0..3u64 {
        common::write(&f, &common::bytes(500 + v, 400_000), 0o644);
        common::write(&fx.src().join("stable.txt"), b"same in all versions", 0o644);
        let o = BackupOptions {
            paths: vec![fx.src()],
            time: Some(now() - Duration::days(3 - v as i64)),
            ..Default::default()
        };
        ids.push(
            fx.repo
                .backup(&o, vec![], &Control::default())
                .unwrap()
                .snapshot_id,
        );
    }
    let size = || {
        walkdir::WalkDir::new(fx.repo_path())
            .into_iter()
            .filter_map(Result::ok)
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum::<u64>()
    };
    let before = size();
    let opts = PruneOptions {
        policy: RetentionPolicy {
            keep_last: 1,
            ..Default::default()
        },
        now: Some(now()),
        dry_run: true,
        ..Default::default()
    };
    let dry = fx.repo.prune(&opts).unwrap();
    assert_eq!(dry.forget.len(), 2);
    assert_eq!(dry.keep[0].0, ids[2]);
    assert_eq!(
        fx.repo.list_snapshots().unwrap().len(),
        3,
        "dry run changes nothing"
    );
    assert_eq!(size(), before);

    let rep = fx
        .repo
        .prune(&PruneOptions {
            dry_run: false,
            ..opts
        })
        .unwrap();
    assert_eq!(rep.forget.len(), 2);
    assert!(rep.packs_deleted + rep.packs_repacked > 0);
    let snaps = fx.repo.list_snapshots().unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].id, ids[2]);
    assert!(
        size() < before * 2 / 3,
        "space freed: {} -> {}",
        before,
        size()
    );
    let v = fx.reopen().verify(&VerifyOptions::default()).unwrap();
    assert!(v.is_ok(), "{v:?}");
    let out = fx.dir.path().join("out");
    let r = fx
        .repo
        .restore(
            &ids[2],
            &out,
            &RestoreOptions::default(),
            &Control::default(),
        )
        .unwrap();
    assert!(r.errors.is_empty());
    assert_eq!(
        std::fs::read(common::restored(&out, &fx.src()).join("data.bin")).unwrap(),
        common::bytes(502, 400_000)
    );
}

#[test]
fn prune_filter_leaves_other_configurations_alone() {
    let fx = common::Fixture::new();
    common::make_tree(&fx.src());
    for (cfg, n) in [("a", 3), ("b", 2)] {
        for i in 0..n {
            let mut o = BackupOptions {
                paths: vec![fx.src()],
                time: Some(now() - Duration::days(i)),
                ..Default::default()
            };
            o.labels.insert("config".into(), cfg.into());
            fx.repo.backup(&o, vec![], &Control::default()).unwrap();
        }
    }
    let mut opts = PruneOptions {
        policy: RetentionPolicy {
            keep_last: 1,
            ..Default::default()
        },
        now: Some(now()),
        ..Default::default()
    };
    opts.filter.labels.insert("config".into(), "a".into());
    let rep = fx.repo.prune(&opts).unwrap();
    assert_eq!(rep.forget.len(), 2);
    let left: Vec<_> = fx
        .repo
        .list_snapshots()
        .unwrap()
        .into_iter()
        .map(|s| s.snapshot.labels["config"].clone())
        .collect();
    assert_eq!(left.iter().filter(|c| *c == "a").count(), 1);
    assert_eq!(left.iter().filter(|c| *c == "b").count(), 2);
}
