//! The one parser of typed setting values, shared by every section
//! (`[catalog_server]`, `[scheduler]`, `[executor]`, ...): each is a serde
//! `with` module, so a value is parsed once, when the settings are loaded,
//! and a bad one fails the load with the setting's name.
//!
//! - [`duration`]: `"30s"`, `"2m 30s"`, `"1h"` or whole seconds (`30`);
//! - [`weekday`]: `mon` .. `sun` or the full English name, any case;
//! - [`size`]: bytes (`1048576`) or a number with a unit (`"64GiB"`,
//!   `"500 MB"`; `KiB`/`MiB`/`GiB`/`TiB` are powers of 1024, `KB`/`MB`/...
//!   powers of 1000).
//!
//! Times of day (`HH:MM`) are `vigil_schedule::TimeOfDay`, which parses
//! itself with the same rules as schedule presets in the API.

use std::time::Duration;

/// Parses a duration: human-readable text or whole seconds as text.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| format!("{text:?} is not a number of seconds: {e}"));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration like \"30s\" or \"2m\": {e}"))
}

/// Parses a day of the week: `mon` .. `sun` or the full name, any case.
pub fn parse_weekday(text: &str) -> Result<chrono::Weekday, String> {
    text.trim()
        .parse::<chrono::Weekday>()
        .map_err(|_| format!("{text:?} is not a day of the week; use mon, tue, .., sun"))
}

/// Parses a size in bytes: a whole number, optionally followed by a unit.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let bad = || format!("{text:?} is not a size; write bytes or a number with a unit like 64GiB");
    let number: u64 = number.parse().map_err(|_| bad())?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return Err(bad()),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Durations: human-readable strings or whole seconds as an integer.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de};

    /// Serialises a duration as a human-readable string.
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    /// Deserialises a duration from a human-readable string or whole seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        match super::NumberOrText::deserialize(deserializer)? {
            super::NumberOrText::Number(secs) => Ok(Duration::from_secs(secs)),
            super::NumberOrText::Text(text) => {
                super::parse_duration(&text).map_err(de::Error::custom)
            }
        }
    }
}

/// Days of the week, serialised as `mon` .. `sun`.
pub mod weekday {
    use serde::{Deserialize, Deserializer, Serializer, de};

    /// Serialises a weekday as its three-letter lowercase name.
    pub fn serialize<S: Serializer>(
        value: &chrono::Weekday,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string().to_ascii_lowercase())
    }

    /// Deserialises a weekday from its short or full name.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<chrono::Weekday, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_weekday(&text).map_err(de::Error::custom)
    }
}

/// Sizes in bytes: an integer, or a string with a unit.
pub mod size {
    use serde::{Deserialize, Deserializer, Serializer, de};

    /// Serialises a size as a number of bytes.
    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(*value)
    }

    /// Deserialises a size from bytes or a number with a unit.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        match super::NumberOrText::deserialize(deserializer)? {
            super::NumberOrText::Number(bytes) => Ok(bytes),
            super::NumberOrText::Text(text) => super::parse_size(&text).map_err(de::Error::custom),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_text_or_seconds() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration(" 2m 30s ").unwrap(),
            Duration::from_secs(150)
        );
        let e = parse_duration("soon").unwrap_err();
        assert!(e.contains("not a duration"), "{e}");
    }

    #[test]
    fn weekdays_are_short_or_full_names() {
        assert_eq!(parse_weekday("sun").unwrap(), chrono::Weekday::Sun);
        assert_eq!(parse_weekday("Monday").unwrap(), chrono::Weekday::Mon);
        assert!(
            parse_weekday("someday")
                .unwrap_err()
                .contains("day of the week")
        );
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("64GiB").unwrap(), 64 << 30);
        assert_eq!(parse_size("500 MB").unwrap(), 500_000_000);
        assert!(parse_size("12 parsecs").unwrap_err().contains("not a size"));
        assert!(parse_size("").is_err());
        assert!(
            parse_size("99999999999TiB")
                .unwrap_err()
                .contains("too large")
        );
    }
}
