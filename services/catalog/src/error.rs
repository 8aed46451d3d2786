//! The catalog's one error type and its mapping to gRPC status codes.
//!
//! Every handler returns [`Result`]; the single exhaustive
//! `From<Error> for tonic::Status` decides the code. Bad input carries field
//! violations that become a `google.rpc.BadRequest` detail. Storage errors are
//! logged here with their detail and leave the process as a generic INTERNAL.

use std::fmt;

use tonic::{Code, Status};
use vigil_server_common::status::{invalid_argument, not_found_at};

/// Result alias of the catalog.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One bad field: its full path (`configuration.schedule.cron`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted path of the field in the request.
    pub field: String,
    /// Lowercase reason without a trailing period.
    pub reason: String,
}

impl Violation {
    /// A violation of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// A non-empty list of violations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations(pub Vec<Violation>);

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in the catalog.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; nothing was changed.
    #[error("{0}")]
    InvalidArgument(Violations),
    /// No resource has this id or name.
    #[error("{what} {key:?} not found")]
    NotFound {
        /// Kind of resource, for example "configuration".
        what: &'static str,
        /// The id or name asked for (shortened).
        key: String,
        /// The request field that named it, sent as the BadRequest field.
        field: Option<String>,
    },
    /// A resource with this id or name already exists.
    #[error("{what} {key:?} already exists")]
    AlreadyExists {
        /// Kind of resource.
        what: &'static str,
        /// The id or name.
        key: String,
    },
    /// The state of the resource does not allow the operation, for example a stale etag.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A concurrent change won: a lost lease or a moved schedule.
    #[error("{0}")]
    Aborted(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Applying the schema failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other unexpected failure; the detail is logged, never returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Bad input in one field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument(Violations(vec![Violation::new(field, reason)]))
    }

    /// Bad input in several fields; `violations` must not be empty.
    pub fn invalid_all(violations: Vec<Violation>) -> Self {
        debug_assert!(!violations.is_empty());
        Self::InvalidArgument(Violations(violations))
    }

    /// An unknown id or name (shortened so a huge key is not echoed back).
    pub fn not_found(what: &'static str, key: &str) -> Self {
        Self::NotFound {
            what,
            key: shorten(key),
            field: None,
        }
    }

    /// An unknown id or name that the request field `field` refers to.
    pub fn not_found_at(field: impl Into<String>, what: &'static str, key: &str) -> Self {
        Self::NotFound {
            what,
            key: shorten(key),
            field: Some(field.into()),
        }
    }

    /// A duplicate id or name.
    pub fn already_exists(what: &'static str, key: &str) -> Self {
        Self::AlreadyExists {
            what,
            key: shorten(key),
        }
    }

    /// The gRPC code of this error.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::NotFound { .. } => Code::NotFound,
            Error::AlreadyExists { .. } => Code::AlreadyExists,
            Error::FailedPrecondition(_) => Code::FailedPrecondition,
            Error::Aborted(_) => Code::Aborted,
            Error::Database(e) => match transient(e) {
                Some(Transient::Conflict) => Code::Aborted,
                Some(Transient::Busy | Transient::Unreachable | Transient::Exhausted) => {
                    Code::Unavailable
                }
                None => Code::Internal,
            },
            Error::Migrate(_) | Error::Internal(_) => Code::Internal,
        }
    }
}

impl From<sqlx::Error> for Error {
    /// Wraps a database error. A lost connection also tells the pool to
    /// check its idle connections before it hands them out again, since
    /// those opened before the loss are likely gone too.
    fn from(e: sqlx::Error) -> Self {
        if transient(&e) == Some(Transient::Unreachable) {
            crate::db::connection_lost();
        }
        Error::Database(e)
    }
}

/// A database error that a retry of the whole request can cure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transient {
    /// PostgreSQL chose this transaction as the victim of a deadlock or a
    /// serialization conflict.
    Conflict,
    /// SQLite stayed locked past the busy timeout.
    Busy,
    /// The database connection was lost or could not be made: the server
    /// restarted or ended the session, or the pool was closed.
    Unreachable,
    /// Every connection of the pool stayed in use for its acquire timeout
    /// (on SQLite, the one writer connection, behind a long queue of writes).
    Exhausted,
}

impl Transient {
    /// What happened to the request, for the log, and what its caller is
    /// told.
    fn described(self) -> (&'static str, &'static str) {
        match self {
            Transient::Unreachable => (
                "lost its database connection",
                "the catalog cannot reach its database, retry",
            ),
            Transient::Exhausted => (
                "found no free database connection",
                "the catalog's database connections stayed busy, retry later",
            ),
            Transient::Conflict | Transient::Busy => (
                "met a concurrent writer",
                "the catalog is busy with a concurrent change, retry",
            ),
        }
    }
}

fn transient(e: &sqlx::Error) -> Option<Transient> {
    let db = match e {
        sqlx::Error::Database(db) => db,
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed => return Some(Transient::Unreachable),
        sqlx::Error::PoolTimedOut => return Some(Transient::Exhausted),
        _ => return None,
    };
    match db.code().as_deref() {
        Some("40001" | "40P01") => Some(Transient::Conflict),
        Some("5" | "6" | "517") => Some(Transient::Busy),
        // Connection exceptions, and the server ending the session
        // (administrator command, crash shutdown, cannot connect now).
        Some(code) if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") => {
            Some(Transient::Unreachable)
        }
        _ => None,
    }
}

/// Keeps at most 80 characters of a key for messages.
fn shorten(key: &str) -> String {
    const MAX: usize = 80;
    if key.chars().count() <= MAX {
        key.to_owned()
    } else {
        let mut s: String = key.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let code = err.code();
        match err {
            Error::InvalidArgument(violations) => invalid_argument(
                violations
                    .0
                    .iter()
                    .map(|v| (v.field.as_str(), v.reason.as_str())),
            ),
            Error::NotFound {
                field: Some(ref field),
                ..
            } => not_found_at(field, err.to_string()),
            Error::NotFound { .. }
            | Error::AlreadyExists { .. }
            | Error::FailedPrecondition(_)
            | Error::Aborted(_) => Status::new(code, err.to_string()),
            Error::Database(ref e) if let Some(t) = transient(e) => {
                let (what, message) = t.described();
                tracing::warn!(error = %err, "catalog request {what}");
                Status::new(code, message)
            }
            Error::Database(_) | Error::Migrate(_) | Error::Internal(_) => {
                tracing::error!(error = %err, "catalog request failed");
                Status::new(code, "internal error in the catalog")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    #[test]
    fn invalid_argument_carries_field_violations() {
        let status: Status = Error::invalid("configuration.name", "must not be empty").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "configuration.name: must not be empty");
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request detail");
        assert_eq!(bad.field_violations[0].field, "configuration.name");
    }

    #[test]
    fn not_found_names_its_field_once() {
        let status: Status =
            Error::not_found_at("params.restore.artifact", "artifact", "../../x").into();
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "artifact \"../../x\" not found");
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request detail");
        assert_eq!(bad.field_violations[0].field, "params.restore.artifact");
    }

    #[test]
    fn internal_errors_hide_their_detail() {
        let status: Status = Error::Internal("secret sql text".into()).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }

    /// A pool whose connections all stayed busy is not a lost connection:
    /// the caller is told so, and the pool does not ping its connections.
    /// (Each nextest test runs in its own process, so the mark starts clear.)
    #[test]
    fn an_exhausted_pool_is_unavailable_and_not_a_lost_connection() {
        let status: Status = Error::from(sqlx::Error::PoolTimedOut).into();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status.message(),
            "the catalog's database connections stayed busy, retry later"
        );
        assert!(!crate::db::lost_a_connection());

        let status: Status = Error::from(sqlx::Error::PoolClosed).into();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(
            status.message(),
            "the catalog cannot reach its database, retry"
        );
        assert!(crate::db::lost_a_connection());
    }

    #[test]
    fn long_keys_are_shortened() {
        let key = "x".repeat(1_000_000);
        let msg = Error::not_found("configuration", &key).to_string();
        assert!(msg.len() < 200, "{}", msg.len());
    }
}
