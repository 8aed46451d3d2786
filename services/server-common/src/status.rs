//! gRPC statuses that name request fields the same way in every service.
//!
//! A bad field travels as a `google.rpc.BadRequest` detail: its path is the
//! violation's `field` and the description says only why, so the path
//! appears once. The status message sums the violations up as
//! `field: reason; ...` for clients that do not decode details.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// INVALID_ARGUMENT carrying every `(field, reason)` of a request at once.
pub fn invalid_argument<'a>(violations: impl IntoIterator<Item = (&'a str, &'a str)>) -> Status {
    let violations: Vec<FieldViolation> = violations
        .into_iter()
        .map(|(field, reason)| FieldViolation::new(field, reason))
        .collect();
    let message = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    Status::with_error_details(
        Code::InvalidArgument,
        message,
        ErrorDetails::with_bad_request(violations),
    )
}

/// NOT_FOUND for a resource that the request field `field` refers to. The
/// message names the resource; the field travels as the BadRequest field.
pub fn not_found_at(field: &str, message: impl Into<String>) -> Status {
    let message = message.into();
    Status::with_error_details(
        Code::NotFound,
        message.clone(),
        ErrorDetails::with_bad_request(vec![FieldViolation::new(field, message)]),
    )
}

/// The canonical upper-case name of a gRPC status code (`NOT_FOUND`), as
/// metrics labels and audit records show it.
pub(crate) fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_violation_is_a_field_of_one_bad_request() {
        let status = invalid_argument([
            ("schedule", "must be set"),
            ("count", "must be at most 1000"),
        ]);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "schedule: must be set; count: must be at most 1000"
        );
        let details = status.get_error_details();
        let bad = details.bad_request().expect("a BadRequest detail");
        let fields: Vec<_> = bad
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["schedule", "count"]);
        assert_eq!(bad.field_violations[1].description, "must be at most 1000");
    }

    #[test]
    fn not_found_names_the_field_only_in_the_detail() {
        let status = not_found_at("params.restore.artifact", "artifact \"x\" not found");
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "artifact \"x\" not found");
        let details = status.get_error_details();
        let bad = details.bad_request().expect("a BadRequest detail");
        assert_eq!(bad.field_violations[0].field, "params.restore.artifact");
    }
}
