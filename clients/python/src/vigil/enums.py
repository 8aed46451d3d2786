"""The enums of the Vigil protos as Python enums that print as their names.

Protobuf gives an enum field as a bare integer: ``print(job.state)`` shows
``3``. Every enum here is an :class:`enum.IntEnum` built from the proto's own
descriptor, so a value compares equal to the integer on the wire and prints
as its name::

    >>> from vigil import JobState, enum_value
    >>> JobState(3)                                   # doctest: +SKIP
    <JobState.JOB_STATE_COMPLETED: 3>
    >>> print(enum_value(job, "state"))               # doctest: +SKIP
    JOB_STATE_COMPLETED
    >>> enum_value(job, "state").short_name           # doctest: +SKIP
    'COMPLETED'

The messages the :class:`vigil.Client` returns are the generated ones; read
their enum fields through :func:`enum_value` (or wrap them, ``JobState(job.state)``)
to print names. The client's own errors print names too.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from typing import Any, Protocol, cast

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FileDescriptor
from google.protobuf.message import Message

from vigil.catalog.v1 import (
    access_service_pb2,
    alert_pb2,
    artifact_pb2,
    catalog_service_pb2,
    configuration_pb2,
    coordination_service_pb2,
    job_event_pb2,
    job_pb2,
    schedule_state_pb2,
)
from vigil.executor.v1 import executor_service_pb2
from vigil.scheduler.v1 import scheduler_service_pb2
from vigil.status.v1 import status_service_pb2


class ProtoEnum(enum.IntEnum):
    """A value of a proto enum: equal to its wire integer, printed as its name."""

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        return format(self.name, spec)

    @property
    def short_name(self) -> str:
        """The name without the enum's prefix: ``COMPLETED`` for ``JOB_STATE_COMPLETED``."""
        prefix = _value_prefix(type(self).__name__)
        return self.name.removeprefix(prefix) if self.name.startswith(prefix) else self.name


def _value_prefix(enum_name: str) -> str:
    """``JobState`` -> ``JOB_STATE_``: the prefix buf's ENUM_VALUE_PREFIX rule requires."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum_name).upper() + "_"


def _build(descriptor: EnumDescriptor) -> type[ProtoEnum]:
    members = [(value.name, value.number) for value in descriptor.values]
    # The functional API builds the class from the descriptor's values.
    factory: Any = ProtoEnum
    built = cast("type[ProtoEnum]", factory(descriptor.name, members, module=__name__, qualname=descriptor.name))
    built.__doc__ = f"The proto enum {descriptor.full_name}."
    return built


def _enums_of(message: Descriptor) -> Iterator[EnumDescriptor]:
    yield from message.enum_types
    for nested in message.nested_types:
        yield from _enums_of(nested)


def _enums_in(file: FileDescriptor) -> Iterator[EnumDescriptor]:
    yield from file.enum_types_by_name.values()
    for message in file.message_types_by_name.values():
        yield from _enums_of(message)


_FILES = (
    access_service_pb2,
    alert_pb2,
    artifact_pb2,
    catalog_service_pb2,
    configuration_pb2,
    coordination_service_pb2,
    job_event_pb2,
    job_pb2,
    schedule_state_pb2,
    executor_service_pb2,
    scheduler_service_pb2,
    status_service_pb2,
)

#: Every enum of the Vigil protos, by full proto name (``vigil.catalog.v1.JobState``).
BY_FULL_NAME: dict[str, type[ProtoEnum]] = {
    descriptor.full_name: _build(descriptor) for module in _FILES for descriptor in _enums_in(module.DESCRIPTOR)
}


class _Described(Protocol):
    @property
    def full_name(self) -> str: ...


def enum_type(descriptor: _Described) -> type[ProtoEnum]:
    """The Python enum of a proto enum descriptor."""
    return BY_FULL_NAME[descriptor.full_name]


def enum_value(message: Message, field: str) -> Any:
    """The value of an enum field of a message as a :class:`ProtoEnum`; a list for a repeated field.

    A number the SDK does not know (a newer server) comes back as a plain ``int``.

    Raises:
        ValueError: when the message has no enum field of that name.
    """
    descriptor = message.DESCRIPTOR.fields_by_name.get(field)
    if descriptor is None or descriptor.enum_type is None:
        raise ValueError(f"{field}: {message.DESCRIPTOR.full_name} has no enum field of that name")
    kind = enum_type(descriptor.enum_type)
    raw = getattr(message, field)

    def wrap(number: int) -> ProtoEnum | int:
        try:
            return kind(number)
        except ValueError:
            return number

    if isinstance(raw, int):
        return wrap(raw)
    return [wrap(number) for number in raw]


def _named(full_name: str) -> type[ProtoEnum]:
    return BY_FULL_NAME[full_name]


JobState = _named("vigil.catalog.v1.JobState")
JobKind = _named("vigil.catalog.v1.JobKind")
JobTrigger = _named("vigil.catalog.v1.JobTrigger")
BackupKind = _named("vigil.catalog.v1.BackupKind")
ArtifactState = _named("vigil.catalog.v1.ArtifactState")
AlertKind = _named("vigil.catalog.v1.AlertKind")
AlertSeverity = _named("vigil.catalog.v1.AlertSeverity")
AlertState = _named("vigil.catalog.v1.AlertState")
ScheduleHealth = _named("vigil.catalog.v1.ScheduleHealth")
OutcomeKind = _named("vigil.catalog.v1.OutcomeKind")
JobEventKind = _named("vigil.catalog.v1.JobEventKind")
ApplyAction = _named("vigil.catalog.v1.ApplyAction")
Verdict = _named("vigil.status.v1.Verdict")
RiskLevel = _named("vigil.status.v1.RiskLevel")
