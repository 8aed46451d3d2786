//! The scheduler's one error type and its exhaustive mapping to gRPC codes.

use tonic::{Code, Status};

/// Everything that can go wrong in the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is wrong; nothing was changed.
    #[error("{field}: {reason}")]
    InvalidArgument {
        /// Dotted path of the field, such as `schedule.cron`.
        field: String,
        /// Why it is wrong, lowercase.
        reason: String,
    },
    /// The named schedule or configuration does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, such as `schedule "nightly#prune"`.
        what: String,
    },
    /// The request is well formed but the system is not in a state to take it.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Another writer changed the state first; retrying may succeed.
    #[error("{0}")]
    Conflict(String),
    /// The catalog answered with an error.
    #[error("catalog {operation} failed: {status}")]
    Catalog {
        /// The catalog RPC that failed.
        operation: &'static str,
        /// Its status.
        status: Status,
    },
    /// The catalog could not be reached.
    #[error("cannot connect to the catalog at {endpoint}: {reason}")]
    Connect {
        /// The endpoint tried.
        endpoint: String,
        /// The transport error.
        reason: String,
    },
    /// The settings are unusable.
    #[error("setting {setting}: {reason}")]
    Settings {
        /// Name of the setting, such as `scheduler.prune_time`.
        setting: String,
        /// Why it is unusable.
        reason: String,
    },
    /// A bug or an unexpected state; details are logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias of the scheduler.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An invalid-argument error for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A not-found error for `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound { what: what.into() }
    }

    /// Wraps a catalog status, naming the RPC.
    pub fn catalog(operation: &'static str, status: Status) -> Self {
        Error::Catalog { operation, status }
    }

    /// The gRPC code this error maps to.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument { .. } => Code::InvalidArgument,
            Error::NotFound { .. } => Code::NotFound,
            Error::FailedPrecondition(_) => Code::FailedPrecondition,
            Error::Conflict(_) => Code::Aborted,
            Error::Catalog { status, .. } => match status.code() {
                // Client mistakes detected by the catalog keep their code.
                Code::InvalidArgument
                | Code::NotFound
                | Code::AlreadyExists
                | Code::FailedPrecondition
                | Code::Aborted => status.code(),
                // Everything else means the catalog is not usable right now.
                _ => Code::Unavailable,
            },
            Error::Connect { .. } => Code::Unavailable,
            Error::Settings { .. } | Error::Internal(_) => Code::Internal,
        }
    }

    /// The catalog status code, if this error came from the catalog.
    pub fn catalog_code(&self) -> Option<Code> {
        match self {
            Error::Catalog { status, .. } => Some(status.code()),
            _ => None,
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        let code = e.code();
        if let Error::InvalidArgument { field, reason } = &e {
            return vigil_server_common::status::invalid_argument([(
                field.as_str(),
                reason.as_str(),
            )]);
        }
        let message = match &e {
            Error::Internal(_) | Error::Settings { .. } => {
                tracing::error!(error = %e, "scheduler request failed");
                "internal scheduler error; see the scheduler log".to_owned()
            }
            Error::Catalog { operation, status } => match code {
                Code::Unavailable => {
                    tracing::warn!(operation, code = ?status.code(), message = status.message(), "catalog call failed");
                    format!("catalog unavailable during {operation}")
                }
                _ => status.message().to_owned(),
            },
            _ => e.to_string(),
        };
        Status::new(code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_the_field() {
        let s: Status = Error::invalid("schedule.cron", "expected 5 or 6 fields, got 4").into();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "schedule.cron: expected 5 or 6 fields, got 4");
    }

    #[test]
    fn internal_details_stay_in_the_log() {
        let s: Status = Error::Internal("row 17 had a null etag".into()).into();
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("row 17"));
    }

    #[test]
    fn catalog_outage_is_unavailable_but_client_errors_pass_through() {
        let down = Error::catalog(
            "ListScheduleStates",
            Status::internal("disk full at /var/lib"),
        );
        let s: Status = down.into();
        assert_eq!(s.code(), Code::Unavailable);
        assert!(!s.message().contains("/var/lib"));
        let missing = Error::catalog(
            "GetConfiguration",
            Status::not_found("configuration \"x\" not found"),
        );
        assert_eq!(Status::from(missing).code(), Code::NotFound);
    }
}
