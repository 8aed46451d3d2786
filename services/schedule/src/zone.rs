//! IANA time zone names: parsing and the rejection of fixed offsets.
//!
//! Vigil schedules name a place (`Europe/Berlin`), never an offset
//! (`+02:00`), because an offset cannot follow daylight saving time: a
//! schedule written as `02:00 +01:00` silently moves by an hour twice a year
//! (guarantee S6). `UTC` is accepted. Rejected, with the field
//! `schedule.timezone` and a reason:
//!
//! - empty names;
//! - offsets and offset-like names: `+02:00`, `-0500`, `UTC+2`, `GMT-03:30`,
//!   `Etc/GMT+2` (an IANA name, but a fixed offset with an inverted sign);
//! - the legacy fixed-offset abbreviations `EST`, `MST` and `HST`;
//! - names that are not in the IANA database (with a suggestion when only
//!   the letter case is wrong).

use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ErrorKind, Result, ScheduleError, field};

/// Legacy zone names that denote a fixed offset rather than a place.
const FIXED_OFFSET_NAMES: [&str; 3] = ["EST", "MST", "HST"];

/// A validated IANA time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Zone(Tz);

impl Zone {
    /// The UTC zone, used when a schedule names no time zone.
    pub const UTC: Zone = Zone(Tz::UTC);

    /// Parses an IANA time zone name such as `Europe/Berlin` or `UTC`.
    ///
    /// Surrounding whitespace is ignored. Errors name the field
    /// `schedule.timezone`.
    pub fn parse(name: &str) -> Result<Self> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ScheduleError::new(
                field::TIMEZONE,
                ErrorKind::Missing,
                "must not be empty; use an IANA time zone name such as Europe/Berlin or UTC",
            ));
        }
        if looks_like_offset(name) || FIXED_OFFSET_NAMES.contains(&name) {
            return Err(ScheduleError::new(
                field::TIMEZONE,
                ErrorKind::FixedOffset,
                format!(
                    "{name:?} is a fixed UTC offset, which does not follow daylight saving time; \
                     use an IANA time zone name such as Europe/Berlin, America/New_York or UTC"
                ),
            ));
        }
        match Tz::from_str(name) {
            Ok(tz) => Ok(Zone(tz)),
            Err(_) => {
                let hint = chrono_tz::TZ_VARIANTS
                    .iter()
                    .find(|tz| tz.name().eq_ignore_ascii_case(name))
                    .map(|tz| format!("; did you mean {}?", tz.name()))
                    .unwrap_or_default();
                Err(ScheduleError::new(
                    field::TIMEZONE,
                    ErrorKind::UnknownTimezone,
                    format!("{name:?} is not a known IANA time zone name{hint}"),
                ))
            }
        }
    }

    /// The IANA name, for example `Europe/Berlin`.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The chrono-tz zone, for converting instants to local time.
    pub fn tz(&self) -> Tz {
        self.0
    }
}

impl Default for Zone {
    fn default() -> Self {
        Zone::UTC
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Zone {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self> {
        Zone::parse(s)
    }
}

impl Serialize for Zone {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Zone::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// Whether `name` spells an offset: a sign followed by a digit anywhere
/// (`+02:00`, `UTC+2`, `GMT-3`, `Etc/GMT+5`). No IANA place name contains a
/// sign directly followed by a digit.
fn looks_like_offset(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes
        .windows(2)
        .any(|w| (w[0] == b'+' || w[0] == b'-') && w[1].is_ascii_digit())
        || (bytes.len() > 1 && bytes[0].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_iana_names_and_utc() {
        for name in [
            "UTC",
            "Europe/London",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "America/Port-au-Prince",
        ] {
            assert_eq!(Zone::parse(name).unwrap().name(), name);
        }
    }

    #[test]
    fn rejects_offsets_naming_the_timezone_field() {
        for name in [
            "+02:00",
            "-0500",
            "UTC+2",
            "GMT+2",
            "gmt-3",
            "Etc/GMT+2",
            "Etc/GMT-14",
            "02:00",
            "EST",
            "MST",
            "HST",
        ] {
            let err = Zone::parse(name).unwrap_err();
            assert_eq!(err.field(), "schedule.timezone", "{name}");
            assert_eq!(err.kind(), ErrorKind::FixedOffset, "{name}");
            assert!(err.reason().contains("fixed UTC offset"), "{name}: {err}");
        }
    }

    #[test]
    fn rejects_unknown_names_with_a_case_hint() {
        let err = Zone::parse("Mars/Olympus").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownTimezone);
        assert!(
            err.to_string()
                .starts_with("schedule.timezone: \"Mars/Olympus\" is not a known")
        );
        let err = Zone::parse("europe/berlin").unwrap_err();
        assert!(
            err.reason().ends_with("did you mean Europe/Berlin?"),
            "{err}"
        );
    }

    #[test]
    fn rejects_empty_names() {
        let err = Zone::parse("  ").unwrap_err();
        assert_eq!(
            (err.field(), err.kind()),
            ("schedule.timezone", ErrorKind::Missing)
        );
    }

    #[test]
    fn round_trips_through_serde_and_rejects_offsets_there() {
        let zone: Zone = serde_json::from_str("\"Europe/Berlin\"").unwrap();
        assert_eq!(serde_json::to_string(&zone).unwrap(), "\"Europe/Berlin\"");
        let err = serde_json::from_str::<Zone>("\"+01:00\"").unwrap_err();
        assert!(err.to_string().contains("schedule.timezone"), "{err}");
    }
}
