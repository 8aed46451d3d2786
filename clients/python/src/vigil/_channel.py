"""Channels to a Vigil endpoint, with retries for idempotent calls only, a
bearer token on every call, and TLS for ``https://`` endpoints."""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc

DEFAULT_ENDPOINT = "http://127.0.0.1:50051"

# Calls that are safe to repeat on UNAVAILABLE: reads, the status report and
# Apply (idempotent by contract). Nothing that creates or changes state is
# here; gRPC still retries any call that provably never reached the server.
_IDEMPOTENT = {
    "vigil.catalog.v1.CatalogService": [
        "GetConfiguration",
        "ListConfigurations",
        "ApplyConfigurations",
        "GetJob",
        "ListJobs",
        "GetArtifact",
        "ListArtifacts",
        "ListAlerts",
    ],
    "vigil.scheduler.v1.SchedulerService": ["ListSchedules", "GetSchedule", "PreviewSchedule"],
    "vigil.status.v1.StatusService": ["GetStatusReport"],
    "vigil.executor.v1.ExecutorService": ["GetExecutorInfo"],
}

_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{"service": service, "method": method} for service, methods in _IDEMPOTENT.items() for method in methods],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.2s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)


def target_of(endpoint: str) -> tuple[str, bool]:
    """Splits ``http://host:port``, ``https://host:port`` or ``host:port`` into (target, tls)."""
    if "://" not in endpoint:
        return endpoint, False
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https", "grpc", "grpcs"):
        raise ValueError(f"endpoint: unsupported scheme {parts.scheme!r}; use http:// or https://")
    if not parts.hostname:
        raise ValueError(f"endpoint: no host in {endpoint!r}")
    tls = parts.scheme in ("https", "grpcs")
    port = parts.port or (443 if tls else 80)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}", tls


def default_endpoint() -> str:
    """``VIGIL_ENDPOINT``, or ``http://127.0.0.1:50051`` as the CLI uses."""
    return os.environ.get("VIGIL_ENDPOINT") or DEFAULT_ENDPOINT


def token_from_env() -> str | None:
    """The bearer token every Vigil client reads: the file named by
    ``VIGIL_TOKEN_FILE``, else ``VIGIL_TOKEN``; ``None`` when neither is set."""
    path = os.environ.get("VIGIL_TOKEN_FILE")
    if path:
        token = Path(path).read_text(encoding="utf-8").strip()
        if not token:
            raise ValueError(f"VIGIL_TOKEN_FILE: {path} is empty")
        return token
    token = os.environ.get("VIGIL_TOKEN", "").strip()
    return token or None


def tls_credentials(
    ca_cert: str | os.PathLike[str] | None = None,
    client_cert: str | os.PathLike[str] | None = None,
    client_key: str | os.PathLike[str] | None = None,
) -> grpc.ChannelCredentials | None:
    """TLS credentials from PEM files; arguments left out are read from
    ``VIGIL_CA_CERT``, ``VIGIL_CLIENT_CERT`` and ``VIGIL_CLIENT_KEY``. ``None``
    when no file is named (``https://`` then uses the system roots)."""
    ca = ca_cert or os.environ.get("VIGIL_CA_CERT") or None
    cert = client_cert or os.environ.get("VIGIL_CLIENT_CERT") or None
    key = client_key or os.environ.get("VIGIL_CLIENT_KEY") or None
    if (cert is None) != (key is None):
        raise ValueError("client_cert and client_key: give both or neither")
    if ca is None and cert is None:
        return None

    def read(path: str | os.PathLike[str] | None) -> bytes | None:
        return None if path is None else Path(path).read_bytes()

    return grpc.ssl_channel_credentials(root_certificates=read(ca), private_key=read(key), certificate_chain=read(cert))


class _CallDetails(
    collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")),
    grpc.ClientCallDetails,
):
    pass


class _BearerInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer TOKEN`` to every call."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = list(details.metadata or [])
        metadata.append(self._header)
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, requests: Any) -> Any:
        return continuation(self._details(details), requests)


def open_channel(
    endpoint: str,
    credentials: grpc.ChannelCredentials | None = None,
    token: str | None = None,
) -> grpc.Channel:
    """Opens a channel; TLS for ``https://`` or when credentials are given; the
    bearer token, when given, on every call."""
    target, tls = target_of(endpoint)
    options = [("grpc.service_config", _SERVICE_CONFIG), ("grpc.enable_retries", 1)]
    if credentials is not None or tls:
        channel = grpc.secure_channel(target, credentials or grpc.ssl_channel_credentials(), options=options)
    else:
        channel = grpc.insecure_channel(target, options=options)
    if token:
        return grpc.intercept_channel(channel, _BearerInterceptor(token))
    return channel
