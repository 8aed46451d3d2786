//! The executor's error type, its `Result` alias, and the one exhaustive
//! mapping to `tonic::Code`.
//!
//! Every message here may end up in a job record or a gRPC status, so none
//! of them may carry a secret: child-process output is scrubbed before it is
//! put in an [`Error::Engine`], and passwords are never formatted at all.

use std::path::Path;

use tonic::{Code, Status};

/// Everything that can go wrong in the executor.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: the field and the reason.
    #[error("{field}: {reason}")]
    InvalidArgument {
        /// The offending field, for example `params.restore.target_dir`.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// An export archive failed its checks (upload, restore or verify).
    #[error("archive: {0}")]
    InvalidArchive(String),
    /// Something named does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, for example `artifact 0192...`.
        what: String,
    },
    /// The request is valid but the state forbids it, for example a non-empty
    /// restore target without `overwrite`.
    #[error("{0}")]
    FailedPrecondition(String),
    /// This executor cannot do it: a dump tool is missing.
    #[error("{0}")]
    Unsupported(String),
    /// A dump or restore tool failed; the message is already scrubbed.
    #[error("{tool} failed: {message}")]
    Engine {
        /// The tool, for example `pg_dump`.
        tool: String,
        /// What it said (scrubbed of secrets) or why it failed.
        message: String,
    },
    /// A restored database did not pass its check.
    #[error("restore check failed: {0}")]
    Check(String),
    /// The repository reported an error.
    #[error("repository: {0}")]
    Repository(#[from] vigil_repository::Error),
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The catalog refused or could not be reached.
    #[error("{0}")]
    Catalog(#[from] vigil_catalog_client::Error),
    /// The job was cancelled on request, or the executor is shutting down.
    #[error("cancelled")]
    Cancelled,
    /// The lease of the job was lost: another executor may own it now.
    #[error("lease lost")]
    LeaseLost,
    /// A bug or an unexpected state.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The crate's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Io`] on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// An [`Error::InvalidArchive`].
    pub fn archive(reason: impl Into<String>) -> Error {
        Error::InvalidArchive(reason.into())
    }

    /// An [`Error::Engine`].
    pub fn engine(tool: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Engine {
            tool: tool.into(),
            message: message.into(),
        }
    }

    /// The gRPC code for this error. Exhaustive on purpose: a new variant
    /// must decide its code here.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument { .. } | Error::InvalidArchive(_) => Code::InvalidArgument,
            Error::NotFound { .. } => Code::NotFound,
            Error::FailedPrecondition(_) | Error::Unsupported(_) => Code::FailedPrecondition,
            Error::Engine { .. } => Code::Unavailable,
            Error::Check(_) => Code::DataLoss,
            Error::Repository(e) => repository_code(e),
            Error::Io { .. } | Error::Internal(_) => Code::Internal,
            Error::Catalog(e) => match e.code() {
                Code::Ok => Code::Unknown,
                c => c,
            },
            Error::Cancelled => Code::Cancelled,
            Error::LeaseLost => Code::Aborted,
        }
    }

    /// Whether a job failing with this error should go back in the queue
    /// (when attempts remain). Bad input and damaged data never get better by
    /// retrying; a database or catalog that was briefly away might.
    pub fn retryable(&self) -> bool {
        match self {
            Error::InvalidArgument { .. }
            | Error::InvalidArchive(_)
            | Error::NotFound { .. }
            | Error::FailedPrecondition(_)
            | Error::Unsupported(_)
            | Error::Check(_)
            | Error::Cancelled
            | Error::LeaseLost
            | Error::Internal(_) => false,
            Error::Io { .. } => true,
            Error::Engine { message, .. } => transient(message),
            Error::Repository(e) => matches!(
                e,
                vigil_repository::Error::Io { .. } | vigil_repository::Error::Locked(_)
            ),
            Error::Catalog(e) => e.kind() == vigil_catalog_client::ErrorKind::Transient,
        }
    }
}

/// Whether a tool's message reads like a passing trouble (a server away or
/// restarting) rather than a wrong name or a refused login.
fn transient(message: &str) -> bool {
    const MARKS: [&str; 9] = [
        "could not connect",
        "Connection refused",
        "Can't connect",
        "Lost connection",
        "server closed the connection",
        "timeout",
        "timed out",
        "the database system is starting up",
        "was killed",
    ];
    MARKS.iter().any(|m| message.contains(m))
}

fn repository_code(e: &vigil_repository::Error) -> Code {
    use vigil_repository::Error as R;
    match e {
        R::Io { .. } => Code::Internal,
        R::WrongKey => Code::PermissionDenied,
        R::Integrity { .. } => Code::DataLoss,
        R::NotFound(_) => Code::NotFound,
        R::AlreadyExists(_) => Code::AlreadyExists,
        R::InvalidArgument { .. } => Code::InvalidArgument,
        R::Locked(_) => Code::Unavailable,
        R::UnsafePath { .. } => Code::InvalidArgument,
        R::Cancelled => Code::Cancelled,
        R::Format(_) => Code::FailedPrecondition,
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        let code = e.code();
        match (&e, code) {
            (Error::InvalidArgument { field, reason }, _) => {
                vigil_server_common::status::invalid_argument([(field.as_str(), reason.as_str())])
            }
            // Internal details stay in the log; the caller gets a stable text.
            (Error::Io { .. } | Error::Internal(_), _) => {
                tracing::error!(error = %e, "internal error");
                Status::new(code, "internal error; see the executor log")
            }
            _ => Status::new(code, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_the_field() {
        let s = Status::from(Error::invalid(
            "params.restore.target_dir",
            "must be an absolute path",
        ));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(
            s.message(),
            "params.restore.target_dir: must be an absolute path"
        );
    }

    #[test]
    fn io_errors_do_not_leak_paths_to_callers() {
        let e = Error::io("/secret/place", std::io::Error::other("boom"));
        assert!(e.retryable());
        let s = Status::from(e);
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("/secret/place"));
    }

    #[test]
    fn bad_input_is_never_retried() {
        assert!(!Error::archive("truncated").retryable());
        assert!(!Error::Check("0 tables".into()).retryable());
        assert!(!Error::engine("pg_dump", "database \"x\" does not exist").retryable());
        assert!(
            Error::engine("pg_dump", "could not connect to server: Connection refused").retryable()
        );
        let catalog = |s| Error::Catalog(vigil_catalog_client::Error::status("GetArtifact", s));
        assert!(catalog(Status::unavailable("down")).retryable());
        assert!(!catalog(Status::not_found("x")).retryable());
    }
}
