//! The error of loading or validating settings.

use std::path::PathBuf;

/// Loading or validating settings failed. Messages name the setting, where
/// its value came from when known, and the reason.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A setting has a bad value.
    #[error("invalid setting {setting}{}: {reason}", from_suffix(.from))]
    Invalid {
        /// Dotted name of the setting, e.g. `listen` or `scheduler.tick`.
        setting: String,
        /// The layer the value came from, e.g. `environment variable VIGIL_LISTEN`.
        from: Option<String>,
        /// Why the value is wrong.
        reason: String,
    },
    /// The configuration file names a setting that does not exist.
    #[error("unknown setting {setting} in config file {}", path.display())]
    Unknown {
        /// The unknown key.
        setting: String,
        /// The configuration file.
        path: PathBuf,
    },
    /// The configuration file is missing or unreadable.
    #[error("config file {}: {reason}", path.display())]
    ConfigFile {
        /// The configuration file.
        path: PathBuf,
        /// Why it could not be used.
        reason: String,
    },
}

impl SettingsError {
    /// A bad value of `setting`, with no known source.
    pub fn invalid(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            setting: setting.into(),
            from: None,
            reason: reason.into(),
        }
    }

    /// The dotted name of the setting at fault, if the error is about one.
    pub fn setting(&self) -> Option<&str> {
        match self {
            Self::Invalid { setting, .. } | Self::Unknown { setting, .. } => Some(setting),
            Self::ConfigFile { .. } => None,
        }
    }
}

fn from_suffix(from: &Option<String>) -> String {
    match from {
        Some(from) => format!(" (from {from})"),
        None => String::new(),
    }
}
