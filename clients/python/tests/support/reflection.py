"""A descriptor pool filled from a server's reflection service, v1 or v1alpha.

grpcio-reflection ships a v1alpha client only. The v1 service has the same
messages under another name, so the same client speaks v1 by pointing its
stream at ``grpc.reflection.v1.ServerReflection``; v1 is tried first, as
grpcurl does, and v1alpha is the fallback.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

V1 = "grpc.reflection.v1.ServerReflection"
V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"


class _Stub:
    def __init__(self, channel: grpc.Channel, service: str) -> None:
        self.ServerReflectionInfo = channel.stream_stream(
            f"/{service}/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )


class ReflectionDatabase(ProtoReflectionDescriptorDatabase):  # type: ignore[misc]
    """The grpcio-reflection database, speaking the reflection service named."""

    def __init__(self, channel: grpc.Channel, service: str = V1) -> None:
        super().__init__(channel)
        self.service = service
        self._stub = _Stub(channel, service)

    def file_proto(self, symbol: str) -> descriptor_pb2.FileDescriptorProto:
        """The FileDescriptorProto (with comments, when the server sends them) holding a symbol."""
        found: Any = self.FindFileContainingSymbol(symbol)
        return found  # type: ignore[no-any-return]


def connect(channel: grpc.Channel) -> tuple[ReflectionDatabase, descriptor_pool.DescriptorPool]:
    """A reflection database and a pool over it, using v1 when the server offers it."""
    last: grpc.RpcError | None = None
    for service in (V1, V1ALPHA):
        database = ReflectionDatabase(channel, service)
        try:
            database.get_services()
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            last = error
            continue
        return database, descriptor_pool.DescriptorPool(database)
    assert last is not None
    raise last


def list_services(channel: grpc.Channel, service: str) -> list[str]:
    """The services a server lists through one reflection version."""
    return sorted(ReflectionDatabase(channel, service).get_services())
