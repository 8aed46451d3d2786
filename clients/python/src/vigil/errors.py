"""Exceptions raised by the Vigil client.

Every failed call raises a subclass of :class:`VigilError` chosen by its gRPC
status code, so callers can write ``except vigil.NotFound``. Each error carries
the code, the server's message and, for bad input, the field and the reason.

The field and the reason come from the ``google.rpc.BadRequest`` details the
servers attach (trailing metadata ``grpc-status-details-bin``). When a server
sends no details, they are read from the message, which Vigil servers write as
``field: reason``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

_DETAILS_KEY = "grpc-status-details-bin"

# "configuration.schedule.cron: expected 5 or 6 fields, got 4"
# "configurations[3].source.paths[0]: must be absolute"
_FIELD_MESSAGE = re.compile(r"^(?P<field>[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])*(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])*)*): (?P<reason>.+)$", re.S)


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: its path in the request and why it was refused."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class VigilError(Exception):
    """Base class of every error the Vigil client raises.

    Attributes:
        code: the gRPC status code, or ``None`` for errors found on the client
            side that have no status (such as a failed job).
        message: the full message, as the server wrote it.
        field: path of the offending field (``configuration.schedule.cron``),
            when the error is about one field.
        reason: why the field was refused, or the message when no field is named.
        violations: every field violation the server reported.
    """

    code: grpc.StatusCode | None = None

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        violations: list[FieldViolation] | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.violations: list[FieldViolation] = list(violations or [])
        if not self.violations:
            parsed = parse_field_message(message)
            if parsed is not None:
                self.violations = [parsed]
        first = self.violations[0] if self.violations else None
        self.field: str | None = first.field if first else None
        self.reason: str = first.reason if first else message

    def __str__(self) -> str:
        name = self.code.name if self.code is not None else type(self).__name__
        return f"{name}: {self.message}"


class Cancelled(VigilError):
    """The call was cancelled."""

    code = grpc.StatusCode.CANCELLED


class UnknownError(VigilError):
    """The server failed in a way it did not classify."""

    code = grpc.StatusCode.UNKNOWN


class InvalidArgument(VigilError):
    """Bad input; :attr:`field` and :attr:`reason` say what and why. Nothing changed."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(VigilError):
    """The call, or a wait, took longer than its timeout."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(VigilError):
    """No configuration, job, artifact or schedule has that name or id."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(VigilError):
    """Something with that name exists already."""

    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(VigilError):
    """The caller may not do this."""

    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(VigilError):
    """A limit was reached."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(VigilError):
    """The system is not in a state that allows this, for example cancelling a finished job."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(VigilError):
    """The call lost a race with a concurrent change, for example a stale etag: read again and retry."""

    code = grpc.StatusCode.ABORTED


class OutOfRange(VigilError):
    """A value is outside the range the server accepts."""

    code = grpc.StatusCode.OUT_OF_RANGE


class Unimplemented(VigilError):
    """The server does not offer this method (for example a service not hosted there)."""

    code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(VigilError):
    """The server failed; its logs have the details."""

    code = grpc.StatusCode.INTERNAL


class Unavailable(VigilError):
    """The server cannot be reached or is shutting down; retrying may help."""

    code = grpc.StatusCode.UNAVAILABLE


class DataLoss(VigilError):
    """Data was lost or corrupted."""

    code = grpc.StatusCode.DATA_LOSS


class Unauthenticated(VigilError):
    """The call carried no valid credentials."""

    code = grpc.StatusCode.UNAUTHENTICATED


class JobFailed(VigilError):
    """A job that was waited for ended FAILED or CANCELLED.

    :attr:`job` holds the final job; :attr:`reason` is its error.
    """

    def __init__(self, job: Any) -> None:
        from vigil.catalog.v1 import job_pb2

        state = job_pb2.JobState.Name(job.state)
        error = job.error or "no reason recorded"
        super().__init__(f"job {job.name or job.id} ended {state}: {error}")
        self.job = job
        self.reason = error


_BY_CODE: dict[grpc.StatusCode, type[VigilError]] = {
    cls.code: cls
    for cls in (
        Cancelled,
        UnknownError,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        InternalError,
        Unavailable,
        DataLoss,
        Unauthenticated,
    )
    if cls.code is not None
}


def error_class(code: grpc.StatusCode) -> type[VigilError]:
    """The exception class for a status code; :class:`UnknownError` for OK or anything unmapped."""
    return _BY_CODE.get(code, UnknownError)


def parse_field_message(message: str) -> FieldViolation | None:
    """Reads ``field: reason`` from a status message; ``None`` if it has no field path."""
    match = _FIELD_MESSAGE.match(message.strip())
    if match is None:
        return None
    return FieldViolation(match.group("field"), match.group("reason"))


def violations_from_details(details: bytes) -> list[FieldViolation]:
    """Decodes the field violations of an encoded ``google.rpc.Status``."""
    status = status_pb2.Status.FromString(details)
    violations: list[FieldViolation] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend(FieldViolation(v.field, v.description) for v in bad_request.field_violations)
    return violations


def from_rpc_error(error: grpc.RpcError) -> VigilError:
    """Turns a failed gRPC call into the matching :class:`VigilError`."""
    call: Any = error
    code: grpc.StatusCode = call.code() if hasattr(call, "code") else grpc.StatusCode.UNKNOWN
    message: str = (call.details() if hasattr(call, "details") else None) or ""
    violations: list[FieldViolation] = []
    trailers = call.trailing_metadata() if hasattr(call, "trailing_metadata") else None
    for key, value in trailers or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            try:
                violations = violations_from_details(value)
            except Exception:  # noqa: BLE001 - malformed details must not hide the error itself
                violations = []
    if not message:
        message = code.name.lower().replace("_", " ")
    return error_class(code)(message, code=code, violations=violations)
