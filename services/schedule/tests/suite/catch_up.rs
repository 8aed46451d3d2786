//! Catch-up planning (guarantees S4, S5): every due time gets an outcome.

use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use vigil_schedule::{
    CatchUpMode, CatchUpPlan, CatchUpPolicy, CatchUpWindow, MissReason, Outcome, Schedule, Since,
    catch_up::MAX_LISTED, plan_catch_up,
};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn daily() -> Schedule {
    Schedule::cron("0 2 * * *", "UTC").unwrap()
}

fn policy(mode: CatchUpMode, window: Option<u64>, max_runs: u32) -> CatchUpPolicy {
    CatchUpPolicy {
        mode,
        window: window.map_or(CatchUpWindow::Interval, |h| {
            CatchUpWindow::Fixed(Duration::from_secs(h * 3_600))
        }),
        max_runs,
        grace: None,
    }
}

/// (due, outcome) pairs as short strings, for readable assertions.
fn summary(plan: &CatchUpPlan) -> Vec<(String, Outcome)> {
    plan.outcomes
        .iter()
        .map(|o| (o.due.format("%d %H:%M").to_string(), o.outcome))
        .collect()
}

const MISSED_OUTSIDE: Outcome = Outcome::Missed(MissReason::OutsideWindow);

#[test]
fn default_policy_is_once_with_one_interval() {
    let p = CatchUpPolicy::default();
    assert_eq!(
        (p.mode, p.window, p.max_runs),
        (CatchUpMode::Once, CatchUpWindow::Interval, 1)
    );
    assert_eq!(p.effective_window(&daily()), Duration::from_secs(86_400));
}

#[test]
fn once_enqueues_only_the_latest_missed_run() {
    // Down from just after 1 Jan 02:00 to 4 Jan 10:00: three due times missed.
    let plan = plan_catch_up(
        &daily(),
        Since::LastDue(utc("2025-01-01T02:00:00Z")),
        utc("2025-01-04T10:00:00Z"),
        &CatchUpPolicy::default(),
    );
    assert_eq!(
        summary(&plan),
        [
            ("02 02:00".into(), MISSED_OUTSIDE),
            ("03 02:00".into(), MISSED_OUTSIDE),
            ("04 02:00".into(), Outcome::Enqueue)
        ]
    );
    assert_eq!(plan.next_due, Some(utc("2025-01-05T02:00:00Z")));
    assert_eq!(plan.last_due(), Some(utc("2025-01-04T02:00:00Z")));
}

#[test]
fn once_with_a_wider_window_coalesces_the_older_runs_inside_it() {
    let plan = plan_catch_up(
        &daily(),
        Since::LastDue(utc("2025-01-01T02:00:00Z")),
        utc("2025-01-04T10:00:00Z"),
        &policy(CatchUpMode::Once, Some(48), 1),
    );
    assert_eq!(
        summary(&plan),
        [
            ("02 02:00".into(), MISSED_OUTSIDE),
            ("03 02:00".into(), Outcome::Missed(MissReason::Coalesced)),
            ("04 02:00".into(), Outcome::Enqueue)
        ]
    );
}

#[test]
fn once_enqueues_nothing_when_every_run_is_outside_the_window() {
    let weekly = Schedule::cron("0 3 * * 0", "UTC").unwrap(); // Sundays
    let plan = plan_catch_up(
        &weekly,
        Since::LastDue(utc("2025-01-05T03:00:00Z")),
        utc("2025-01-14T12:00:00Z"),
        &policy(CatchUpMode::Once, Some(24), 1),
    );
    assert_eq!(summary(&plan), [("12 03:00".into(), MISSED_OUTSIDE)]);
    assert_eq!(plan.enqueued().count(), 0);
}

#[test]
fn once_with_the_default_window_still_runs_a_weekly_backup_missed_days_ago() {
    let weekly = Schedule::cron("0 3 * * 0", "UTC").unwrap();
    let plan = plan_catch_up(
        &weekly,
        Since::LastDue(utc("2025-01-05T03:00:00Z")),
        utc("2025-01-14T12:00:00Z"),
        &CatchUpPolicy::default(),
    );
    assert_eq!(summary(&plan), [("12 03:00".into(), Outcome::Enqueue)]);
}

#[test]
fn skip_runs_only_on_time() {
    let on_time = plan_catch_up(
        &daily(),
        Since::LastDue(utc("2025-01-03T02:00:00Z")),
        utc("2025-01-04T02:00:00.005Z"),
        &CatchUpPolicy::new(CatchUpMode::Skip),
    );
    assert_eq!(summary(&on_time), [("04 02:00".into(), Outcome::Enqueue)]);
    // Eight hours late is past the one-hour grace: recorded missed, not run.
    let late = plan_catch_up(
        &daily(),
        Since::LastDue(utc("2025-01-02T02:00:00Z")),
        utc("2025-01-04T10:00:00Z"),
        &CatchUpPolicy::new(CatchUpMode::Skip),
    );
    assert_eq!(
        summary(&late),
        [
            ("03 02:00".into(), MISSED_OUTSIDE),
            ("04 02:00".into(), MISSED_OUTSIDE)
        ]
    );
    assert_eq!(late.next_due, Some(utc("2025-01-05T02:00:00Z")));
}

#[test]
fn skip_uses_a_configured_grace_as_its_window() {
    let p = CatchUpPolicy {
        grace: Some(Duration::from_secs(9 * 3_600)),
        ..CatchUpPolicy::new(CatchUpMode::Skip)
    };
    // Eight hours late is on time under a nine-hour grace.
    let plan = plan_catch_up(
        &daily(),
        Since::LastDue(utc("2025-01-03T02:00:00Z")),
        utc("2025-01-04T10:00:00Z"),
        &p,
    );
    assert_eq!(summary(&plan), [("04 02:00".into(), Outcome::Enqueue)]);
}

#[test]
fn skip_ignores_a_configured_window() {
    let p = CatchUpPolicy {
        mode: CatchUpMode::Skip,
        window: CatchUpWindow::Fixed(Duration::from_secs(7 * 86_400)),
        max_runs: 5,
        grace: None,
    };
    let plan = plan_catch_up(
        &daily(),
        Since::LastDue(utc("2025-01-03T02:00:00Z")),
        utc("2025-01-04T10:00:00Z"),
        &p,
    );
    assert_eq!(plan.enqueued().count(), 0);
}

#[test]
fn all_enqueues_every_run_in_the_window_up_to_the_cap() {
    let since = Since::LastDue(utc("2025-01-01T02:00:00Z"));
    let now = utc("2025-01-04T10:00:00Z");
    let capped = plan_catch_up(&daily(), since, now, &policy(CatchUpMode::All, Some(72), 2));
    assert_eq!(
        summary(&capped),
        [
            ("02 02:00".into(), Outcome::Missed(MissReason::OverCap)),
            ("03 02:00".into(), Outcome::Enqueue),
            ("04 02:00".into(), Outcome::Enqueue)
        ]
    );
    let windowed = plan_catch_up(
        &daily(),
        since,
        now,
        &policy(CatchUpMode::All, Some(30), 10),
    );
    assert_eq!(
        summary(&windowed),
        [
            ("02 02:00".into(), MISSED_OUTSIDE),
            ("03 02:00".into(), MISSED_OUTSIDE),
            ("04 02:00".into(), Outcome::Enqueue)
        ]
    );
}

#[test]
fn a_due_time_not_yet_past_is_never_enqueued() {
    let due = utc("2025-01-04T02:00:00Z");
    let since = Since::LastDue(utc("2025-01-03T02:00:00Z"));
    for mode in [CatchUpMode::Skip, CatchUpMode::Once, CatchUpMode::All] {
        let early = plan_catch_up(
            &daily(),
            since,
            due - chrono::Duration::milliseconds(1),
            &CatchUpPolicy::new(mode),
        );
        assert!(early.outcomes.is_empty(), "{mode}");
        assert_eq!(early.next_due, Some(due), "{mode}");
        let exact = plan_catch_up(&daily(), since, due, &CatchUpPolicy::new(mode));
        assert_eq!(exact.enqueued().collect::<Vec<_>>(), [due], "{mode}");
        assert_eq!(exact.next_due, Some(utc("2025-01-05T02:00:00Z")), "{mode}");
    }
}

#[test]
fn armed_at_a_fire_time_does_not_count_that_fire() {
    let armed = utc("2025-01-04T02:00:00Z");
    let plan = plan_catch_up(
        &daily(),
        Since::ArmedAt(armed),
        utc("2025-01-04T03:00:00Z"),
        &CatchUpPolicy::default(),
    );
    assert!(plan.outcomes.is_empty());
    assert_eq!(plan.last_due(), None);
    assert_eq!(plan.next_due, Some(utc("2025-01-05T02:00:00Z")));
}

#[test]
fn a_long_outage_of_a_frequent_schedule_is_summarised_but_exhaustive() {
    let every_10s = Schedule::cron("*/10 * * * * *", "UTC").unwrap();
    let since = utc("2025-01-01T00:00:00Z");
    let now = utc("2025-01-02T00:00:00Z");
    let plan = plan_catch_up(
        &every_10s,
        Since::LastDue(since),
        now,
        &CatchUpPolicy::default(),
    );
    assert_eq!(plan.due_count(), 8_640);
    assert_eq!(plan.outcomes.len(), MAX_LISTED);
    assert_eq!(plan.enqueued().collect::<Vec<_>>(), [now]);
    // One span of older due times, all outside the (grace-sized) window.
    assert_eq!(plan.earlier.len(), 1);
    let span = plan.earlier[0];
    assert_eq!(
        (span.first, span.reason, span.count),
        (
            utc("2025-01-01T00:00:10Z"),
            MissReason::OutsideWindow,
            8_640 - MAX_LISTED as u64
        )
    );
    assert_eq!(
        span.last + chrono::Duration::seconds(10),
        plan.outcomes[0].due
    );
    assert_eq!(plan.last_due(), Some(now));
}

#[test]
fn policy_validation_names_the_field() {
    let zero_cap = policy(CatchUpMode::All, None, 0);
    assert_eq!(
        zero_cap.validate().unwrap_err().field(),
        "schedule.catch_up.max_runs"
    );
    let huge_cap = policy(CatchUpMode::All, None, 1_001);
    assert_eq!(
        huge_cap.validate().unwrap_err().field(),
        "schedule.catch_up.max_runs"
    );
    let zero_window = policy(CatchUpMode::Once, Some(0), 1);
    assert_eq!(
        zero_window.validate().unwrap_err().field(),
        "schedule.catch_up.window"
    );
    assert!(CatchUpPolicy::default().validate().is_ok());
}

#[test]
fn mode_parses_from_configuration_text() {
    assert_eq!("once".parse::<CatchUpMode>().unwrap(), CatchUpMode::Once);
    assert_eq!("ALL".parse::<CatchUpMode>().unwrap(), CatchUpMode::All);
    assert_eq!("skip".parse::<CatchUpMode>().unwrap().to_string(), "skip");
    assert_eq!(
        "sometimes".parse::<CatchUpMode>().unwrap_err().field(),
        "schedule.catch_up"
    );
    assert_eq!(
        serde_json::from_str::<CatchUpMode>("\"all\"").unwrap(),
        CatchUpMode::All
    );
}

fn mode() -> impl Strategy<Value = CatchUpMode> {
    prop_oneof![
        Just(CatchUpMode::Skip),
        Just(CatchUpMode::Once),
        Just(CatchUpMode::All)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every due time in (since, now] gets exactly one outcome, nothing after
    /// `now` is planned, and the enqueued ones obey the mode and the cap.
    #[test]
    fn every_due_time_gets_exactly_one_outcome(
        expr in prop_oneof![Just("*/7 * * * *"), Just("0 * * * *"), Just("30 1 * * *"), Just("*/15 1 * * *"), Just("0 2 * * 1-5")],
        zone in prop_oneof![Just("UTC"), Just("Europe/London"), Just("America/New_York"), Just("Australia/Lord_Howe")],
        since_secs in 1_735_689_600i64..1_767_225_600, // 2025
        outage_secs in 0i64..(10 * 86_400),
        mode in mode(),
        window_h in proptest::option::of(1u64..100),
        max_runs in 1u32..5,
    ) {
        let schedule = Schedule::cron(expr, zone).unwrap();
        let since = DateTime::from_timestamp(since_secs, 0).unwrap();
        let now = since + chrono::Duration::seconds(outage_secs);
        let p = policy(mode, window_h, max_runs);
        let plan = plan_catch_up(&schedule, Since::LastDue(since), now, &p);

        let due: Vec<_> = schedule.fires_between(since, now, usize::MAX).collect();
        prop_assert_eq!(plan.due_count(), due.len() as u64);
        let listed: Vec<_> = plan.outcomes.iter().map(|o| o.due).collect();
        prop_assert_eq!(&listed[..], &due[due.len() - listed.len()..]);
        prop_assert!(plan.next_due.is_some_and(|next| next > now));

        let enqueued: Vec<_> = plan.enqueued().collect();
        let limit = if mode == CatchUpMode::All { max_runs as usize } else { 1 };
        prop_assert!(enqueued.len() <= limit);
        prop_assert!(enqueued.iter().all(|t| *t <= now && *t > since));
        // Enqueued runs are the newest due times inside the window.
        let window = chrono::Duration::from_std(p.effective_window(&schedule)).unwrap();
        let inside: Vec<_> = due.iter().copied().filter(|t| now - *t <= window).collect();
        let expected: Vec<_> = inside[inside.len().saturating_sub(limit)..].to_vec();
        prop_assert_eq!(enqueued, expected);
    }
}
