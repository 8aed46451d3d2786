"""A stand-in for jq, for machines without it: ``jq [-r] '.path, .other.path'``.

The cookbook uses jq only to pick values out of grpcurl's JSON. This reads a
stream of JSON values from standard input and prints the selected values, raw
strings with ``-r``, like jq. Any other filter syntax is refused.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

_PATH = re.compile(r"^\.(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?$")


def select(value: Any, path: str) -> Any:
    for key in filter(None, path[1:].split(".")):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def values(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    found: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return found
        value, position = decoder.raw_decode(text, position)
        found.append(value)


def main(argv: list[str]) -> int:
    raw = False
    filters: list[str] = []
    for arg in argv:
        if arg in ("-r", "--raw-output"):
            raw = True
        elif arg.startswith("-"):
            print(f"jq stand-in: option {arg} is not supported", file=sys.stderr)
            return 2
        else:
            filters.append(arg)
    if len(filters) != 1:
        print("jq stand-in: give exactly one filter", file=sys.stderr)
        return 2
    paths = [p.strip() for p in filters[0].split(",")]
    for path in paths:
        if not _PATH.match(path):
            print(f"jq stand-in: filter {path!r} is not a plain path such as .job.id", file=sys.stderr)
            return 3
    for document in values(sys.stdin.read()):
        for path in paths:
            result = select(document, path)
            if raw and isinstance(result, str):
                print(result)
            else:
                print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
