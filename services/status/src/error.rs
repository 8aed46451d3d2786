//! Errors of the status service.

/// What can go wrong while computing a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The catalog could not be read.
    #[error("{0}")]
    Catalog(#[from] vigil_catalog_client::Error),
    /// The request was malformed.
    #[error("{field}: {reason}")]
    InvalidArgument {
        /// The offending field.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
}

/// Result of the status service.
pub type Result<T> = std::result::Result<T, Error>;

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        match e {
            Error::Catalog(e) => {
                tracing::warn!(rpc = e.rpc(), code = ?e.code(), error = %e.message(), "catalog read failed");
                tonic::Status::unavailable("the catalog could not be read; try again")
            }
            Error::InvalidArgument { .. } => tonic::Status::invalid_argument(e.to_string()),
        }
    }
}
