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


def test_an_alerts_delivery_is_an_enum_with_a_detail() -> None:
    import vigil
    from vigil.catalog.v1 import alert_pb2

    alert = alert_pb2.Alert(
        delivery_state=vigil.AlertDelivery.Value("ALERT_DELIVERY_RETRYING"),
        delivery_detail="webhook 1: HTTP 503 (attempt 1 of 5)",
    )
    assert vigil.AlertDelivery.Name(alert.delivery_state) == "ALERT_DELIVERY_RETRYING"
    assert alert.delivery_detail.startswith("webhook 1")


def test_field_behavior_annotations_are_in_the_generated_descriptors() -> None:
    from google.api import field_behavior_pb2

    def behaviors(message: type, field: str) -> list[int]:
        options = message.DESCRIPTOR.fields_by_name[field].GetOptions()  # type: ignore[attr-defined]
        return list(options.Extensions[field_behavior_pb2.field_behavior])

    config = configuration_pb2.BackupConfiguration
    assert field_behavior_pb2.OUTPUT_ONLY in behaviors(config, "create_time")
    assert field_behavior_pb2.REQUIRED in behaviors(config, "name")
    assert behaviors(config, "description") == []
