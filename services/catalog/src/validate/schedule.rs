//! Schedule validation, delegated to `vigil-schedule` so the catalog and the
//! scheduler agree on what a schedule means (cron or preset, IANA zone,
//! never-firing schedules refused). This module only adds the checks of the
//! surrounding policy fields.

use vigil_proto::catalog::v1::{CatchUpPolicy, OverlapPolicy, Schedule};

use super::Checker;

/// Largest catch-up cap.
const MAX_CATCH_UP_CAP: u32 = 1000;

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
    for (name, d) in [
        ("catch_up_window", &schedule.catch_up_window),
        ("jitter", &schedule.jitter),
        ("grace", &schedule.grace),
    ] {
        if let Some(d) = d
            && (vigil_proto::duration_from_proto(d).is_none() || d.nanos >= 1_000_000_000)
        {
            v.add(field(name), "must not be negative");
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
