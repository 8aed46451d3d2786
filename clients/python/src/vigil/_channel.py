"""Channels to a Vigil endpoint, with retries for idempotent calls only."""

from __future__ import annotations

import json
import os
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


def open_channel(endpoint: str, credentials: grpc.ChannelCredentials | None = None) -> grpc.Channel:
    """Opens a channel; TLS for ``https://`` or when credentials are given."""
    target, tls = target_of(endpoint)
    options = [("grpc.service_config", _SERVICE_CONFIG), ("grpc.enable_retries", 1)]
    if credentials is not None or tls:
        return grpc.secure_channel(target, credentials or grpc.ssl_channel_credentials(), options=options)
    return grpc.insecure_channel(target, options=options)
