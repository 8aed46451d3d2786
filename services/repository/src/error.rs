//! The crate's error type and `Result` alias.

use std::path::PathBuf;

/// Everything that can go wrong in the repository.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error from the backend or the local filesystem.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The path (or backend object) involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The key (passphrase or key file) does not open this repository.
    #[error("wrong key: no key slot in the repository config accepts it")]
    WrongKey,
    /// Stored data failed authentication or its hash check.
    #[error("integrity error in {what}: {reason}")]
    Integrity {
        /// The object that is damaged (pack, index, snapshot, chunk).
        what: String,
        /// Why it is considered damaged.
        reason: String,
    },
    /// Something requested does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Something to be created exactly once exists already (a repository
    /// where `init` was asked to create one, a key file).
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// Invalid input from the caller (field and reason).
    #[error("invalid argument {field}: {reason}")]
    InvalidArgument {
        /// The offending field.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// Another process holds a conflicting lock.
    #[error("repository is locked: {0}")]
    Locked(String),
    /// A path was refused by the restore safety checks (E4).
    #[error("unsafe path refused: {path}: {reason}")]
    UnsafePath {
        /// The path that was refused.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The operation was cancelled through its cancellation flag.
    #[error("operation cancelled")]
    Cancelled,
    /// The repository format is not one this version understands.
    #[error("unsupported repository format: {0}")]
    Format(String),
}

/// The crate's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an [`Error::Io`] from a path-like context and an I/O error.
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }

    /// Builds an [`Error::Integrity`].
    pub fn integrity(what: impl std::fmt::Display, reason: impl std::fmt::Display) -> Self {
        Error::Integrity {
            what: what.to_string(),
            reason: reason.to_string(),
        }
    }
}
