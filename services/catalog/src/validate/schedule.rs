//! Schedule validation, delegated to `vigil-schedule` so the catalog and the
//! scheduler agree on what a schedule means (cron or preset, IANA zone,
//! never-firing schedules refused). This module only adds the checks of the
//! surrounding policy fields.

use vigil_proto::catalog::v1::{CatchUpPolicy, OverlapPolicy, Schedule};

use super::Checker;

/// Largest catch-up cap.
const MAX_CATCH_UP_CAP: u32 = 1000;
/// Longest catch-up window: one year (a longer outage needs a backfill).
const MAX_CATCH_UP_WINDOW: Limit = Limit::days(366, "366 days");
/// Longest jitter: one day.
const MAX_JITTER: Limit = Limit::days(1, "1 day (86400s)");
/// Longest grace: 31 days, so a monthly schedule can have a generous one.
const MAX_GRACE: Limit = Limit::days(31, "31 days");

/// An upper bound of a duration field and how the reason spells it.
struct Limit {
    seconds: i64,
    shown: &'static str,
}

impl Limit {
    const fn days(days: i64, shown: &'static str) -> Self {
        Self {
            seconds: days * 86_400,
            shown,
        }
    }
}

/// Checks `schedule`, found at `{prefix}.schedule` in the request.
pub fn validate_schedule(v: &mut Checker, prefix: &str, schedule: &Schedule) {
    if let Err(e) = vigil_schedule::schedule_from_proto(schedule) {
        v.add(format!("{prefix}.{}", e.field()), e.reason());
        // The zone is read first: a bad zone must not hide a bad cron or
        // preset until the next try, so the rest is checked in UTC too.
        if e.field().ends_with("timezone") {
            let in_utc = Schedule {
                timezone: "UTC".to_owned(),
                ..schedule.clone()
            };
            if let Err(e) = vigil_schedule::schedule_from_proto(&in_utc) {
                v.add(format!("{prefix}.{}", e.field()), e.reason());
            }
        }
    }
    let field = |name: &str| format!("{prefix}.schedule.{name}");
    if CatchUpPolicy::try_from(schedule.catch_up).is_err() {
        v.add(
            field("catch_up"),
            format!("unknown value {}", schedule.catch_up),
        );
    }
    if OverlapPolicy::try_from(schedule.overlap).is_err() {
        v.add(
            field("overlap"),
            format!("unknown value {}", schedule.overlap),
        );
    }
    if schedule.catch_up_cap > MAX_CATCH_UP_CAP {
        v.add(
            field("catch_up_cap"),
            format!("must be at most {MAX_CATCH_UP_CAP}"),
        );
    }
    for (name, d, max) in [
        (
            "catch_up_window",
            &schedule.catch_up_window,
            MAX_CATCH_UP_WINDOW,
        ),
        ("jitter", &schedule.jitter, MAX_JITTER),
        ("grace", &schedule.grace, MAX_GRACE),
    ] {
        let Some(d) = d else { continue };
        if vigil_proto::duration_from_proto(d).is_none() || d.nanos >= 1_000_000_000 {
            v.add(field(name), "must not be negative");
        } else if d.seconds > max.seconds || (d.seconds == max.seconds && d.nanos > 0) {
            v.add(field(name), format!("must be at most {}", max.shown));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_proto::catalog::v1::schedule::Spec;

    fn check(cron: &str, tz: &str) -> String {
        let mut v = Checker::new();
        let s = Schedule {
            spec: Some(Spec::Cron(cron.into())),
            timezone: tz.into(),
            ..Default::default()
        };
        validate_schedule(&mut v, "configuration", &s);
        v.finish().err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn good_schedules_pass() {
        assert_eq!(check("0 2 * * *", "Europe/Berlin"), "");
        assert_eq!(check("0 0 3 * * SUN", ""), "");
    }

    #[test]
    fn durations_have_a_maximum() {
        let day = |days: i64| prost_types::Duration {
            seconds: days * 86_400,
            nanos: 0,
        };
        let s = Schedule {
            spec: Some(Spec::Cron("0 2 * * *".into())),
            jitter: Some(day(106_751)),
            grace: Some(day(32)),
            catch_up_window: Some(day(367)),
            catch_up_cap: 1001,
            ..Default::default()
        };
        let mut v = Checker::new();
        validate_schedule(&mut v, "configuration", &s);
        let msg = v.finish().unwrap_err().to_string();
        for expected in [
            "configuration.schedule.jitter: must be at most 1 day (86400s)",
            "configuration.schedule.grace: must be at most 31 days",
            "configuration.schedule.catch_up_window: must be at most 366 days",
            "configuration.schedule.catch_up_cap: must be at most 1000",
        ] {
            assert!(msg.contains(expected), "{msg}");
        }
        let ok = Schedule {
            jitter: Some(day(1)),
            grace: Some(day(31)),
            catch_up_window: Some(day(366)),
            ..s
        };
        let mut v = Checker::new();
        validate_schedule(
            &mut v,
            "configuration",
            &Schedule {
                catch_up_cap: 1000,
                ..ok
            },
        );
        assert!(v.is_clean());
    }

    #[test]
    fn bad_schedules_name_the_field() {
        assert!(check("0 2 * *", "UTC").starts_with("configuration.schedule.cron: "));
        assert!(
            check("0 2 * * *", "Mars/Olympus").starts_with("configuration.schedule.timezone: ")
        );
        assert!(check("0 2 * * *", "+02:00").starts_with("configuration.schedule.timezone: "));
        let both = check("61 2 * * *", "Mars/Olympus");
        assert!(
            both.contains("configuration.schedule.timezone: ")
                && both.contains("configuration.schedule.cron: "),
            "{both}"
        );
        assert!(check("0 0 30 2 *", "UTC").starts_with("configuration.schedule"));
    }
}
