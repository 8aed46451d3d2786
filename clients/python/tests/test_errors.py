"""Error mapping: status codes to exception classes, and the field and the reason.

The round-trip tests run a real gRPC server in this process that fails the way
a Vigil server does (with and without ``google.rpc.BadRequest`` details), so the
decoding of the trailing metadata is exercised over the wire.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

import vigil
from vigil.catalog.v1 import catalog_service_pb2 as catalog
from vigil.catalog.v1 import catalog_service_pb2_grpc
from vigil.catalog.v1.configuration_pb2 import BackupConfiguration
from vigil.errors import FieldViolation, error_class, parse_field_message


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, vigil.InvalidArgument),
        (grpc.StatusCode.NOT_FOUND, vigil.NotFound),
        (grpc.StatusCode.ALREADY_EXISTS, vigil.AlreadyExists),
        (grpc.StatusCode.FAILED_PRECONDITION, vigil.FailedPrecondition),
        (grpc.StatusCode.UNAVAILABLE, vigil.Unavailable),
        (grpc.StatusCode.UNIMPLEMENTED, vigil.Unimplemented),
        (grpc.StatusCode.DEADLINE_EXCEEDED, vigil.DeadlineExceeded),
        (grpc.StatusCode.ABORTED, vigil.Aborted),
        (grpc.StatusCode.INTERNAL, vigil.InternalError),
        (grpc.StatusCode.PERMISSION_DENIED, vigil.PermissionDenied),
        (grpc.StatusCode.UNAUTHENTICATED, vigil.Unauthenticated),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, vigil.ResourceExhausted),
        (grpc.StatusCode.CANCELLED, vigil.Cancelled),
        (grpc.StatusCode.OUT_OF_RANGE, vigil.OutOfRange),
        (grpc.StatusCode.DATA_LOSS, vigil.DataLoss),
        (grpc.StatusCode.UNKNOWN, vigil.UnknownError),
    ],
)
def test_every_status_code_has_its_own_exception(code: grpc.StatusCode, cls: type[vigil.VigilError]) -> None:
    assert error_class(code) is cls
    assert issubclass(cls, vigil.VigilError)
    assert cls.code is code


def test_every_error_status_code_is_mapped() -> None:
    unmapped = [code for code in grpc.StatusCode if code is not grpc.StatusCode.OK and error_class(code).code is not code]
    assert unmapped == []


@pytest.mark.parametrize(
    ("message", "field", "reason"),
    [
        ("configuration.schedule.cron: expected 5 or 6 fields, got 4", "configuration.schedule.cron", "expected 5 or 6 fields, got 4"),
        ("configurations[3].source.paths[0]: must be absolute", "configurations[3].source.paths[0]", "must be absolute"),
        ("page_token: not a token from this server", "page_token", "not a token from this server"),
        ("name: must match a: b", "name", "must match a: b"),
    ],
)
def test_field_and_reason_are_read_from_the_message(message: str, field: str, reason: str) -> None:
    assert parse_field_message(message) == FieldViolation(field, reason)
    error = vigil.InvalidArgument(message)
    assert (error.field, error.reason) == (field, reason)


@pytest.mark.parametrize("message", ["no configuration named nightly", "executor lost", "a b: c", ""])
def test_a_message_without_a_field_path_has_no_field(message: str) -> None:
    assert parse_field_message(message) is None
    error = vigil.NotFound(message)
    assert error.field is None
    assert error.reason == message


class _FailingCatalog(catalog_service_pb2_grpc.CatalogServiceServicer):
    """Fails like the catalog: rich details for Create, a plain message for Get."""

    def CreateConfiguration(self, request: Any, context: grpc.ServicerContext) -> Any:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field="configuration.schedule.timezone", description="unknown time zone \"Mars/Olympus\""
                ),
                error_details_pb2.BadRequest.FieldViolation(field="configuration.name", description="must not be empty"),
            ]
        )
        detail = any_pb2.Any()
        detail.Pack(bad_request)
        status = status_pb2.Status(
            code=code_pb2.INVALID_ARGUMENT,
            message="configuration.schedule.timezone: unknown time zone \"Mars/Olympus\"",
            details=[detail],
        )
        context.abort_with_status(rpc_status.to_status(status))

    def GetConfiguration(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.NOT_FOUND, f"name: no configuration named {request.name}")

    def ListConfigurations(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.page_token == "":
            return catalog.ListConfigurationsResponse(
                configurations=[BackupConfiguration(name="a"), BackupConfiguration(name="b")], next_page_token="p2"
            )
        if request.page_token == "p2":
            return catalog.ListConfigurationsResponse(configurations=[BackupConfiguration(name="c")], next_page_token="p2")
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_token: unknown")


@pytest.fixture(scope="module")
def failing_server() -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    catalog_service_pb2_grpc.add_CatalogServiceServicer_to_server(_FailingCatalog(), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop(grace=None)


def test_bad_request_details_give_every_field_violation(failing_server: str) -> None:
    with vigil.Client(failing_server) as client:
        with pytest.raises(vigil.InvalidArgument) as caught:
            client.create_configuration({"name": "x", "kind": "FULL"})
    error = caught.value
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "configuration.schedule.timezone"
    assert error.reason == 'unknown time zone "Mars/Olympus"'
    assert [v.field for v in error.violations] == ["configuration.schedule.timezone", "configuration.name"]
    assert "Mars/Olympus" in str(error)


def test_without_details_the_field_comes_from_the_message(failing_server: str) -> None:
    with vigil.Client(failing_server) as client:
        with pytest.raises(vigil.NotFound) as caught:
            client.get_configuration("nightly")
    assert caught.value.field == "name"
    assert caught.value.reason == "no configuration named nightly"


def test_a_page_token_loop_is_an_error_not_a_hang(failing_server: str) -> None:
    with vigil.Client(failing_server) as client:
        pages = client.list_configurations()
        assert [next(pages).name for _ in range(3)] == ["a", "b", "c"]
        with pytest.raises(vigil.VigilError, match="page_token"):
            next(pages)


def test_an_unreachable_server_is_unavailable() -> None:
    # Port 9 (discard) on loopback: nothing listens there.
    with vigil.Client("http://127.0.0.1:9", timeout=5) as client:
        with pytest.raises(vigil.Unavailable) as caught:
            client.get_configuration("x")
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE
