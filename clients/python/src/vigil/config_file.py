"""Configurations from dicts or YAML files, in the shape ``vigil config apply -f`` reads.

.. code-block:: yaml

    configurations:
      - name: daily_full_backup
        kind: FULL                 # FULL | DATABASE | EXPORT
        purpose: production        # production | test | temporary
        enabled: true
        schedule:                  # leave out for on-demand
          cron: "0 2 * * *"        # or preset: {frequency: daily, time: "02:00"}
          timezone: Europe/Berlin
          catch_up: once           # skip | once | all
          overlap: skip            # skip | queue | allow
        source:
          database:
            engine: postgres       # postgres | mysql | sqlite
            url: postgres://edms@127.0.0.1:5432/edms
            password_env: EDMS_DB_PASSWORD
          paths: [/srv/edms/documents, /srv/edms/media]
        retention: {keep_within_days: 30, keep_daily: 7}
        labels: {app: edms}

Only the shape is checked here: unknown keys, wrong types and unknown enum
names raise :class:`vigil.InvalidArgument` naming the field, before anything is
sent. Everything else (cron syntax, time zones, absolute paths, ...) is checked
by the catalog, which answers with the same kind of error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import yaml

from vigil import durations
from vigil.catalog.v1 import configuration_pb2 as cfg
from vigil.errors import FieldViolation, InvalidArgument

Configuration = cfg.BackupConfiguration
_Enum = TypeVar("_Enum", bound=int)

# The words of the CLI (clients/cli/src/vocab.rs), so a file means the same to both.
_KINDS = {"full": cfg.BACKUP_KIND_FULL, "database": cfg.BACKUP_KIND_DATABASE, "db": cfg.BACKUP_KIND_DATABASE, "export": cfg.BACKUP_KIND_EXPORT}
_PURPOSES = {
    "production": cfg.PURPOSE_PRODUCTION,
    "prod": cfg.PURPOSE_PRODUCTION,
    "test": cfg.PURPOSE_TEST,
    "temporary": cfg.PURPOSE_TEMPORARY,
    "temp": cfg.PURPOSE_TEMPORARY,
}
_CATCH_UP = {"skip": cfg.CATCH_UP_POLICY_SKIP, "once": cfg.CATCH_UP_POLICY_ONCE, "all": cfg.CATCH_UP_POLICY_ALL}
_OVERLAP = {"skip": cfg.OVERLAP_POLICY_SKIP, "queue": cfg.OVERLAP_POLICY_QUEUE, "allow": cfg.OVERLAP_POLICY_ALLOW}
_ENGINES = {
    "postgres": cfg.DATABASE_ENGINE_POSTGRES,
    "postgresql": cfg.DATABASE_ENGINE_POSTGRES,
    "mysql": cfg.DATABASE_ENGINE_MYSQL,
    "mariadb": cfg.DATABASE_ENGINE_MYSQL,
    "sqlite": cfg.DATABASE_ENGINE_SQLITE,
    "sqlite3": cfg.DATABASE_ENGINE_SQLITE,
}
_FREQUENCIES = {
    "hourly": cfg.FREQUENCY_HOURLY,
    "daily": cfg.FREQUENCY_DAILY,
    "weekly": cfg.FREQUENCY_WEEKLY,
    "monthly": cfg.FREQUENCY_MONTHLY,
}
_WEEKDAYS = {
    "monday": cfg.WEEKDAY_MONDAY,
    "mon": cfg.WEEKDAY_MONDAY,
    "tuesday": cfg.WEEKDAY_TUESDAY,
    "tue": cfg.WEEKDAY_TUESDAY,
    "wednesday": cfg.WEEKDAY_WEDNESDAY,
    "wed": cfg.WEEKDAY_WEDNESDAY,
    "thursday": cfg.WEEKDAY_THURSDAY,
    "thu": cfg.WEEKDAY_THURSDAY,
    "friday": cfg.WEEKDAY_FRIDAY,
    "fri": cfg.WEEKDAY_FRIDAY,
    "saturday": cfg.WEEKDAY_SATURDAY,
    "sat": cfg.WEEKDAY_SATURDAY,
    "sunday": cfg.WEEKDAY_SUNDAY,
    "sun": cfg.WEEKDAY_SUNDAY,
}


class _Node:
    """A mapping in the document with its path, for errors that name the field."""

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, Mapping):
            raise _bad(path, f"must be a mapping, not {_type_name(value)}")
        self.value: Mapping[Any, Any] = value
        self.path = path

    def check_keys(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for key in self.value:
            if key not in allowed:
                hint = ""
                if key == "password":
                    hint = "; a password never goes into a configuration, use password_env or password_file"
                raise _bad(self.at(str(key)), f"unknown field{hint}")

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.value.get(key) is not None

    def require(self, *keys: str) -> None:
        for key in keys:
            if not self.has(key):
                raise _bad(self.at(key), "missing")

    def get(self, key: str) -> Any:
        return self.value.get(key)

    def child(self, key: str) -> _Node:
        return _Node(self.value[key], self.at(key))

    def string(self, key: str) -> str:
        value = self.value[key]
        if not isinstance(value, str):
            raise _bad(self.at(key), f"must be a string, not {_type_name(value)}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.value[key]
        if not isinstance(value, bool):
            raise _bad(self.at(key), f"must be true or false, not {_type_name(value)}")
        return value

    def integer(self, key: str) -> int:
        value = self.value[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(self.at(key), f"must be an integer, not {_type_name(value)}")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.value[key]
        if isinstance(value, str) or not isinstance(value, list):
            raise _bad(self.at(key), f"must be a list of strings, not {_type_name(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise _bad(f"{self.at(key)}[{index}]", f"must be a string, not {_type_name(item)}")
        return list(value)

    def choice(self, key: str, choices: Mapping[str, _Enum]) -> _Enum:
        text = self.string(key).strip().lower()
        if text not in choices:
            names = " | ".join(dict.fromkeys(choices))
            raise _bad(self.at(key), f"unknown value {self.value[key]!r}; expected {names}")
        return choices[text]

    def duration(self, key: str) -> Any:
        try:
            return durations.to_proto(self.value[key])
        except ValueError as error:
            raise _bad(self.at(key), str(error)) from None


def _type_name(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def _bad(field: str, reason: str) -> InvalidArgument:
    return InvalidArgument(f"{field}: {reason}", violations=[FieldViolation(field, reason)])


def configuration_from_dict(data: Mapping[str, Any], *, path: str = "configuration") -> Configuration:
    """Builds a ``BackupConfiguration`` from one item of the YAML shape.

    Defaults are those of ``vigil config apply``: ``enabled`` true, ``purpose``
    production, and for a schedule ``catch_up`` once and ``overlap`` skip, so
    the same file gives the same configuration whichever client applies it.
    Raises :class:`vigil.InvalidArgument` naming the field for a malformed item.
    """
    node = _Node(data, path)
    node.check_keys(("name", "kind", "purpose", "enabled", "description", "schedule", "source", "retention", "labels"))
    node.require("name", "kind")
    config = Configuration(name=node.string("name"))
    config.kind = node.choice("kind", _KINDS)
    config.purpose = node.choice("purpose", _PURPOSES) if node.has("purpose") else cfg.PURPOSE_PRODUCTION
    config.enabled = node.boolean("enabled") if node.has("enabled") else True
    if node.has("description"):
        config.description = node.string("description")
    if node.has("schedule"):
        config.schedule.CopyFrom(_schedule(node.child("schedule")))
    if node.has("source"):
        config.source.CopyFrom(_source(node.child("source")))
    if node.has("retention"):
        config.retention.CopyFrom(_retention(node.child("retention")))
    if node.has("labels"):
        labels = node.child("labels")
        for key, value in labels.value.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise _bad(labels.at(str(key)), "labels map strings to strings; quote the value")
            config.labels[key] = value
    return config


def _schedule(node: _Node) -> cfg.Schedule:
    node.check_keys(("cron", "preset", "timezone", "catch_up", "catch_up_window", "catch_up_cap", "overlap", "jitter", "grace"))
    schedule = cfg.Schedule()
    if node.has("cron") and node.has("preset"):
        raise _bad(node.path, "cron and preset are exclusive; give one")
    if node.has("cron"):
        schedule.cron = node.string("cron")
    elif node.has("preset"):
        schedule.preset.CopyFrom(_preset(node.child("preset")))
    else:
        raise _bad(node.path, "needs cron or preset; leave schedule out for on-demand")
    if node.has("timezone"):
        schedule.timezone = node.string("timezone")
    schedule.catch_up = node.choice("catch_up", _CATCH_UP) if node.has("catch_up") else cfg.CATCH_UP_POLICY_ONCE
    if node.has("catch_up_window"):
        schedule.catch_up_window.CopyFrom(node.duration("catch_up_window"))
    if node.has("catch_up_cap"):
        cap = node.integer("catch_up_cap")
        if cap < 0:
            raise _bad(node.at("catch_up_cap"), "must not be negative")
        schedule.catch_up_cap = cap
    schedule.overlap = node.choice("overlap", _OVERLAP) if node.has("overlap") else cfg.OVERLAP_POLICY_SKIP
    if node.has("jitter"):
        schedule.jitter.CopyFrom(node.duration("jitter"))
    if node.has("grace"):
        schedule.grace.CopyFrom(node.duration("grace"))
    return schedule


def _preset(node: _Node) -> cfg.Preset:
    node.check_keys(("frequency", "time", "day_of_week", "day_of_month"))
    node.require("frequency")
    preset = cfg.Preset()
    preset.frequency = node.choice("frequency", _FREQUENCIES)
    if node.has("time"):
        preset.time_of_day = node.string("time")
    if node.has("day_of_week"):
        preset.day_of_week = node.choice("day_of_week", _WEEKDAYS)
    if node.has("day_of_month"):
        day = node.integer("day_of_month")
        if not 1 <= day <= 31:
            raise _bad(node.at("day_of_month"), "must be between 1 and 31")
        preset.day_of_month = day
    return preset


def _source(node: _Node) -> cfg.Source:
    node.check_keys(("database", "paths", "include", "exclude"))
    source = cfg.Source()
    if node.has("database"):
        database = node.child("database")
        database.check_keys(("engine", "url", "password_env", "password_file"))
        database.require("engine", "url")
        source.database.engine = database.choice("engine", _ENGINES)
        source.database.url = database.string("url")
        if url_has_password(source.database.url):
            # Refused here so that the password never travels to the server.
            raise _bad(database.at("url"), "must not contain a password; use password_env or password_file")
        if database.has("password_env") and database.has("password_file"):
            raise _bad(database.path, "password_env and password_file are exclusive; give one")
        if database.has("password_env"):
            source.database.password.env = database.string("password_env")
        elif database.has("password_file"):
            source.database.password.file = database.string("password_file")
    for key in ("paths", "include", "exclude"):
        if node.has(key):
            getattr(source, key).extend(node.strings(key))
    return source


def url_has_password(url: str) -> bool:
    """Whether a database URL carries a password, in its user info or as ``password=``."""
    _, separator, rest = url.partition("://")
    if separator:
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        userinfo, at, _ = authority.rpartition("@")
        if at and ":" in userinfo:
            return True
    query = url.partition("?")[2]
    return any(part.lower().startswith("password=") for part in query.split("&"))


def _retention(node: _Node) -> cfg.Retention:
    keys = ("keep_within_days", "keep_last", "keep_daily", "keep_weekly", "keep_monthly")
    node.check_keys(keys)
    retention = cfg.Retention()
    for key in keys:
        if node.has(key):
            # Negative values are left for the catalog to refuse, so the
            # message is the same whichever client sent them.
            setattr(retention, key, node.integer(key))
    return retention


def configurations_from_document(document: object, *, source: str = "") -> list[Configuration]:
    """Reads every configuration of a parsed apply document (``{"configurations": [...]}``)."""
    if document is not None and not isinstance(document, Mapping):
        raise _bad("configurations", f"the file must be a mapping with a configurations list, not a {_type_name(document)}")
    root = _Node(document if document is not None else {}, "")
    root.check_keys(("configurations",))
    items = root.get("configurations")
    if items is None:
        raise _bad("configurations", f"missing{' in ' + source if source else ''}; the file lists configurations under it")
    if not isinstance(items, list):
        raise _bad("configurations", f"must be a list, not {_type_name(items)}")
    return [configuration_from_dict(item, path=f"configurations[{index}]") for index, item in enumerate(items)]


def load_configurations(path: str | os.PathLike[str]) -> list[Configuration]:
    """Reads a YAML file as ``vigil config apply -f`` does.

    Relative ``source.paths`` and a relative ``sqlite:`` URL are resolved
    against the file's directory, as the CLI does, so that a file shipped
    next to its data works from any working directory.
    """
    with open(path, encoding="utf-8") as file:
        try:
            document = yaml.safe_load(file)
        except yaml.YAMLError as error:
            raise _bad("configurations", f"{os.fspath(path)} is not valid YAML: {error}") from None
    configurations = configurations_from_document(document, source=os.fspath(path))
    base = os.path.dirname(os.path.abspath(os.fspath(path)))
    for configuration in configurations:
        resolve_relative(configuration, base)
    return configurations


def resolve_relative(configuration: Configuration, base: str) -> None:
    """Rewrites relative source paths and a relative SQLite URL against ``base`` (an absolute directory)."""
    source = configuration.source
    for index, path in enumerate(source.paths):
        if path and not os.path.isabs(path):
            source.paths[index] = os.path.normpath(os.path.join(base, path))
    database = source.database
    if database.engine == cfg.DATABASE_ENGINE_SQLITE:
        for prefix in ("sqlite://", "sqlite:"):
            if database.url.startswith(prefix):
                rest = database.url.removeprefix(prefix)
                path, question, query = rest.partition("?")
                if path and not os.path.isabs(path):
                    database.url = f"sqlite://{os.path.normpath(os.path.join(base, path))}{question}{query}"
                break
