"""Typed configuration builders: the YAML shape of ``vigil config apply -f`` as
``TypedDict`` s, so that a misspelt key or an unknown enum word fails in
``mypy --strict`` (and in the editor), not on the server.

.. code-block:: python

    from vigil.builders import ConfigurationSpec, build_configuration

    spec: ConfigurationSpec = {
        "name": "nightly_db",
        "kind": "DATABASE",
        "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Berlin"},
        "source": {"database": {"engine": "sqlite", "url": "sqlite:///srv/app.db"}},
        "retention": {"keep_daily": 7},
    }
    client.apply_configurations([build_configuration(spec)])

The keys and words are those of the file format (``vigil.config_file``), and
:func:`build_configuration` applies the same checks and defaults at run time,
so a spec, a YAML file and the CLI mean the same configuration.
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

from vigil.config_file import Configuration, configuration_from_dict

Kind = Literal["FULL", "DATABASE", "EXPORT", "full", "database", "export"]
Purpose = Literal["production", "test", "temporary"]
CatchUp = Literal["skip", "once", "all"]
Overlap = Literal["skip", "queue", "allow"]
Engine = Literal["postgres", "mysql", "sqlite"]
Frequency = Literal["hourly", "daily", "weekly", "monthly"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class PresetSpec(TypedDict, total=False):
    """A schedule preset instead of a cron expression."""

    frequency: Required[Frequency]
    time: str
    day_of_week: Weekday
    day_of_month: int


class ScheduleSpec(TypedDict, total=False):
    """``schedule:``; give ``cron`` or ``preset``. Durations are words such as ``"2h"``."""

    cron: str
    preset: PresetSpec
    timezone: str
    catch_up: CatchUp
    catch_up_window: str
    catch_up_cap: int
    overlap: Overlap
    jitter: str
    grace: str


class DatabaseSpec(TypedDict, total=False):
    """``source.database:``; the URL never holds a password."""

    engine: Required[Engine]
    url: Required[str]
    password_env: str
    password_file: str


class SourceSpec(TypedDict, total=False):
    """``source:``: a database and/or file trees."""

    database: DatabaseSpec
    paths: list[str]
    include: list[str]
    exclude: list[str]


class RetentionSpec(TypedDict, total=False):
    """``retention:``."""

    keep_within_days: int
    keep_last: int
    keep_daily: int
    keep_weekly: int
    keep_monthly: int


class ConfigurationSpec(TypedDict, total=False):
    """One item of ``configurations:``; ``name`` and ``kind`` are required."""

    name: Required[str]
    kind: Required[Kind]
    purpose: Purpose
    enabled: bool
    description: str
    schedule: ScheduleSpec
    source: SourceSpec
    retention: RetentionSpec
    labels: dict[str, str]


def build_configuration(spec: ConfigurationSpec) -> Configuration:
    """The ``BackupConfiguration`` of a spec, with the file format's defaults and checks.

    Raises :class:`vigil.InvalidArgument` naming the field for what the types
    cannot say (both ``cron`` and ``preset``, a password in the URL, ...).
    """
    return configuration_from_dict(spec)
