//! The one rule for a failed catalog call.

use tonic::{Code, Status};

/// A catalog call that did not succeed, naming the RPC.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The catalog answered with an error, could not be reached, or did
    /// not answer within the deadline (DEADLINE_EXCEEDED).
    #[error("catalog {rpc} failed ({:?}): {}", .status.code(), .status.message())]
    Status {
        /// The RPC, such as `ListJobs`.
        rpc: &'static str,
        /// The catalog's status; its code is kept as it came.
        status: Status,
    },
    /// The catalog handed out a page token it had already given during
    /// the same listing; paging stopped rather than loop for ever.
    #[error("catalog {rpc} repeated the page token {token:?}; paging stopped")]
    RepeatedPageToken {
        /// The List RPC.
        rpc: &'static str,
        /// The repeated token.
        token: String,
    },
}

/// Result of a catalog call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a failed call means to its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// NOT_FOUND: the named thing does not exist.
    NotFound,
    /// ABORTED, FAILED_PRECONDITION or ALREADY_EXISTS: another writer
    /// changed the state first (a lost compare-and-set, a lease that moved
    /// on); [`Error::code`] tells which.
    Conflict,
    /// UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED: the catalog
    /// was away or busy; a later attempt may succeed.
    Transient,
    /// INVALID_ARGUMENT, OUT_OF_RANGE, PERMISSION_DENIED, UNAUTHENTICATED
    /// or UNIMPLEMENTED: the catalog refuses the request as it is.
    Refused,
    /// Anything else: the catalog failed (INTERNAL, UNKNOWN, DATA_LOSS, …),
    /// the call was cancelled, or the catalog misbehaved (a repeated page
    /// token).
    Failed,
}

impl ErrorKind {
    /// The kind of a gRPC code.
    pub fn of(code: Code) -> ErrorKind {
        match code {
            Code::NotFound => ErrorKind::NotFound,
            Code::Aborted | Code::FailedPrecondition | Code::AlreadyExists => ErrorKind::Conflict,
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => {
                ErrorKind::Transient
            }
            Code::InvalidArgument
            | Code::OutOfRange
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::Unimplemented => ErrorKind::Refused,
            Code::Ok | Code::Cancelled | Code::Unknown | Code::Internal | Code::DataLoss => {
                ErrorKind::Failed
            }
        }
    }
}

impl Error {
    /// A failed call of `rpc`.
    pub fn status(rpc: &'static str, status: Status) -> Self {
        Error::Status { rpc, status }
    }

    /// The RPC that failed.
    pub fn rpc(&self) -> &'static str {
        match self {
            Error::Status { rpc, .. } | Error::RepeatedPageToken { rpc, .. } => rpc,
        }
    }

    /// The catalog's code; INTERNAL for a repeated page token.
    pub fn code(&self) -> Code {
        match self {
            Error::Status { status, .. } => status.code(),
            Error::RepeatedPageToken { .. } => Code::Internal,
        }
    }

    /// What the failure means; see [`ErrorKind`].
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::of(self.code())
    }

    /// The catalog's message (for a repeated token, this error's text).
    pub fn message(&self) -> String {
        match self {
            Error::Status { status, .. } => status.message().to_owned(),
            e @ Error::RepeatedPageToken { .. } => e.to_string(),
        }
    }

    /// The failure as a status with the catalog's code and message, for a
    /// caller that passes it on.
    pub fn into_status(self) -> Status {
        match self {
            Error::Status { status, .. } => status,
            e @ Error::RepeatedPageToken { .. } => Status::internal(e.to_string()),
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        e.into_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rpc_and_the_code_are_kept() {
        let e = Error::status("PutScheduleState", Status::aborted("etag changed"));
        assert_eq!(e.rpc(), "PutScheduleState");
        assert_eq!(e.code(), Code::Aborted);
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert_eq!(
            e.to_string(),
            "catalog PutScheduleState failed (Aborted): etag changed"
        );
        let status = e.into_status();
        assert_eq!(
            (status.code(), status.message()),
            (Code::Aborted, "etag changed")
        );
    }

    #[test]
    fn codes_sort_into_kinds() {
        assert_eq!(ErrorKind::of(Code::FailedPrecondition), ErrorKind::Conflict);
        assert_eq!(ErrorKind::of(Code::AlreadyExists), ErrorKind::Conflict);
        assert_eq!(ErrorKind::of(Code::NotFound), ErrorKind::NotFound);
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
        ] {
            assert_eq!(ErrorKind::of(code), ErrorKind::Transient, "{code:?}");
        }
        assert_eq!(ErrorKind::of(Code::InvalidArgument), ErrorKind::Refused);
        assert_eq!(ErrorKind::of(Code::Internal), ErrorKind::Failed);
    }

    #[test]
    fn a_repeated_token_is_an_internal_failure_naming_the_rpc() {
        let e = Error::RepeatedPageToken {
            rpc: "ListJobs",
            token: "t1".into(),
        };
        assert_eq!(
            (e.rpc(), e.code(), e.kind()),
            ("ListJobs", Code::Internal, ErrorKind::Failed)
        );
        assert!(e.into_status().message().contains("ListJobs"));
    }
}
