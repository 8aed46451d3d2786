//! The CLI's errors, how they are printed, and the exit codes.
//!
//! Exit codes:
//! - `0`: success;
//! - `1`: any other failure: the server is unreachable or failed, a service
//!   is not served (UNIMPLEMENTED), a write lost to a concurrent change
//!   (ABORTED, for example a stale `--etag`: read again and retry), or a job
//!   waited on with `--wait` ended FAILED or CANCELLED;
//! - `2`: bad input: a usage error, an unreadable or malformed file, or the
//!   server answered INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
//!   FAILED_PRECONDITION or OUT_OF_RANGE;
//! - `3` and `4`: `vigil status --check` found the status PARTIALLY_WORKING
//!   or FAILING;
//! - `75` (EX_TEMPFAIL): a job waited on with `--wait` was handed back to
//!   the queue (its executor shut down) and the server then went out of
//!   reach; the job runs again when an executor leases it.
//!
//! Every error is printed on standard error as `error: FIELD: REASON` (one
//! line per rejected field), or `error: MESSAGE` when no field applies.

use tonic::Code;
use vigil_client::code_name;

/// Exit code for success.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code for failures that are not the caller's input.
pub(crate) const EXIT_FAILURE: u8 = 1;
/// Exit code for bad input.
pub(crate) const EXIT_BAD_INPUT: u8 = 2;
/// Exit code of `vigil status --check` for PARTIALLY_WORKING.
pub(crate) const EXIT_PARTIALLY_WORKING: u8 = 3;
/// Exit code of `vigil status --check` for FAILING.
pub(crate) const EXIT_FAILING: u8 = 4;
/// Exit code of `--wait` when the job was handed back and the server went away.
pub(crate) const EXIT_HANDED_BACK: u8 = 75;

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A call to a server failed.
    #[error("{0}")]
    Client(#[from] vigil_client::Error),
    /// Local input was rejected before anything was sent.
    #[error("{field}: {reason}")]
    Input {
        /// The flag, file or YAML path.
        field: String,
        /// Why.
        reason: String,
    },
    /// A job waited on ended without completing.
    #[error("job {job} ended {state}{}", if error.is_empty() { String::new() } else { format!(": {error}") })]
    JobFailed {
        /// The job's readable name.
        job: String,
        /// FAILED or CANCELLED.
        state: &'static str,
        /// The job's error.
        error: String,
    },
    /// `vigil status --check` on a report that is not HEALTHY; the report
    /// itself was printed, so nothing more is said.
    #[error("status is {verdict}")]
    Verdict {
        /// PARTIALLY_WORKING or FAILING.
        verdict: &'static str,
        /// 3 or 4.
        code: u8,
    },
}

impl CliError {
    /// Local bad input at `field`.
    pub(crate) fn input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CliError::Input {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The process exit code for this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Client(vigil_client::Error::HandedBack { .. }) => EXIT_HANDED_BACK,
            CliError::Client(e) if e.is_bad_input() => EXIT_BAD_INPUT,
            CliError::Client(_) => EXIT_FAILURE,
            CliError::Input { .. } => EXIT_BAD_INPUT,
            CliError::JobFailed { .. } => EXIT_FAILURE,
            CliError::Verdict { code, .. } => *code,
        }
    }

    /// The lines to print on standard error, each starting with `error: `.
    ///
    /// `service` names the API the command talks to and `endpoint` where, so
    /// that UNIMPLEMENTED and UNAVAILABLE say what is missing.
    pub(crate) fn render(&self, service: &str, endpoint: &str) -> Vec<String> {
        if let CliError::Verdict { .. } = self {
            return Vec::new();
        }
        let CliError::Client(e) = self else {
            return vec![format!("error: {self}")];
        };
        let violations = e.field_violations();
        if !violations.is_empty() {
            return violations
                .iter()
                .map(|v| format!("error: {}: {}", v.field, v.reason))
                .collect();
        }
        if let vigil_client::Error::HandedBack { job, .. } = e {
            return vec![
                format!("error: {e}"),
                format!("hint: follow it with `vigil jobs show {job}` once a server is back"),
            ];
        }
        match e.code() {
            Code::Unimplemented => vec![format!(
                "error: the {service} service is not available at {endpoint} (UNIMPLEMENTED): \
                 this server does not serve it yet, or the endpoint points at another service"
            )],
            Code::Aborted => vec![format!(
                "error: {e} (ABORTED)\nhint: it changed since it was read: read it again and retry"
            )],
            Code::Unavailable if matches!(e, vigil_client::Error::Connect { .. }) => vec![format!(
                "error: {e}\nhint: start the server (vigild) or set --endpoint / VIGIL_ENDPOINT"
            )],
            code
            @ (Code::Unavailable | Code::DeadlineExceeded | Code::Internal | Code::Unknown) => {
                vec![format!("error: {e} ({})", code_name(code))]
            }
            _ => vec![format!("error: {e}")],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    fn from_status(status: tonic::Status) -> CliError {
        CliError::Client(vigil_client::Error::from(status))
    }

    #[test]
    fn bad_input_codes_exit_2_and_others_exit_1() {
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::AlreadyExists,
            Code::FailedPrecondition,
        ] {
            assert_eq!(
                from_status(tonic::Status::new(code, "x")).exit_code(),
                2,
                "{code:?}"
            );
        }
        for code in [
            Code::Unavailable,
            Code::Internal,
            Code::Unimplemented,
            Code::DeadlineExceeded,
        ] {
            assert_eq!(
                from_status(tonic::Status::new(code, "x")).exit_code(),
                1,
                "{code:?}"
            );
        }
        assert_eq!(CliError::input("file", "missing").exit_code(), 2);
        let failed = CliError::JobFailed {
            job: "j".into(),
            state: "FAILED",
            error: "disk full".into(),
        };
        assert_eq!(failed.exit_code(), 1);
        assert_eq!(failed.to_string(), "job j ended FAILED: disk full");
    }

    #[test]
    fn field_violations_print_one_line_each() {
        let details = ErrorDetails::with_bad_request(vec![
            tonic_types::FieldViolation::new(
                "configuration.schedule.cron",
                "expected 5 or 6 fields",
            ),
            tonic_types::FieldViolation::new(
                "configuration.schedule.timezone",
                "unknown time zone \"Mars/Base\"",
            ),
        ]);
        let e = from_status(tonic::Status::with_error_details(
            Code::InvalidArgument,
            "bad",
            details,
        ));
        assert_eq!(
            e.render("catalog", "http://x"),
            [
                "error: configuration.schedule.cron: expected 5 or 6 fields",
                "error: configuration.schedule.timezone: unknown time zone \"Mars/Base\"",
            ]
        );
    }

    #[test]
    fn unimplemented_names_the_missing_service() {
        let e = from_status(tonic::Status::unimplemented(""));
        let lines = e.render("scheduler", "http://127.0.0.1:50051");
        assert!(
            lines[0].contains("the scheduler service is not available at http://127.0.0.1:50051"),
            "{lines:?}"
        );
    }
}
