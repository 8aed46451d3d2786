"""Endpoints, and retries on UNAVAILABLE for idempotent calls only, over a real gRPC round trip."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

import vigil
from vigil import _channel
from vigil.catalog.v1 import catalog_service_pb2 as catalog
from vigil.catalog.v1 import catalog_service_pb2_grpc
from vigil.catalog.v1.configuration_pb2 import BackupConfiguration


@pytest.mark.parametrize(
    ("endpoint", "target", "tls"),
    [
        ("http://127.0.0.1:50051", "127.0.0.1:50051", False),
        ("127.0.0.1:50051", "127.0.0.1:50051", False),
        ("https://vigil.example.org", "vigil.example.org:443", True),
        ("http://[::1]:7000", "[::1]:7000", False),
        ("grpcs://vigil.example.org:8443", "vigil.example.org:8443", True),
    ],
)
def test_endpoints(endpoint: str, target: str, tls: bool) -> None:
    assert _channel.target_of(endpoint) == (target, tls)


@pytest.mark.parametrize("endpoint", ["ftp://host:21", "http://:50051"])
def test_bad_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        _channel.target_of(endpoint)


def test_only_reads_and_apply_are_retried() -> None:
    config = json.loads(_channel._SERVICE_CONFIG)
    retried = {f"{n['service']}/{n['method']}" for policy in config["methodConfig"] for n in policy["name"]}
    writes = [
        "CreateConfiguration", "UpdateConfiguration", "DeleteConfiguration", "EnableConfiguration",
        "DisableConfiguration", "CreateJob", "CancelJob",
    ]
    for method in writes:
        assert f"vigil.catalog.v1.CatalogService/{method}" not in retried
    for method in ["PauseSchedule", "ResumeSchedule", "TriggerSchedule", "BackfillSchedule"]:
        assert f"vigil.scheduler.v1.SchedulerService/{method}" not in retried
    assert "vigil.catalog.v1.CatalogService/GetConfiguration" in retried
    assert "vigil.catalog.v1.CatalogService/ApplyConfigurations" in retried
    assert "vigil.status.v1.StatusService/GetStatusReport" in retried


class _Flaky(catalog_service_pb2_grpc.CatalogServiceServicer):
    """Answers UNAVAILABLE to the first two calls of each method."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def _count(self, method: str, context: grpc.ServicerContext) -> None:
        with self.lock:
            self.calls[method] += 1
            attempt = self.calls[method]
        if attempt <= 2:
            context.abort(grpc.StatusCode.UNAVAILABLE, "draining")

    def GetConfiguration(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._count("GetConfiguration", context)
        return catalog.GetConfigurationResponse(configuration=BackupConfiguration(name=request.name))

    def CreateConfiguration(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._count("CreateConfiguration", context)
        return catalog.CreateConfigurationResponse(configuration=request.configuration)


@pytest.fixture()
def flaky() -> Iterator[tuple[str, _Flaky]]:
    servicer = _Flaky()  # type: ignore[abstract]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    catalog_service_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"http://127.0.0.1:{port}", servicer
    server.stop(grace=None)


def test_a_read_is_retried_through_unavailable(flaky: tuple[str, _Flaky]) -> None:
    endpoint, servicer = flaky
    with vigil.Client(endpoint, timeout=10) as client:
        assert client.get_configuration("nightly").name == "nightly"
    assert servicer.calls["GetConfiguration"] == 3


def test_a_write_is_not_retried(flaky: tuple[str, _Flaky]) -> None:
    endpoint, servicer = flaky
    with vigil.Client(endpoint, timeout=10) as client:
        with pytest.raises(vigil.Unavailable):
            client.create_configuration({"name": "nightly", "kind": "FULL"})
    assert servicer.calls["CreateConfiguration"] == 1
