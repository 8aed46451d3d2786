//! Conversions between protobuf times and chrono, and human durations.

use chrono::{DateTime, Duration, Utc};
use prost_types::Timestamp;

/// A protobuf timestamp as a chrono instant.
pub(crate) fn instant(ts: &Option<Timestamp>) -> Option<DateTime<Utc>> {
    ts.as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
}

/// A chrono instant as a protobuf timestamp.
pub(crate) fn stamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// A chrono duration as a protobuf duration; negative values become zero.
pub(crate) fn span(d: Duration) -> prost_types::Duration {
    let d = d.max(Duration::zero());
    prost_types::Duration {
        seconds: d.num_seconds(),
        nanos: d.subsec_nanos(),
    }
}

/// A std duration as a chrono duration.
pub(crate) fn chrono_of(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::MAX)
}

/// "3 days 4 hours", "25 minutes", "40 seconds".
pub(crate) fn human(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    let unit = |n: i64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if days > 0 {
        if hours > 0 {
            format!("{} {}", unit(days, "day"), unit(hours, "hour"))
        } else {
            unit(days, "day")
        }
    } else if hours > 0 {
        if minutes > 0 {
            format!("{} {}", unit(hours, "hour"), unit(minutes, "minute"))
        } else {
            unit(hours, "hour")
        }
    } else if minutes > 0 {
        unit(minutes, "minute")
    } else {
        unit(secs, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_read_naturally() {
        assert_eq!(human(Duration::seconds(40)), "40 seconds");
        assert_eq!(human(Duration::minutes(1)), "1 minute");
        assert_eq!(human(Duration::hours(26)), "1 day 2 hours");
        assert_eq!(human(Duration::days(3)), "3 days");
    }
}
