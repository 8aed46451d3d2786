"""The generated modules: importable from the installed package, with the proto documentation."""

from __future__ import annotations

import importlib.resources

from vigil.catalog.v1 import catalog_service_pb2_grpc, configuration_pb2, coordination_service_pb2_grpc
from vigil.executor.v1 import executor_service_pb2_grpc
from vigil.scheduler.v1 import scheduler_service_pb2_grpc
from vigil.status.v1 import status_service_pb2_grpc


def test_every_service_has_a_stub_documented_from_its_proto() -> None:
    stubs: dict[type, str] = {
        catalog_service_pb2_grpc.CatalogServiceStub: "backup configurations, jobs, artifacts and alerts",
        coordination_service_pb2_grpc.CoordinationServiceStub: "the job queue, schedule state",
        scheduler_service_pb2_grpc.SchedulerServiceStub: "schedule health",
        executor_service_pb2_grpc.ExecutorServiceStub: "streaming uploads and downloads",
        status_service_pb2_grpc.StatusServiceStub: "state of the backups",
    }
    for stub, phrase in stubs.items():
        assert stub.__doc__ and stub.__doc__.strip(), f"{stub.__name__} has no documentation"
        assert phrase in stub.__doc__, stub.__name__


def test_type_stubs_carry_the_field_comments() -> None:
    stub = importlib.resources.files("vigil").joinpath("catalog/v1/configuration_pb2.pyi").read_text()
    assert "Unique name and identifier" in stub
    assert "IANA time zone name such as Europe/Berlin" in stub


def test_messages_round_trip_through_the_wire_format() -> None:
    config = configuration_pb2.BackupConfiguration(
        name="daily_full_backup",
        kind=configuration_pb2.BACKUP_KIND_FULL,
        schedule=configuration_pb2.Schedule(cron="0 2 * * *", timezone="Europe/Berlin"),
        labels={"app": "edms"},
    )
    assert configuration_pb2.BackupConfiguration.FromString(config.SerializeToString()) == config
