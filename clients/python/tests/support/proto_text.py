"""Proto source text of a symbol learned through reflection, as ``grpcurl describe`` prints it.

The text is rebuilt from the FileDescriptorProto the server sends, with the
leading comments of its source info, so it shows whether reflection carries the
API's documentation.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2

FieldProto = descriptor_pb2.FieldDescriptorProto

_SCALARS = {
    value: name[len("TYPE_"):].lower()
    for name, value in FieldProto.Type.items()
    if name not in ("TYPE_MESSAGE", "TYPE_ENUM", "TYPE_GROUP")
}


class _File:
    """Paths of every element of one file, for finding their comments."""

    def __init__(self, proto: descriptor_pb2.FileDescriptorProto) -> None:
        self.proto = proto
        self.comments = {
            tuple(location.path): location.leading_comments for location in proto.source_code_info.location
        }
        self.elements: dict[str, tuple[str, Any, tuple[int, ...]]] = {}
        prefix = f"{proto.package}." if proto.package else ""
        for i, message in enumerate(proto.message_type):
            self._message(prefix + message.name, message, (4, i))
        for i, enum in enumerate(proto.enum_type):
            self.elements[prefix + enum.name] = ("enum", enum, (5, i))
        for i, service in enumerate(proto.service):
            self.elements[prefix + service.name] = ("service", service, (6, i))
            for j, method in enumerate(service.method):
                self.elements[f"{prefix}{service.name}.{method.name}"] = ("method", method, (6, i, 2, j))

    def _message(self, name: str, message: descriptor_pb2.DescriptorProto, path: tuple[int, ...]) -> None:
        self.elements[name] = ("message", message, path)
        for i, nested in enumerate(message.nested_type):
            self._message(f"{name}.{nested.name}", nested, (*path, 3, i))
        for i, enum in enumerate(message.enum_type):
            self.elements[f"{name}.{enum.name}"] = ("enum", enum, (*path, 4, i))

    def comment(self, path: tuple[int, ...], indent: str) -> str:
        text = self.comments.get(path, "")
        if not text:
            return ""
        lines = text.rstrip("\n").split("\n")
        return "".join(f"{indent}//{line}\n" for line in lines)


def _field_type(field: FieldProto, message: descriptor_pb2.DescriptorProto) -> str:
    if field.type in (FieldProto.TYPE_MESSAGE, FieldProto.TYPE_ENUM):
        if field.label == FieldProto.LABEL_REPEATED:
            entry_name = field.type_name.rsplit(".", 1)[-1]
            for nested in message.nested_type:
                if nested.name == entry_name and nested.options.map_entry:
                    key, value = nested.field
                    return f"map<{_field_type(key, nested)}, {_field_type(value, nested)}>"
        return field.type_name
    return _SCALARS[field.type]


def _fields(file: _File, message: descriptor_pb2.DescriptorProto, path: tuple[int, ...], indent: str) -> str:
    out: list[str] = []
    open_oneof: int | None = None
    for i, field in enumerate(message.field):
        oneof = field.oneof_index if field.HasField("oneof_index") and not field.proto3_optional else None
        if oneof != open_oneof:
            if open_oneof is not None:
                out.append(f"{indent}}}\n")
            if oneof is not None:
                out.append(file.comment((*path, 8, oneof), indent))
                out.append(f"{indent}oneof {message.oneof_decl[oneof].name} {{\n")
            open_oneof = oneof
        inner = indent + ("  " if oneof is not None else "")
        declared = _field_type(field, message)
        label = ""
        if field.label == FieldProto.LABEL_REPEATED and not declared.startswith("map<"):
            label = "repeated "
        elif field.proto3_optional:
            label = "optional "
        out.append(file.comment((*path, 2, i), inner))
        out.append(f"{inner}{label}{declared} {field.name} = {field.number};\n")
    if open_oneof is not None:
        out.append(f"{indent}}}\n")
    return "".join(out)


def _message_text(file: _File, message: descriptor_pb2.DescriptorProto, path: tuple[int, ...], indent: str = "") -> str:
    inner = indent + "  "
    body = _fields(file, message, path, inner)
    for i, nested in enumerate(message.nested_type):
        if not nested.options.map_entry:
            body += _message_text(file, nested, (*path, 3, i), inner)
    for i, enum in enumerate(message.enum_type):
        body += _enum_text(file, enum, (*path, 4, i), inner)
    return f"{file.comment(path, indent)}{indent}message {message.name} {{\n{body}{indent}}}\n"


def _enum_text(file: _File, enum: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], indent: str = "") -> str:
    body = "".join(
        f"{file.comment((*path, 2, i), indent + '  ')}{indent}  {value.name} = {value.number};\n"
        for i, value in enumerate(enum.value)
    )
    return f"{file.comment(path, indent)}{indent}enum {enum.name} {{\n{body}{indent}}}\n"


def _rpc_text(method: descriptor_pb2.MethodDescriptorProto) -> str:
    request = ("stream " if method.client_streaming else "") + method.input_type
    response = ("stream " if method.server_streaming else "") + method.output_type
    return f"rpc {method.name} ( {request} ) returns ( {response} );\n"


def describe(database: Any, pool: Any, symbol: str) -> str:
    """``SYMBOL is a service:`` (or message, enum, method) followed by its proto text."""
    symbol = symbol.lstrip(".")
    proto = None
    # A method or nested symbol may be unknown to the server's index; its parent is not.
    for candidate in (symbol, symbol.rpartition(".")[0]):
        try:
            proto = database.file_proto(candidate)
            break
        except KeyError:
            continue
    if proto is None:
        raise SystemExit(f'Failed to resolve symbol "{symbol}": Symbol not found: {symbol}')
    file = _File(proto)
    if symbol not in file.elements:
        raise SystemExit(f'Failed to resolve symbol "{symbol}": only services, methods, messages and enums can be described')
    kind, element, path = file.elements[symbol]
    if kind == "service":
        body = "".join(f"{file.comment((*path, 2, j), '  ')}  {_rpc_text(m)}" for j, m in enumerate(element.method))
        text = f"{file.comment(path, '')}service {element.name} {{\n{body}}}\n"
        return f"{symbol} is a service:\n{text}".rstrip("\n")
    if kind == "method":
        return f"{symbol} is a method:\n{file.comment(path, '')}{_rpc_text(element)}".rstrip("\n")
    if kind == "message":
        return f"{symbol} is a message:\n{_message_text(file, element, path)}".rstrip("\n")
    return f"{symbol} is an enum:\n{_enum_text(file, element, path)}".rstrip("\n")
