//! Human descriptions of schedules for CLI tables and status reports.
//!
//! Shapes that read naturally are recognised from the parsed fields, however
//! they were spelled (`*/10`, `0-59/10` and `0,10,20,30,40,50` all read
//! "every 10 minutes"); anything else falls back to the cron text. The time
//! zone is appended whenever the local wall clock matters, which is every
//! shape except "every N seconds" and "every N minutes".
//!
//! Examples: `every 10 seconds`, `every 15 minutes`,
//! `daily at 02:00 Europe/Berlin`, `weekly on Sunday at 03:00 Europe/Berlin`,
//! `Monday to Friday at 02:00 UTC`, `monthly on day 1 at 04:00 UTC`,
//! `cron "0 0 L * *" in UTC`.

use crate::cron::CronExpr;
use crate::preset::Preset;
use crate::recurrence::Recurrence;
use crate::schedule::Schedule;

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

impl Schedule {
    /// A short English description, for example `daily at 02:00 Europe/Berlin`.
    pub fn describe(&self) -> String {
        self.description.get_or_init(|| self.describe_now()).clone()
    }

    fn describe_now(&self) -> String {
        let zone = self.zone.name();
        match &self.recurrence {
            Recurrence::Preset(p) => match p {
                Preset::Hourly { minute } => format!("hourly at minute {minute} {zone}"),
                Preset::Daily { at } => format!("daily at {at} {zone}"),
                Preset::Weekly { on, at } => {
                    format!(
                        "weekly on {} at {at} {zone}",
                        WEEKDAYS[on.num_days_from_sunday() as usize]
                    )
                }
                Preset::Monthly { day, at } if *day >= 29 => {
                    format!(
                        "monthly on day {day} (or the last day of shorter months) at {at} {zone}"
                    )
                }
                Preset::Monthly { day, at } => format!("monthly on day {day} at {at} {zone}"),
            },
            Recurrence::Cron(c) => describe_cron(c)
                .unwrap_or_else(|| format!("cron {:?} in {zone}", c.as_str()))
                .replace("{zone}", zone),
        }
    }
}

/// Describes the common cron shapes; `None` for the rest. `{zone}` marks
/// where the zone name goes.
fn describe_cron(c: &CronExpr) -> Option<String> {
    let (secs, mins, hours) = (c.second_values(), c.minute_values(), c.hour_values());
    let p = c.pattern();
    if p.days.has_modifiers() || p.days_of_week.has_modifiers() || p.months.values().len() != 12 {
        return None;
    }
    let dom = (!p.is_dom_wildcard()).then(|| p.days.values());
    let dow = (!p.is_dow_wildcard()).then(|| p.days_of_week.values());
    let every_day = dom.is_none() && dow.is_none();

    // Sub-hour intervals: the zone does not matter.
    if every_day && hours.len() == 24 && mins.len() == 60 && secs.len() > 1 {
        return step(&secs, 60).map(|n| plural(n, "second"));
    }
    if every_day
        && hours.len() == 24
        && secs.len() == 1
        && let Some(n) = step(&mins, 60)
    {
        let at = if secs[0] == 0 {
            String::new()
        } else {
            format!(" at second {}", secs[0])
        };
        return Some(format!("{}{at}", plural(n, "minute")));
    }
    if secs.len() != 1 || mins.len() != 1 {
        return None;
    }
    let (s, m) = (secs[0], mins[0]);
    let minute = if s == 0 {
        format!("minute {m}")
    } else {
        format!("{m:02}:{s:02} past the hour")
    };
    if every_day && hours.len() == 24 {
        return Some(format!("hourly at {minute} {{zone}}"));
    }
    if every_day && let Some(n) = step(&hours, 24) {
        return Some(format!("every {n} hours at {minute} {{zone}}"));
    }
    if hours.len() > 4 {
        return None;
    }
    let times = hours
        .iter()
        .map(|h| clock(*h, m, s))
        .collect::<Vec<_>>()
        .join(", ");
    match (dom, dow) {
        (None, None) => Some(format!("daily at {times} {{zone}}")),
        (None, Some(days)) if days.len() == 1 => Some(format!(
            "weekly on {} at {times} {{zone}}",
            WEEKDAYS[usize::from(days[0]) % 7]
        )),
        (None, Some(days)) => Some(format!("{} at {times} {{zone}}", weekday_list(&days))),
        (Some(days), None) if days.len() == 1 => {
            Some(format!("monthly on day {} at {times} {{zone}}", days[0]))
        }
        _ => None,
    }
}

/// `Some(n)` if `values` are exactly `0, n, 2n, ...` below `range` and `n`
/// divides `range`.
fn step(values: &[u32], range: u32) -> Option<u32> {
    let n = match values {
        [0] => range,
        [0, second, ..] => *second,
        _ => return None,
    };
    (range.is_multiple_of(n) && values.iter().copied().eq((0..range).step_by(n as usize)))
        .then_some(n)
}

fn plural(n: u32, unit: &str) -> String {
    if n == 1 {
        format!("every {unit}")
    } else {
        format!("every {n} {unit}s")
    }
}

fn clock(h: u32, m: u32, s: u32) -> String {
    if s == 0 {
        format!("{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// `Monday to Friday` for a run of consecutive days, else a comma list.
fn weekday_list(days: &[u16]) -> String {
    let days: Vec<usize> = days.iter().map(|d| usize::from(*d) % 7).collect();
    if days.len() > 2 && days.windows(2).all(|w| w[1] == w[0] + 1) {
        format!(
            "{} to {}",
            WEEKDAYS[days[0]],
            WEEKDAYS[days[days.len() - 1]]
        )
    } else {
        days.iter()
            .map(|d| WEEKDAYS[*d])
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use chrono::Weekday;

    use super::*;
    use crate::preset::TimeOfDay;

    fn cron(expr: &str, tz: &str) -> String {
        Schedule::cron(expr, tz).unwrap().describe()
    }

    #[test]
    fn describes_intervals_without_a_zone() {
        assert_eq!(cron("*/10 * * * * *", "Europe/Berlin"), "every 10 seconds");
        assert_eq!(cron("* * * * * *", "UTC"), "every second");
        assert_eq!(cron("0-59/15 * * * *", "UTC"), "every 15 minutes");
        assert_eq!(cron("* * * * *", "UTC"), "every minute");
        assert_eq!(
            cron("30 */5 * * * *", "UTC"),
            "every 5 minutes at second 30"
        );
    }

    #[test]
    fn describes_wall_clock_shapes_with_the_zone() {
        assert_eq!(
            cron("0 2 * * *", "Europe/Berlin"),
            "daily at 02:00 Europe/Berlin"
        );
        assert_eq!(
            cron("0 3 * * 0", "Europe/Berlin"),
            "weekly on Sunday at 03:00 Europe/Berlin"
        );
        assert_eq!(cron("0 3 * * SUN", "UTC"), "weekly on Sunday at 03:00 UTC");
        assert_eq!(cron("0 4 1 * *", "UTC"), "monthly on day 1 at 04:00 UTC");
        assert_eq!(cron("0 2 * * 1-5", "UTC"), "Monday to Friday at 02:00 UTC");
        assert_eq!(
            cron("15 * * * *", "Asia/Kolkata"),
            "hourly at minute 15 Asia/Kolkata"
        );
        assert_eq!(cron("0 */6 * * *", "UTC"), "every 6 hours at minute 0 UTC");
        assert_eq!(cron("0 2,14 * * *", "UTC"), "daily at 02:00, 14:00 UTC");
    }

    #[test]
    fn falls_back_to_the_cron_text() {
        assert_eq!(cron("0 0 L * *", "UTC"), "cron \"0 0 L * *\" in UTC");
        assert_eq!(cron("0 0 1 1 *", "UTC"), "cron \"0 0 1 1 *\" in UTC");
    }

    #[test]
    fn describes_presets() {
        let at = TimeOfDay::new(2, 0).unwrap();
        let d = |p| Schedule::preset(p, "Europe/Berlin").unwrap().describe();
        assert_eq!(d(Preset::Daily { at }), "daily at 02:00 Europe/Berlin");
        assert_eq!(
            d(Preset::Weekly {
                on: Weekday::Sun,
                at
            }),
            "weekly on Sunday at 02:00 Europe/Berlin"
        );
        assert_eq!(
            d(Preset::Hourly { minute: 5 }),
            "hourly at minute 5 Europe/Berlin"
        );
        assert_eq!(
            d(Preset::Monthly { day: 1, at }),
            "monthly on day 1 at 02:00 Europe/Berlin"
        );
        assert_eq!(
            d(Preset::Monthly { day: 31, at }),
            "monthly on day 31 (or the last day of shorter months) at 02:00 Europe/Berlin"
        );
    }
}
