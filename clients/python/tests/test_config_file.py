"""The YAML shape of ``vigil config apply -f``, turned into BackupConfiguration messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import vigil
from vigil.catalog.v1 import configuration_pb2 as cfg
from vigil.durations import parse_duration

# The example of the brief, verbatim.
BRIEF_EXAMPLE = """
configurations:
  - name: daily_full_backup
    kind: FULL                 # FULL | DATABASE | EXPORT
    purpose: production        # production | test | temporary
    enabled: true
    schedule:                  # leave out for on-demand
      cron: "0 2 * * *"        # 5 fields, or 6 with seconds first
      timezone: Europe/Berlin  # IANA name; UTC if left out
      catch_up: once           # skip | once | all
      overlap: skip            # skip | queue | allow
    source:
      database:                # optional for FULL, required for DATABASE
        engine: postgres       # postgres | mysql | sqlite
        url: postgres://edms@127.0.0.1:5432/edms   # never a password here
        password_env: EDMS_DB_PASSWORD             # or password_file: /run/secrets/db
      paths: [/srv/edms/documents, /srv/edms/media]
      exclude: ["**/*.tmp"]
    retention:
      keep_within_days: 30
      keep_daily: 7
      keep_weekly: 4
      keep_monthly: 12
    labels: {app: edms}
"""


def test_the_brief_example_becomes_the_expected_message(tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(BRIEF_EXAMPLE)
    [config] = vigil.load_configurations(path)
    expected = cfg.BackupConfiguration(
        name="daily_full_backup",
        kind=cfg.BACKUP_KIND_FULL,
        purpose=cfg.PURPOSE_PRODUCTION,
        enabled=True,
        schedule=cfg.Schedule(
            cron="0 2 * * *",
            timezone="Europe/Berlin",
            catch_up=cfg.CATCH_UP_POLICY_ONCE,
            overlap=cfg.OVERLAP_POLICY_SKIP,
        ),
        source=cfg.Source(
            database=cfg.DatabaseSource(
                engine=cfg.DATABASE_ENGINE_POSTGRES,
                url="postgres://edms@127.0.0.1:5432/edms",
                password=cfg.SecretRef(env="EDMS_DB_PASSWORD"),
            ),
            paths=["/srv/edms/documents", "/srv/edms/media"],
            exclude=["**/*.tmp"],
        ),
        retention=cfg.Retention(keep_within_days=30, keep_daily=7, keep_weekly=4, keep_monthly=12),
        labels={"app": "edms"},
    )
    assert config == expected


def test_defaults_are_those_of_the_cli() -> None:
    on_demand = vigil.configuration_from_dict({"name": "test_config", "kind": "full"})
    assert not on_demand.HasField("schedule")
    assert on_demand.enabled is True
    assert on_demand.purpose == cfg.PURPOSE_PRODUCTION
    scheduled = vigil.configuration_from_dict({"name": "nightly", "kind": "db", "purpose": "temp", "schedule": {"cron": "0 2 * * *"}})
    assert scheduled.kind == cfg.BACKUP_KIND_DATABASE
    assert scheduled.purpose == cfg.PURPOSE_TEMPORARY
    assert scheduled.schedule.catch_up == cfg.CATCH_UP_POLICY_ONCE
    assert scheduled.schedule.overlap == cfg.OVERLAP_POLICY_SKIP
    assert scheduled.schedule.timezone == ""


def test_presets_durations_and_password_files() -> None:
    config = vigil.configuration_from_dict(
        {
            "name": "monthly",
            "kind": "DATABASE",
            "enabled": False,
            "schedule": {
                "preset": {"frequency": "monthly", "time": "04:00", "day_of_month": 1},
                "catch_up": "all",
                "catch_up_window": "2d",
                "catch_up_cap": 3,
                "jitter": "5m",
                "grace": 900,
            },
            "source": {"database": {"engine": "sqlite", "url": "sqlite:///var/lib/app.db", "password_file": "/run/secrets/db"}},
        }
    )
    assert config.enabled is False
    assert config.schedule.WhichOneof("spec") == "preset"
    assert config.schedule.preset == cfg.Preset(frequency=cfg.FREQUENCY_MONTHLY, time_of_day="04:00", day_of_month=1)
    assert config.schedule.catch_up_window.seconds == 2 * 86400
    assert config.schedule.catch_up_cap == 3
    assert config.schedule.jitter.seconds == 300
    assert config.schedule.grace.seconds == 900
    assert config.source.database.password.WhichOneof("source") == "file"
    weekly = vigil.configuration_from_dict(
        {"name": "w", "kind": "EXPORT", "schedule": {"preset": {"frequency": "weekly", "time": "03:00", "day_of_week": "sun"}}}
    )
    assert weekly.schedule.preset.day_of_week == cfg.WEEKDAY_SUNDAY


def full(**fields: Any) -> dict[str, Any]:
    return {"name": "x", "kind": "FULL", **fields}


@pytest.mark.parametrize(
    ("item", "field", "reason"),
    [
        ({"kind": "FULL"}, "configuration.name", "missing"),
        ({"name": "x"}, "configuration.kind", "missing"),
        (full(schedule={"cronn": "0 2 * * *"}), "configuration.schedule.cronn", "unknown field"),
        (full(kind="INCREMENTAL"), "configuration.kind", "unknown value 'INCREMENTAL'"),
        (full(enabled="yes"), "configuration.enabled", "must be true or false"),
        (full(name=7), "configuration.name", "must be a string"),
        (full(source={"paths": "/srv"}), "configuration.source.paths", "must be a list of strings"),
        (full(source={"paths": ["/srv", 3]}), "configuration.source.paths[1]", "must be a string"),
        (full(schedule={"cron": "* * * * *", "grace": "soon"}), "configuration.schedule.grace", "cannot read"),
        (full(schedule={"cron": "* * * * *", "jitter": -5}), "configuration.schedule.jitter", "must not be negative"),
        (full(schedule={"cron": "* * * * *", "preset": {"frequency": "daily"}}), "configuration.schedule", "exclusive"),
        (full(schedule={"timezone": "UTC"}), "configuration.schedule", "needs cron or preset"),
        (full(schedule={"preset": {"time": "02:00"}}), "configuration.schedule.preset.frequency", "missing"),
        (full(retention={"keep_daily": "7"}), "configuration.retention.keep_daily", "must be an integer"),
        (full(labels={"tier": 1}), "configuration.labels.tier", "strings"),
        (full(source={"database": {"url": "postgres://u@h/db"}}), "configuration.source.database.engine", "missing"),
        (
            full(source={"database": {"engine": "postgres", "url": "postgres://u@h/db", "password": "hunter2"}}),
            "configuration.source.database.password",
            "never goes into a configuration",
        ),
        (
            full(source={"database": {"engine": "postgres", "url": "postgres://u:hunter2@h/db"}}),
            "configuration.source.database.url",
            "must not contain a password",
        ),
        (
            full(source={"database": {"engine": "mysql", "url": "mysql://h/db?user=u&Password=hunter2"}}),
            "configuration.source.database.url",
            "must not contain a password",
        ),
    ],
)
def test_a_malformed_item_names_the_field(item: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(vigil.InvalidArgument) as caught:
        vigil.configuration_from_dict(item)
    assert caught.value.field == field
    assert reason in caught.value.reason
    assert "hunter2" not in str(caught.value)


def test_errors_in_a_file_name_the_item_by_index(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("configurations:\n  - name: ok\n    kind: FULL\n  - name: bad\n    kind: FULL\n    retention: {keep_forever: true}\n")
    with pytest.raises(vigil.InvalidArgument) as caught:
        vigil.load_configurations(path)
    assert caught.value.field == "configurations[1].retention.keep_forever"


@pytest.mark.parametrize("text", ["", "configurations: {name: x}", "other: []", "- name: x", "configurations: [unclosed"])
def test_a_file_without_a_list_of_configurations_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(vigil.InvalidArgument) as caught:
        vigil.load_configurations(path)
    assert caught.value.field is not None
    assert caught.value.field.startswith("configurations") or caught.value.field == "other"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("15min", 900), ("1h 30m", 5400), ("1h30m", 5400), ("2days", 172800), ("1w", 604800), ("0.5h", 1800)],
)
def test_human_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "15", "5 parsecs", "h", "1h-"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
