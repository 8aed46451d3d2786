//! The client's error type: a gRPC status code, a message, and the field
//! violations the server attached as `google.rpc.BadRequest` details.

use std::fmt;
use std::path::PathBuf;

use tonic::Code;
use tonic_types::StatusExt;

/// Result alias of the client.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One rejected field: its dotted path in the request and why it was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Dotted path of the field, for example `configuration.schedule.cron`.
    pub field: String,
    /// Why the value was rejected.
    pub reason: String,
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// A status returned by a Vigil server, with its decoded field violations.
#[derive(Debug, Clone)]
pub struct ServerError {
    code: Code,
    message: String,
    violations: Vec<FieldViolation>,
}

impl ServerError {
    /// Decodes a tonic status, including any `google.rpc.BadRequest` details.
    pub fn from_status(status: &tonic::Status) -> Self {
        let details = status.get_error_details();
        let violations = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|v| FieldViolation {
                        field: v.field.clone(),
                        reason: v.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            code: status.code(),
            message: status.message().to_owned(),
            violations,
        }
    }

    /// The gRPC status code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The status message as the server sent it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The rejected fields, empty when the server sent none.
    pub fn field_violations(&self) -> &[FieldViolation] {
        &self.violations
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.violations.is_empty() {
            if self.message.is_empty() {
                return write!(f, "{}", code_name(self.code));
            }
            return f.write_str(&self.message);
        }
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {}

/// Everything that can go wrong in a client call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-OK status.
    #[error("{0}")]
    Server(ServerError),
    /// The endpoint URL is malformed.
    #[error("endpoint: {reason}")]
    InvalidEndpoint {
        /// Why the endpoint was rejected.
        reason: String,
    },
    /// No connection could be made.
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect {
        /// The endpoint that was tried.
        endpoint: String,
        /// What the transport reported.
        reason: String,
    },
    /// The request took longer than the configured request timeout.
    #[error("request timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// A local argument was rejected before anything was sent.
    #[error("{field}: {reason}")]
    InvalidArgument {
        /// The argument.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Reading or writing a local file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A downloaded archive does not match the checksum the server announced.
    #[error("checksum: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// The announced checksum.
        expected: String,
        /// The checksum of the received bytes.
        actual: String,
    },
    /// The server's answer lacks something the protocol requires.
    #[error("response: {0}")]
    Protocol(String),
    /// A wait for a job gave up after its timeout; the job goes on.
    #[error("job {job} did not finish within {waited:?}; it goes on, the wait gave up")]
    WaitTimedOut {
        /// The job waited for.
        job: String,
        /// How long the wait lasted.
        waited: std::time::Duration,
    },
    /// The job was handed back to the queue (its executor shut down, or a
    /// retryable failure) and then the server went out of reach; the job
    /// runs again when an executor leases it.
    #[error(
        "job {job} was handed back to the queue ({reason}) and the server went out of reach; it runs again when an executor leases it"
    )]
    HandedBack {
        /// The job waited for.
        job: String,
        /// Why it was handed back, as the catalog recorded it.
        reason: String,
    },
}

impl Error {
    /// The gRPC code that best describes the error.
    pub fn code(&self) -> Code {
        match self {
            Error::Server(s) => s.code(),
            Error::InvalidEndpoint { .. } | Error::InvalidArgument { .. } => Code::InvalidArgument,
            Error::Connect { .. } => Code::Unavailable,
            Error::Timeout(_) => Code::DeadlineExceeded,
            Error::Io { .. } => Code::Unknown,
            Error::ChecksumMismatch { .. } => Code::DataLoss,
            Error::Protocol(_) => Code::Internal,
            Error::WaitTimedOut { .. } => Code::DeadlineExceeded,
            Error::HandedBack { .. } => Code::Unavailable,
        }
    }

    /// Field violations sent by the server, or the local one for an invalid argument.
    pub fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            Error::Server(s) => s.field_violations().to_vec(),
            Error::InvalidArgument { field, reason } => {
                vec![FieldViolation {
                    field: field.clone(),
                    reason: reason.clone(),
                }]
            }
            _ => Vec::new(),
        }
    }

    /// True for errors caused by the caller's input or the stored state
    /// (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, OUT_OF_RANGE).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self.code(),
            Code::InvalidArgument
                | Code::NotFound
                | Code::AlreadyExists
                | Code::FailedPrecondition
                | Code::OutOfRange
        )
    }

    /// True when the call lost to a concurrent change (ABORTED, AIP-154), for
    /// example a stale etag: read the resource again and retry.
    pub fn is_conflict(&self) -> bool {
        self.code() == Code::Aborted
    }

    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Error::Server(ServerError::from_status(&status))
    }
}

/// The stable upper-case name of a gRPC code, for example `INVALID_ARGUMENT`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn bad_request_details_are_decoded_and_displayed_as_field_reason() {
        let details = ErrorDetails::with_bad_request(vec![
            tonic_types::FieldViolation::new(
                "configuration.schedule.cron",
                "expected 5 or 6 fields",
            ),
            tonic_types::FieldViolation::new(
                "configuration.retention.keep_daily",
                "must not be negative",
            ),
        ]);
        let status = tonic::Status::with_error_details(Code::InvalidArgument, "bad input", details);
        let err = Error::from(status);
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.is_bad_input());
        assert_eq!(err.field_violations().len(), 2);
        assert_eq!(
            err.to_string(),
            "configuration.schedule.cron: expected 5 or 6 fields; \
             configuration.retention.keep_daily: must not be negative"
        );
    }

    #[test]
    fn plain_status_displays_its_message() {
        let err = Error::from(tonic::Status::not_found("name: no configuration named x"));
        assert_eq!(err.to_string(), "name: no configuration named x");
        assert!(err.field_violations().is_empty());
        assert!(err.is_bad_input());
        let err = Error::from(tonic::Status::unavailable(""));
        assert_eq!(err.to_string(), "UNAVAILABLE");
        assert!(!err.is_bad_input());
    }
}
