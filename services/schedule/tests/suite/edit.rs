//! Schedule edits (guarantee S7): no retroactive fires, nothing swallowed.

use chrono::{DateTime, Duration, Utc};
use vigil_schedule::{CatchUpPolicy, Schedule, Since, apply_edit, plan_catch_up};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn edit_before_the_old_due_time_takes_effect_from_the_next_new_fire() {
    let new = Schedule::cron("0 4 * * *", "UTC").unwrap();
    let committed = utc("2025-01-04T01:00:00Z");
    let t = apply_edit(Some(utc("2025-01-04T02:00:00Z")), &new, committed);
    assert_eq!(t.carried_over, None);
    assert_eq!(t.next_due, Some(utc("2025-01-04T04:00:00Z")));
    assert_eq!(t.persisted_next_due(), Some(utc("2025-01-04T04:00:00Z")));
    assert_eq!(t.since, Since::ArmedAt(committed));
}

#[test]
fn edit_never_swallows_a_run_that_was_already_due() {
    let new = Schedule::cron("0 4 * * *", "UTC").unwrap();
    let old_due = utc("2025-01-04T02:00:00Z");
    // Committed while the old run was firing (same instant) and just after it.
    for committed in [old_due, old_due + Duration::milliseconds(300)] {
        let t = apply_edit(Some(old_due), &new, committed);
        assert_eq!(t.carried_over, Some(old_due));
        assert_eq!(t.persisted_next_due(), Some(old_due));
        assert_eq!(t.next_due, Some(utc("2025-01-04T04:00:00Z")));
    }
}

#[test]
fn edit_never_fires_the_new_schedule_retroactively() {
    // The new schedule would have fired every minute before the commit.
    let new = Schedule::cron("* * * * *", "UTC").unwrap();
    let committed = utc("2025-01-04T10:00:30Z");
    let t = apply_edit(None, &new, committed);
    assert_eq!(t.next_due, Some(utc("2025-01-04T10:01:00Z")));
    // A commit exactly on a new fire time does not fire it either.
    let on_fire = apply_edit(None, &new, utc("2025-01-04T10:00:00Z"));
    assert_eq!(on_fire.next_due, Some(utc("2025-01-04T10:01:00Z")));
    // Catch-up from the transition's cursor never reaches back before the commit.
    let plan = plan_catch_up(
        &new,
        t.since,
        committed + Duration::minutes(3),
        &CatchUpPolicy::default(),
    );
    assert!(plan.outcomes.iter().all(|o| o.due > committed));
    assert_eq!(plan.due_count(), 3);
}

#[test]
fn edit_of_a_schedule_with_no_next_due_arms_the_new_one() {
    let new = Schedule::cron("0 2 * * *", "Europe/Berlin").unwrap();
    let t = apply_edit(None, &new, utc("2025-07-01T12:00:00Z"));
    assert_eq!(t.carried_over, None);
    assert_eq!(t.persisted_next_due(), Some(utc("2025-07-02T00:00:00Z")));
}
