"""Enum values print as their names, not as the integers protobuf hands out."""

from __future__ import annotations

import vigil
from vigil.catalog.v1 import alert_pb2, job_pb2
from vigil.enums import BY_FULL_NAME, ProtoEnum, enum_value
from vigil.status.v1 import status_service_pb2


def test_a_job_state_prints_as_its_name_and_still_equals_the_wire_number() -> None:
    job = job_pb2.BackupJob(state=job_pb2.JOB_STATE_COMPLETED, kind=job_pb2.JOB_KIND_BACKUP)
    state = enum_value(job, "state")
    assert str(state) == "JOB_STATE_COMPLETED"
    assert f"{state}" == "JOB_STATE_COMPLETED"
    assert f"{state:>22}" == "   JOB_STATE_COMPLETED"
    assert state.short_name == "COMPLETED"
    assert state == job_pb2.JOB_STATE_COMPLETED
    assert str(enum_value(job, "kind")) == "JOB_KIND_BACKUP"
    assert str(vigil.JobState(job.state)) == "JOB_STATE_COMPLETED"


def test_alert_kinds_verdicts_and_repeated_fields_print_as_names() -> None:
    alert = alert_pb2.Alert(kind=alert_pb2.ALERT_KIND_JOB_FAILED)
    assert str(enum_value(alert, "kind")) == "ALERT_KIND_JOB_FAILED"
    report = status_service_pb2.StatusReport(verdict=status_service_pb2.VERDICT_HEALTHY)
    assert f"verdict {enum_value(report, 'verdict')}" == "verdict VERDICT_HEALTHY"
    from vigil.catalog.v1 import catalog_service_pb2

    request = catalog_service_pb2.ListJobsRequest(states=[job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_RUNNING])
    assert [str(s) for s in enum_value(request, "states")] == ["JOB_STATE_FAILED", "JOB_STATE_RUNNING"]


def test_final_states_print_as_names() -> None:
    assert sorted(str(s) for s in vigil.FINAL_STATES) == ["JOB_STATE_CANCELLED", "JOB_STATE_COMPLETED", "JOB_STATE_FAILED"]
    assert job_pb2.JOB_STATE_FAILED in vigil.FINAL_STATES


def test_every_proto_enum_has_a_python_enum_with_the_same_values() -> None:
    wrappers = [job_pb2.JobState, job_pb2.JobKind, job_pb2.JobTrigger, alert_pb2.AlertKind, status_service_pb2.Verdict]
    for wrapper in wrappers:
        python = BY_FULL_NAME[wrapper.DESCRIPTOR.full_name]
        assert {m.name: m.value for m in python} == {v.name: v.number for v in wrapper.DESCRIPTOR.values}
    assert len(BY_FULL_NAME) >= 25
    assert all(issubclass(kind, ProtoEnum) for kind in BY_FULL_NAME.values())


def test_an_unknown_number_stays_an_int_and_a_wrong_field_names_itself() -> None:
    job = job_pb2.BackupJob()
    job.state = 99  # type: ignore[assignment]
    assert enum_value(job, "state") == 99
    try:
        enum_value(job, "name")
    except ValueError as error:
        assert "name" in str(error)
    else:
        raise AssertionError("a string field is not an enum field")
