//! Human formatting of times, durations, sizes and rates.

use std::time::Duration;

use chrono::{DateTime, Local, Utc};

/// Placeholder for a missing value.
pub(crate) const NONE: &str = "-";

/// A timestamp in the local time zone, `2025-12-20 22:23:05`; `-` when unset.
pub(crate) fn time(ts: Option<&prost_types::Timestamp>) -> String {
    utc(ts).map_or_else(
        || NONE.to_owned(),
        |t| {
            t.with_timezone(&Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        },
    )
}

/// A timestamp as UTC.
pub(crate) fn utc(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let ts = ts?;
    DateTime::from_timestamp(ts.seconds, ts.nanos.clamp(0, 999_999_999) as u32)
}

/// How long ago, such as `3d 4h ago`; `-` when unset.
pub(crate) fn ago(ts: Option<&prost_types::Timestamp>) -> String {
    match utc(ts) {
        None => NONE.to_owned(),
        Some(t) => match (Utc::now() - t).to_std() {
            Ok(d) => format!("{} ago", short_duration(d)),
            Err(_) => format!(
                "in {}",
                short_duration((t - Utc::now()).to_std().unwrap_or_default())
            ),
        },
    }
}

/// A proto duration, such as `1h 30m`; `-` when unset.
pub(crate) fn duration(d: Option<&prost_types::Duration>) -> String {
    d.and_then(vigil_proto::duration_from_proto)
        .map_or_else(|| NONE.to_owned(), short_duration)
}

/// The two largest units of a duration: `3d 4h`, `12m 5s`, `0s`.
pub(crate) fn short_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = secs;
    for (size, name) in units {
        if rest >= size {
            parts.push(format!("{}{name}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

/// A byte count in binary units: `512 B`, `1.5 KiB`, `2.0 GiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Yes or no, for tables.
pub(crate) fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A value or `-` when empty.
pub(crate) fn or_none(s: &str) -> &str {
    if s.is_empty() { NONE } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_show_two_units() {
        assert_eq!(short_duration(Duration::from_secs(0)), "0s");
        assert_eq!(short_duration(Duration::from_secs(59)), "59s");
        assert_eq!(
            short_duration(Duration::from_secs(3 * 86_400 + 4 * 3600 + 7)),
            "3d 4h"
        );
        assert_eq!(short_duration(Duration::from_secs(3600 + 5)), "1h 5s");
        assert_eq!(duration(None), "-");
        assert_eq!(
            duration(Some(&prost_types::Duration {
                seconds: 5400,
                nanos: 0
            })),
            "1h 30m"
        );
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[test]
    fn unset_times_are_dashes() {
        assert_eq!(time(None), "-");
        assert_eq!(ago(None), "-");
        let ts = prost_types::Timestamp {
            seconds: 0,
            nanos: 0,
        };
        assert!(ago(Some(&ts)).ends_with(" ago"));
        assert_eq!(
            utc(Some(&ts)).unwrap().to_rfc3339(),
            "1970-01-01T00:00:00+00:00"
        );
    }
}
