"""Human durations such as ``"15m"``, ``"1h 30m"`` or ``"2days"``, as in the CLI's YAML files."""

from __future__ import annotations

import re
from datetime import timedelta

from google.protobuf import duration_pb2

_UNITS: dict[str, float] = {}
for _names, _seconds in (
    (("ms", "msec", "millis", "millisecond", "milliseconds"), 0.001),
    (("s", "sec", "secs", "second", "seconds"), 1),
    (("m", "min", "mins", "minute", "minutes"), 60),
    (("h", "hr", "hrs", "hour", "hours"), 3600),
    (("d", "day", "days"), 86400),
    (("w", "week", "weeks"), 7 * 86400),
):
    for _name in _names:
        _UNITS[_name] = _seconds

_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")


def parse_duration(text: str) -> timedelta:
    """Parses ``"90s"``, ``"15min"``, ``"1h 30m"`` or ``"2days"``.

    Raises:
        ValueError: with a reason fit for a field error.
    """
    source = text.strip().lower()
    if not source:
        raise ValueError("must not be empty")
    total = 0.0
    position = 0
    while position < len(source):
        match = _PART.match(source, position)
        if match is None:
            raise ValueError(f"cannot read {text!r} as a duration such as 90s, 15m, 1h 30m or 2d")
        number, unit = match.groups()
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {unit!r} in {text!r}; use s, m, h, d or w")
        total += float(number) * _UNITS[unit]
        position = match.end()
    return timedelta(seconds=total)


def to_timedelta(value: object) -> timedelta:
    """Accepts a timedelta, a number of seconds or a human string."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ValueError("must be a duration such as 15m, not a boolean")
    elif isinstance(value, (int, float)):
        result = timedelta(seconds=value)
    elif isinstance(value, str):
        result = parse_duration(value)
    else:
        raise ValueError(f"must be a duration such as 15m, not {type(value).__name__}")
    if result < timedelta(0):
        raise ValueError("must not be negative")
    return result


def to_proto(value: object) -> duration_pb2.Duration:
    """Converts anything :func:`to_timedelta` accepts into a ``google.protobuf.Duration``."""
    message = duration_pb2.Duration()
    message.FromTimedelta(to_timedelta(value))
    return message
