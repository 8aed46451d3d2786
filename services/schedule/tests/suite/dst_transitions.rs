//! Fire times on the concrete DST transition dates of 2025 (guarantee S6).
//!
//! | zone | forward (gap) | back (repeated) |
//! |---|---|---|
//! | Europe/London | 2025-03-30 01:00Z: 01:00-02:00 local missing | 2025-10-26 01:00Z: 01:00-02:00 local twice |
//! | America/New_York | 2025-03-09 07:00Z: 02:00-03:00 missing | 2025-11-02 06:00Z: 01:00-02:00 twice |
//! | Australia/Lord_Howe | 2025-10-04 15:30Z: 02:00-02:30 missing | 2025-04-05 15:00Z: 01:30-02:00 twice |

use chrono::{DateTime, Utc};
use vigil_schedule::Schedule;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn fires(expr: &str, tz: &str, after: &str, n: usize) -> Vec<String> {
    Schedule::cron(expr, tz)
        .unwrap()
        .next_n(utc(after), n)
        .iter()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .collect()
}

#[test]
fn london_gap_fires_at_the_end_of_the_gap() {
    // 01:30 local does not exist on 30 March; it fires at 02:00 BST = 01:00Z.
    assert_eq!(
        fires("30 1 * * *", "Europe/London", "2025-03-29T00:00:00Z", 3),
        [
            "2025-03-29T01:30:00Z",
            "2025-03-30T01:00:00Z",
            "2025-03-31T00:30:00Z"
        ]
    );
}

#[test]
fn london_0230_exists_on_spring_forward_day() {
    // London's gap is 01:00-02:00, so 02:30 is a real time: 02:30 BST = 01:30Z.
    assert_eq!(
        fires("30 2 * * *", "Europe/London", "2025-03-29T12:00:00Z", 1),
        ["2025-03-30T01:30:00Z"]
    );
}

#[test]
fn london_gap_fires_once_for_several_skipped_times() {
    // 01:00, 01:15, 01:30 and 01:45 are all skipped and map to 01:00Z: one fire.
    assert_eq!(
        fires("*/15 1 * * *", "Europe/London", "2025-03-29T12:00:00Z", 3),
        [
            "2025-03-30T01:00:00Z",
            "2025-03-31T00:00:00Z",
            "2025-03-31T00:15:00Z"
        ]
    );
    // 02:00 BST is the end of the gap too: 01:30 (skipped) and 02:00 fire once.
    assert_eq!(
        fires("*/30 * * * *", "Europe/London", "2025-03-30T00:15:00Z", 4),
        [
            "2025-03-30T00:30:00Z",
            "2025-03-30T01:00:00Z",
            "2025-03-30T01:30:00Z",
            "2025-03-30T02:00:00Z"
        ]
    );
}

#[test]
fn london_repeated_hour_fires_once_at_the_first_occurrence() {
    // 01:30 happens at 00:30Z (BST) and 01:30Z (GMT): only the first fires.
    assert_eq!(
        fires("30 1 * * *", "Europe/London", "2025-10-25T12:00:00Z", 2),
        ["2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"]
    );
}

#[test]
fn london_repeated_hour_fires_each_wall_time_once() {
    assert_eq!(
        fires("*/15 1 * * *", "Europe/London", "2025-10-25T12:00:00Z", 5),
        [
            "2025-10-26T00:00:00Z",
            "2025-10-26T00:15:00Z",
            "2025-10-26T00:30:00Z",
            "2025-10-26T00:45:00Z",
            "2025-10-27T01:00:00Z"
        ]
    );
    // Hourly across the fall-back: 01:00 local fires once (00:00Z), 02:00 GMT next.
    assert_eq!(
        fires("0 * * * *", "Europe/London", "2025-10-25T22:30:00Z", 3),
        [
            "2025-10-25T23:00:00Z",
            "2025-10-26T00:00:00Z",
            "2025-10-26T02:00:00Z"
        ]
    );
}

#[test]
fn london_search_from_inside_the_second_pass_skips_past_wall_times() {
    // From 01:20 GMT (second pass), 01:30 and 01:45 local already fired at
    // their first occurrence, so the next fire is the next day's 01:00.
    assert_eq!(
        fires("*/15 1 * * *", "Europe/London", "2025-10-26T01:20:00Z", 1),
        ["2025-10-27T01:00:00Z"]
    );
}

#[test]
fn new_york_gap_and_repeated_hour() {
    assert_eq!(
        fires("30 2 * * *", "America/New_York", "2025-03-08T00:00:00Z", 3),
        [
            "2025-03-08T07:30:00Z",
            "2025-03-09T07:00:00Z",
            "2025-03-10T06:30:00Z"
        ]
    );
    assert_eq!(
        fires(
            "*/15 1 * * *",
            "America/New_York",
            "2025-11-02T00:00:00Z",
            5
        ),
        [
            "2025-11-02T05:00:00Z",
            "2025-11-02T05:15:00Z",
            "2025-11-02T05:30:00Z",
            "2025-11-02T05:45:00Z",
            "2025-11-03T06:00:00Z"
        ]
    );
}

#[test]
fn lord_howe_thirty_minute_shifts() {
    // Forward: 02:00-02:30 local missing; 02:15 fires at 02:30 LHDT = 15:30Z.
    assert_eq!(
        fires(
            "15 2 * * *",
            "Australia/Lord_Howe",
            "2025-10-03T00:00:00Z",
            3
        ),
        [
            "2025-10-03T15:45:00Z",
            "2025-10-04T15:30:00Z",
            "2025-10-05T15:15:00Z"
        ]
    );
    // Back: 01:30-02:00 local twice; 01:45 fires at its first occurrence (+11:00).
    assert_eq!(
        fires(
            "45 1 * * *",
            "Australia/Lord_Howe",
            "2025-04-04T00:00:00Z",
            3
        ),
        [
            "2025-04-04T14:45:00Z",
            "2025-04-05T14:45:00Z",
            "2025-04-06T15:15:00Z"
        ]
    );
}

#[test]
fn kolkata_has_no_transitions() {
    assert_eq!(
        fires("30 2 * * *", "Asia/Kolkata", "2025-03-29T00:00:00Z", 2),
        ["2025-03-29T21:00:00Z", "2025-03-30T21:00:00Z"]
    );
}

#[test]
fn seconds_cron_crosses_both_transitions() {
    // Spring: local time jumps from 00:59:59 GMT to 02:00:00 BST; fires stay 10 s apart.
    assert_eq!(
        fires("*/10 * * * * *", "Europe/London", "2025-03-30T00:59:40Z", 3),
        [
            "2025-03-30T00:59:50Z",
            "2025-03-30T01:00:00Z",
            "2025-03-30T01:00:10Z"
        ]
    );
    // Fall: the repeated hour's second pass (01:00-02:00 GMT) fires nothing.
    assert_eq!(
        fires("*/10 * * * * *", "Europe/London", "2025-10-26T00:59:40Z", 3),
        [
            "2025-10-26T00:59:50Z",
            "2025-10-26T02:00:00Z",
            "2025-10-26T02:00:10Z"
        ]
    );
}

#[test]
fn next_after_is_strictly_after() {
    let s = Schedule::cron("0 2 * * *", "Europe/Berlin").unwrap();
    // 02:00 CEST on 1 June is 00:00Z; from exactly then, the next is a day later.
    let first = s.next_after(utc("2025-05-31T12:00:00Z")).unwrap();
    assert_eq!(first, utc("2025-06-01T00:00:00Z"));
    assert_eq!(s.next_after(first).unwrap(), utc("2025-06-02T00:00:00Z"));
    // Sub-second instants just before and just after a fire.
    let just_before = first - chrono::Duration::milliseconds(1);
    assert_eq!(s.next_after(just_before), Some(first));
    let just_after = first + chrono::Duration::milliseconds(1);
    assert_eq!(
        s.next_after(just_after).unwrap(),
        utc("2025-06-02T00:00:00Z")
    );
}

#[test]
fn fires_between_is_exclusive_inclusive_and_capped() {
    let s = Schedule::cron("0 * * * *", "UTC").unwrap();
    let all: Vec<_> = s
        .fires_between(utc("2025-01-01T00:00:00Z"), utc("2025-01-01T03:00:00Z"), 10)
        .collect();
    assert_eq!(
        all,
        [
            utc("2025-01-01T01:00:00Z"),
            utc("2025-01-01T02:00:00Z"),
            utc("2025-01-01T03:00:00Z")
        ]
    );
    let capped: Vec<_> = s
        .fires_between(utc("2025-01-01T00:00:00Z"), utc("2025-01-01T03:00:00Z"), 2)
        .collect();
    assert_eq!(capped.len(), 2);
}

#[test]
fn monthly_preset_in_a_zone_fires_on_the_last_day() {
    use vigil_schedule::{Preset, TimeOfDay};
    let s = Schedule::preset(
        Preset::Monthly {
            day: 31,
            at: TimeOfDay::new(4, 0).unwrap(),
        },
        "Europe/Berlin",
    )
    .unwrap();
    let got: Vec<_> = s
        .next_n(utc("2025-01-31T12:00:00Z"), 3)
        .iter()
        .map(|t| t.to_rfc3339())
        .collect();
    assert_eq!(
        got,
        [
            "2025-02-28T03:00:00+00:00",
            "2025-03-31T02:00:00+00:00",
            "2025-04-30T02:00:00+00:00"
        ]
    );
}
