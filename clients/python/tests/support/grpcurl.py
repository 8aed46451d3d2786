"""A stand-in for grpcurl, for machines without it: the subset the cookbook uses.

grpcurl is a Go binary that neither Debian 12, PyPI nor npm package. This
script speaks the same command line and prints the same shapes of output, using
only server reflection (grpcio-reflection) to learn the API, protobuf's
descriptor pool and message factory to build messages, and json_format for the
JSON in and out, as grpcurl does. Supported::

    grpcurl [flags] ADDRESS list [SERVICE]
    grpcurl [flags] ADDRESS describe SYMBOL
    grpcurl [flags] ADDRESS SERVICE/METHOD      (unary and server streaming)

Flags: ``-plaintext``, ``-d JSON`` (``-d @`` reads standard input),
``-H 'name: value'`` (repeatable; metadata such as ``authorization``),
``-max-time SECONDS``, ``-connect-timeout SECONDS``, ``-emit-defaults``. Any
other flag is refused, so the cookbook cannot use one the tests do not cover.
Like grpcurl, a failed RPC prints ``ERROR:`` with the code and message on
standard error and exits with 64 plus the status code.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import grpc
from google.protobuf import json_format, message_factory

from support import proto_text
from support.reflection import connect

_BOOL_FLAGS = {"plaintext", "emit-defaults"}
_VALUE_FLAGS = {"d", "max-time", "connect-timeout"}
_REPEATED_FLAGS = {"H"}
_GO_CODE_NAMES = {grpc.StatusCode.CANCELLED: "Canceled", grpc.StatusCode.OK: "OK"}


def fail(message: str, code: int = 1) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(code)


def parse(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Go-style flags (``-name``, ``--name``, ``-name=value``) up to the first positional."""
    flags: dict[str, Any] = {}
    index = 0
    while index < len(argv) and argv[index].startswith("-") and argv[index] != "-":
        name, _, inline = argv[index].lstrip("-").partition("=")
        if name in _BOOL_FLAGS:
            flags[name] = inline.lower() not in ("false", "0") if inline else True
        elif name in _REPEATED_FLAGS:
            if not inline:
                index += 1
                if index >= len(argv):
                    fail(f"flag needs an argument: -{name}", 2)
                inline = argv[index]
            flags.setdefault(name, []).append(inline)
        elif name in _VALUE_FLAGS:
            if inline:
                flags[name] = inline
            else:
                index += 1
                if index >= len(argv):
                    fail(f"flag needs an argument: -{name}", 2)
                flags[name] = argv[index]
        else:
            fail(f"grpcurl stand-in: flag -{name} is not supported (the cookbook tests cover only "
                 f"-plaintext, -d, -H, -max-time, -connect-timeout, -emit-defaults)", 2)
        index += 1
    return flags, argv[index:]


def go_code_name(code: grpc.StatusCode) -> str:
    return _GO_CODE_NAMES.get(code, "".join(part.capitalize() for part in code.name.split("_")))


def print_error(error: grpc.RpcError) -> NoReturn:
    code: grpc.StatusCode = error.code()
    print(f"ERROR:\n  Code: {go_code_name(code)}\n  Message: {error.details()}", file=sys.stderr)
    sys.exit(64 + int(code.value[0]))


def request_json(flags: dict[str, Any]) -> str:
    data = flags.get("d")
    if data is None:
        return "{}"
    if data == "@":
        return sys.stdin.read()
    return str(data)


def invoke(channel: grpc.Channel, pool: Any, target: str, flags: dict[str, Any]) -> None:
    service_name, slash, method_name = target.partition("/")
    if not slash:
        service_name, _, method_name = target.rpartition(".")
    try:
        service = pool.FindServiceByName(service_name)
    except KeyError:
        fail(f'Error invoking method "{target}": target server does not expose service "{service_name}"')
    method = service.methods_by_name.get(method_name)
    if method is None:
        fail(f'Error invoking method "{target}": service "{service_name}" does not include a method named "{method_name}"')
    if method.client_streaming:
        fail("grpcurl stand-in: client-streaming methods are not supported", 2)
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    text = request_json(flags)
    try:
        request = json_format.Parse(text, request_class(), descriptor_pool=pool)
    except (json_format.ParseError, json.JSONDecodeError) as error:
        fail(f"Error invoking method \"{target}\": error getting request data: {error}")
    timeout = float(flags["max-time"]) if "max-time" in flags else None
    metadata: list[tuple[str, str]] = []
    for header in flags.get("H", []):
        name, _, value = header.partition(":")
        metadata.append((name.strip().lower(), value.strip()))
    path = f"/{service.full_name}/{method.name}"
    options: dict[str, Any] = {"request_serializer": request_class.SerializeToString, "response_deserializer": response_class.FromString}

    def show(response: Any) -> None:
        print(
            json_format.MessageToJson(
                response, indent=2, always_print_fields_with_no_presence=bool(flags.get("emit-defaults")), descriptor_pool=pool
            ),
            flush=True,
        )

    try:
        if method.server_streaming:
            for response in channel.unary_stream(path, **options)(request, timeout=timeout, metadata=tuple(metadata)):
                show(response)
        else:
            show(channel.unary_unary(path, **options)(request, timeout=timeout, metadata=tuple(metadata)))
    except grpc.RpcError as error:
        print_error(error)


def main(argv: list[str]) -> None:
    flags, positional = parse(argv)
    if not positional:
        fail("Too few arguments.", 2)
    if not flags.get("plaintext"):
        fail("grpcurl stand-in: only -plaintext connections are supported; vigild serves without TLS by default", 2)
    address, rest = positional[0], positional[1:]
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=float(flags.get("connect-timeout", 10)))
        except grpc.FutureTimeoutError:
            fail(f"Failed to dial target host \"{address}\": context deadline exceeded")
        try:
            database, pool = connect(channel)
        except grpc.RpcError as error:
            fail(f"Failed to list services: server does not support the reflection API ({error.code()})")
        if not rest:
            fail("Too few arguments.", 2)
        verb = rest[0]
        if verb == "list":
            if len(rest) == 1:
                print("\n".join(sorted(database.get_services())))
            else:
                service = pool.FindServiceByName(rest[1])
                print("\n".join(sorted(m.full_name for m in service.methods)))
        elif verb == "describe":
            if len(rest) != 2:
                fail("grpcurl stand-in: describe needs exactly one symbol", 2)
            print(proto_text.describe(database, pool, rest[1]))
        else:
            if len(rest) != 1:
                fail("Too many arguments.", 2)
            invoke(channel, pool, verb, flags)


if __name__ == "__main__":
    main(sys.argv[1:])
