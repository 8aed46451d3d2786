//! Durations in settings: human-readable strings (`"30s"`, `"2m 30s"`) or
//! whole seconds as an integer.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer, de};

/// Serialises a duration as a human-readable string.
pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&humantime::format_duration(*value).to_string())
}

/// Deserialises a duration from a human-readable string or whole seconds.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Seconds(secs) => Ok(Duration::from_secs(secs)),
        Raw::Text(text) => humantime::parse_duration(text.trim()).map_err(|e| {
            de::Error::custom(format!(
                "{text:?} is not a duration like \"30s\" or \"2m\": {e}"
            ))
        }),
    }
}
