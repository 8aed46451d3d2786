//! Small conversions between generated types and std/chrono-free primitives.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Converts a `SystemTime` into a protobuf `Timestamp`.
pub fn timestamp_from_system(t: SystemTime) -> prost_types::Timestamp {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => prost_types::Timestamp {
            seconds: d.as_secs() as i64,
            nanos: d.subsec_nanos() as i32,
        },
        Err(e) => {
            let d = e.duration();
            let mut seconds = -(d.as_secs() as i64);
            let mut nanos = -(d.subsec_nanos() as i32);
            if nanos < 0 {
                seconds -= 1;
                nanos += 1_000_000_000;
            }
            prost_types::Timestamp { seconds, nanos }
        }
    }
}

/// Converts microseconds since the Unix epoch into a protobuf `Timestamp`.
pub fn timestamp_from_micros(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

/// Converts a protobuf `Timestamp` into microseconds since the Unix epoch.
pub fn timestamp_to_micros(ts: &prost_types::Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(ts.nanos) / 1_000)
}

/// Seconds of 0001-01-01T00:00:00Z, the earliest valid protobuf `Timestamp`.
pub const MIN_TIMESTAMP_SECONDS: i64 = -62_135_596_800;
/// Seconds of 9999-12-31T23:59:59Z, the latest valid protobuf `Timestamp`.
pub const MAX_TIMESTAMP_SECONDS: i64 = 253_402_300_799;

/// Why `ts` is not a valid protobuf `Timestamp` (0001-01-01T00:00:00Z to
/// 9999-12-31T23:59:59.999999999Z, nanos 0 to 999,999,999), or `None`.
pub fn timestamp_out_of_range(ts: &prost_types::Timestamp) -> Option<&'static str> {
    let valid = (MIN_TIMESTAMP_SECONDS..=MAX_TIMESTAMP_SECONDS).contains(&ts.seconds)
        && (0..1_000_000_000).contains(&ts.nanos);
    (!valid).then_some(
        "must be a valid timestamp between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z",
    )
}

/// Converts a std `Duration` into a protobuf `Duration`.
pub fn duration_to_proto(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// Converts a protobuf `Duration` into a std `Duration`; negative values become `None`.
pub fn duration_from_proto(d: &prost_types::Duration) -> Option<Duration> {
    if d.seconds < 0 || d.nanos < 0 {
        return None;
    }
    Some(Duration::new(d.seconds as u64, d.nanos as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip_including_negative() {
        for m in [
            0_i64,
            1,
            999_999,
            1_000_000,
            -1,
            -1_000_001,
            1_766_275_385_123_456,
        ] {
            assert_eq!(timestamp_to_micros(&timestamp_from_micros(m)), m);
        }
    }

    #[test]
    fn timestamps_outside_the_protobuf_range_are_named() {
        let ts = |seconds, nanos| prost_types::Timestamp { seconds, nanos };
        assert_eq!(timestamp_out_of_range(&ts(0, 0)), None);
        assert_eq!(
            timestamp_out_of_range(&ts(MAX_TIMESTAMP_SECONDS, 999_999_999)),
            None
        );
        assert_eq!(timestamp_out_of_range(&ts(MIN_TIMESTAMP_SECONDS, 0)), None);
        assert!(timestamp_out_of_range(&ts(MAX_TIMESTAMP_SECONDS + 1, 0)).is_some());
        assert!(timestamp_out_of_range(&ts(MIN_TIMESTAMP_SECONDS - 1, 0)).is_some());
        assert!(timestamp_out_of_range(&ts(0, -1)).is_some());
        assert!(timestamp_out_of_range(&ts(i64::MAX, 0)).is_some());
    }

    #[test]
    fn negative_duration_is_rejected() {
        let d = prost_types::Duration {
            seconds: -1,
            nanos: 0,
        };
        assert_eq!(duration_from_proto(&d), None);
    }
}
