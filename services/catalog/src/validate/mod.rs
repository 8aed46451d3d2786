//! Input validation. Every check names the full field path and the reason,
//! and collects every violation of a request before anything is stored.

mod configuration;
mod fields;
mod job;
mod schedule;

pub use configuration::{check_configuration, check_name, normalize_configuration};
pub use fields::{
    check_absolute_path, check_database_url, check_key, check_secret_ref, check_terminal_safe,
    engine_of_url, has_control,
};
pub use job::{check_job_params, restore_engine};
pub use schedule::validate_schedule;

use crate::error::{Error, Result, Violation};

/// Collects violations of one request.
#[derive(Debug, Default)]
pub struct Checker {
    violations: Vec<Violation>,
}

impl Checker {
    /// An empty checker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is wrong for `reason`.
    pub fn add(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.violations.push(Violation::new(field, reason));
    }

    /// Whether nothing was recorded yet.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// `Ok` when nothing was recorded, otherwise INVALID_ARGUMENT with every violation.
    pub fn finish(self) -> Result<()> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_all(self.violations))
        }
    }
}

/// Character count of `s`, for length limits.
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}
