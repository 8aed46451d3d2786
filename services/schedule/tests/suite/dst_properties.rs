//! Property tests of fire times around DST transitions (guarantee S6), in
//! Europe/London, America/New_York, Australia/Lord_Howe (30-minute shift)
//! and Asia/Kolkata (no DST).
//!
//! Crons are generated from structured fields, and the fire times are
//! checked against a brute-force reference that walks every local minute
//! (or second) of the window with its own matcher, maps each match to an
//! instant with chrono-tz (first occurrence; end of the gap, found by
//! walking forward), and deduplicates. Independent properties are checked
//! too: strictly increasing, no local wall time fires twice, and every fire
//! is either a matching wall time at its first occurrence or the end of a
//! gap that swallowed a matching wall time.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use vigil_schedule::Schedule;

const ZONES: [&str; 4] = [
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
];

/// One cron field, structured so the reference can match it without croner.
#[derive(Debug, Clone)]
enum Field {
    Any,
    Step(u32),
    Value(u32),
    Range(u32, u32),
    List(Vec<u32>),
}

impl Field {
    fn render(&self) -> String {
        match self {
            Field::Any => "*".into(),
            Field::Step(n) => format!("*/{n}"),
            Field::Value(v) => v.to_string(),
            Field::Range(a, b) => format!("{a}-{b}"),
            Field::List(vs) => vs.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
        }
    }

    fn matches(&self, v: u32) -> bool {
        match self {
            Field::Any => true,
            Field::Step(n) => v.is_multiple_of(*n),
            Field::Value(x) => v == *x,
            Field::Range(a, b) => (*a..=*b).contains(&v),
            Field::List(vs) => vs.contains(&v),
        }
    }
}

#[derive(Debug, Clone)]
struct Cron {
    second: Option<Field>,
    minute: Field,
    hour: Field,
    dow: Field,
}

impl Cron {
    fn render(&self) -> String {
        let base = format!(
            "{} {} * * {}",
            self.minute.render(),
            self.hour.render(),
            self.dow.render()
        );
        match &self.second {
            Some(s) => format!("{} {base}", s.render()),
            None => base,
        }
    }

    fn matches(&self, t: NaiveDateTime) -> bool {
        let second_ok = match &self.second {
            Some(f) => f.matches(t.second()),
            None => t.second() == 0,
        };
        second_ok
            && self.minute.matches(t.minute())
            && self.hour.matches(t.hour())
            && self.dow.matches(t.weekday().num_days_from_sunday())
    }
}

fn sixty_field() -> impl Strategy<Value = Field> {
    prop_oneof![
        Just(Field::Any),
        (2u32..=30).prop_map(Field::Step),
        (0u32..60).prop_map(Field::Value),
        (0u32..60, 0u32..30).prop_map(|(a, len)| Field::Range(a, (a + len).min(59))),
        proptest::collection::btree_set(0u32..60, 1..4)
            .prop_map(|s| Field::List(s.into_iter().collect())),
    ]
}

/// Hours biased towards 00-04, where the transitions are.
fn hour_field() -> impl Strategy<Value = Field> {
    prop_oneof![
        Just(Field::Any),
        (2u32..=12).prop_map(Field::Step),
        (0u32..=4).prop_map(Field::Value),
        (0u32..=3, 0u32..=2).prop_map(|(a, len)| Field::Range(a, a + len)),
        proptest::collection::btree_set(0u32..=4, 1..3)
            .prop_map(|s| Field::List(s.into_iter().collect())),
    ]
}

fn dow_field() -> impl Strategy<Value = Field> {
    prop_oneof![
        4 => Just(Field::Any),
        1 => (0u32..=6).prop_map(Field::Value),
        1 => (0u32..=4).prop_map(|a| Field::Range(a, a + 2)),
    ]
}

fn minute_cron() -> impl Strategy<Value = Cron> {
    (sixty_field(), hour_field(), dow_field()).prop_map(|(minute, hour, dow)| Cron {
        second: None,
        minute,
        hour,
        dow,
    })
}

fn second_cron() -> impl Strategy<Value = Cron> {
    (
        sixty_field(),
        prop_oneof![
            Just(Field::Any),
            (0u32..60).prop_map(Field::Value),
            (2u32..=20).prop_map(Field::Step)
        ],
        hour_field(),
    )
        .prop_map(|(second, minute, hour)| Cron {
            second: Some(second),
            minute,
            hour,
            dow: Field::Any,
        })
}

/// Instants where `tz` changes offset in `[from, to)`, to the second.
fn transitions(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let offset = |t: DateTime<Utc>| t.with_timezone(&tz).naive_local() - t.naive_utc();
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let next = t + Duration::minutes(15);
        if offset(t) != offset(next) {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset(mid) == offset(lo) {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            out.push(hi);
        }
        t = next;
    }
    out
}

/// The reference: every local step in the window that matches, mapped to an
/// instant, deduplicated, kept if in `(from, to]`.
fn reference(
    cron: &Cron,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: Duration,
) -> Vec<DateTime<Utc>> {
    let mut local = from.naive_utc() - Duration::hours(16);
    local = local.with_second(0).unwrap();
    let end = to.naive_utc() + Duration::hours(16);
    let mut out = BTreeSet::new();
    while local <= end {
        if cron.matches(local) {
            let instant = match tz.from_local_datetime(&local) {
                LocalResult::Single(t) => t.with_timezone(&Utc),
                LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
                LocalResult::None => {
                    // Walk forward to the first wall time that exists.
                    let mut probe = local;
                    loop {
                        probe += Duration::seconds(1);
                        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                            break t.with_timezone(&Utc);
                        }
                    }
                }
            };
            if instant > from && instant <= to {
                out.insert(instant);
            }
        }
        local += step;
    }
    out.into_iter().collect()
}

/// The properties that hold independently of the reference.
fn check_invariants(cron: &Cron, tz: Tz, fires: &[DateTime<Utc>]) -> Result<(), TestCaseError> {
    prop_assert!(
        fires.windows(2).all(|w| w[0] < w[1]),
        "fire times not strictly increasing: {fires:?}"
    );
    let mut walls = BTreeSet::new();
    for &fire in fires {
        let wall = fire.with_timezone(&tz).naive_local();
        prop_assert!(walls.insert(wall), "wall time {wall} fired twice");
        let first_occurrence = tz
            .from_local_datetime(&wall)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            == Some(fire);
        if cron.matches(wall) {
            prop_assert!(
                first_occurrence,
                "{fire} is the second occurrence of {wall}"
            );
        } else {
            // Must be the end of a gap that swallowed a matching wall time.
            let before = (fire - Duration::seconds(1))
                .with_timezone(&tz)
                .naive_local();
            let skipped_from = before + Duration::seconds(1);
            prop_assert!(
                skipped_from < wall,
                "{fire} ({wall}) neither matches nor ends a gap"
            );
            let mut t = skipped_from;
            let mut swallowed = false;
            while t < wall {
                swallowed |= cron.matches(t);
                t += Duration::seconds(1);
            }
            prop_assert!(
                swallowed,
                "{fire} ends a gap that held no matching wall time"
            );
        }
    }
    Ok(())
}

/// A transition of `zone` in `year`, chosen by `pick` (Kolkata has none: a
/// plain date then).
fn transition(zone: &str, year: i32, pick: usize) -> (Tz, DateTime<Utc>) {
    let tz: Tz = zone.parse().unwrap();
    let from = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
    let all = transitions(tz, from, from + Duration::days(366));
    let at = if all.is_empty() {
        from + Duration::days(150)
    } else {
        all[pick % all.len()]
    };
    (tz, at)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn minute_crons_match_the_reference_around_transitions(
        cron in minute_cron(),
        zone in 0usize..ZONES.len(),
        year in 2020i32..=2035,
        pick in 0usize..2,
        lead_secs in 0i64..(3 * 86_400),
    ) {
        let (tz, at) = transition(ZONES[zone], year, pick);
        let from = at - Duration::seconds(lead_secs);
        let to = from + Duration::days(4);
        let schedule = Schedule::cron(&cron.render(), ZONES[zone]).unwrap();
        let got: Vec<_> = schedule.fires_between(from, to, usize::MAX).collect();
        check_invariants(&cron, tz, &got)?;
        let want = reference(&cron, tz, from, to, Duration::minutes(1));
        prop_assert_eq!(got, want, "cron {:?} in {}", cron.render(), ZONES[zone]);
    }

    #[test]
    fn second_crons_match_the_reference_around_transitions(
        cron in second_cron(),
        zone in 0usize..ZONES.len(),
        year in 2020i32..=2035,
        pick in 0usize..2,
        lead_secs in 0i64..(2 * 3_600),
    ) {
        let (tz, at) = transition(ZONES[zone], year, pick);
        let from = at - Duration::seconds(lead_secs);
        let to = from + Duration::hours(3);
        let schedule = Schedule::cron(&cron.render(), ZONES[zone]).unwrap();
        let got: Vec<_> = schedule.fires_between(from, to, usize::MAX).collect();
        check_invariants(&cron, tz, &got)?;
        let want = reference(&cron, tz, from, to, Duration::seconds(1));
        prop_assert_eq!(got, want, "cron {:?} in {}", cron.render(), ZONES[zone]);
    }

    #[test]
    fn next_after_is_the_first_fire_after_any_instant(
        cron in minute_cron(),
        zone in 0usize..ZONES.len(),
        year in 2020i32..=2035,
        pick in 0usize..2,
        lead_ms in 0i64..(2 * 86_400_000),
    ) {
        let (_, at) = transition(ZONES[zone], year, pick);
        let after = at - Duration::milliseconds(lead_ms);
        let schedule = Schedule::cron(&cron.render(), ZONES[zone]).unwrap();
        let next = schedule.next_after(after).unwrap();
        prop_assert!(next > after);
        // Nothing fires in (after, next): the fires from a second earlier
        // that are after `after` start with `next`.
        let earlier: Vec<_> = schedule.fires_between(after - Duration::seconds(1), next, usize::MAX).collect();
        let first_after = earlier.into_iter().find(|t| *t > after);
        prop_assert_eq!(first_after, Some(next));
    }
}

/// The harness itself: the transitions it steers the windows to are real.
#[test]
fn harness_finds_the_2025_transitions() {
    let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let (from, to) = (utc("2025-01-01T00:00:00Z"), utc("2026-01-01T00:00:00Z"));
    let london: Tz = "Europe/London".parse().unwrap();
    assert_eq!(
        transitions(london, from, to),
        [utc("2025-03-30T01:00:00Z"), utc("2025-10-26T01:00:00Z")]
    );
    let lord_howe: Tz = "Australia/Lord_Howe".parse().unwrap();
    assert_eq!(
        transitions(lord_howe, from, to),
        [utc("2025-04-05T15:00:00Z"), utc("2025-10-04T15:30:00Z")]
    );
    let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
    assert!(transitions(kolkata, from, to).is_empty());
}
