"""Python SDK for Vigil, the backup suite.

Two layers:

* :class:`vigil.Client`, a small typed client for the common tasks: apply
  configurations (from dicts or the YAML files of ``vigil config apply -f``),
  run a backup and wait for it, list jobs, alerts and schedules, and read the
  status report. Failures raise :class:`vigil.VigilError` subclasses that carry
  the gRPC code, the field and the reason.
* :mod:`vigil.enums`: the proto enums as Python enums that print as their
  names (``print(vigil.JobState(job.state))`` shows ``JOB_STATE_COMPLETED``),
  and :func:`vigil.enum_value` to read any enum field that way.
* The generated protobuf and gRPC modules, one per proto file, under the proto
  package names: ``vigil.catalog.v1``, ``vigil.scheduler.v1``,
  ``vigil.executor.v1`` and ``vigil.status.v1`` (``*_pb2`` for messages,
  ``*_pb2_grpc`` for stubs). Regenerate them with ``clients/python/generate.sh``.
"""

from vigil.builders import ConfigurationSpec, build_configuration
from vigil.client import FINAL_STATES, AlertDelivery, Client
from vigil.config_file import configuration_from_dict, configurations_from_document, load_configurations
from vigil.enums import (
    AlertKind,
    AlertSeverity,
    AlertState,
    ApplyAction,
    ArtifactState,
    BackupKind,
    JobEventKind,
    JobKind,
    JobState,
    JobTrigger,
    OutcomeKind,
    ProtoEnum,
    RiskLevel,
    ScheduleHealth,
    Verdict,
    enum_value,
)
from vigil.errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    InternalError,
    InvalidArgument,
    JobFailed,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    UnknownError,
    VigilError,
)

__version__ = "0.1.0"

__all__ = [
    "AlertKind",
    "AlertSeverity",
    "AlertState",
    "ApplyAction",
    "ArtifactState",
    "BackupKind",
    "JobKind",
    "JobState",
    "JobTrigger",
    "OutcomeKind",
    "ProtoEnum",
    "RiskLevel",
    "ScheduleHealth",
    "Verdict",
    "enum_value",
    "FINAL_STATES",
    "Aborted",
    "AlertDelivery",
    "AlreadyExists",
    "Cancelled",
    "Client",
    "ConfigurationSpec",
    "DataLoss",
    "DeadlineExceeded",
    "FailedPrecondition",
    "FieldViolation",
    "InternalError",
    "InvalidArgument",
    "JobEventKind",
    "JobFailed",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "UnknownError",
    "VigilError",
    "build_configuration",
    "configuration_from_dict",
    "configurations_from_document",
    "load_configurations",
]
