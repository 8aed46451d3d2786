"""Typed configuration builders: a spec builds the same configuration as the
file format, and ``mypy --strict`` rejects a misspelt key or enum word."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vigil
from vigil.builders import ConfigurationSpec, build_configuration
from vigil.catalog.v1 import configuration_pb2 as cfg

GOOD = """
from vigil.builders import ConfigurationSpec, build_configuration

spec: ConfigurationSpec = {
    "name": "nightly_db",
    "kind": "DATABASE",
    "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Berlin", "catch_up": "once"},
    "source": {"database": {"engine": "sqlite", "url": "sqlite:///srv/app.db"}},
    "retention": {"keep_daily": 7},
}
print(build_configuration(spec).name)
"""


def test_a_spec_builds_the_configuration_the_file_format_would() -> None:
    spec: ConfigurationSpec = {
        "name": "nightly_db",
        "kind": "DATABASE",
        "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Berlin"},
        "source": {"database": {"engine": "sqlite", "url": "sqlite:///srv/app.db", "password_env": "APP_DB"}},
        "retention": {"keep_daily": 7},
        "labels": {"app": "edms"},
    }
    built = build_configuration(spec)
    assert built == vigil.configuration_from_dict(dict(spec))
    assert built.kind == cfg.BACKUP_KIND_DATABASE
    assert built.enabled and built.purpose == cfg.PURPOSE_PRODUCTION
    assert built.schedule.catch_up == cfg.CATCH_UP_POLICY_ONCE
    assert built.source.database.password.env == "APP_DB"


def test_what_types_cannot_say_is_still_checked_at_run_time() -> None:
    spec: ConfigurationSpec = {
        "name": "leaky",
        "kind": "DATABASE",
        "source": {"database": {"engine": "postgres", "url": "postgres://u:secret@db/app"}},
    }
    with pytest.raises(vigil.InvalidArgument) as caught:
        build_configuration(spec)
    assert caught.value.violations[0].field == "configuration.source.database.url"


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent(source), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(snippet)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_mypy_accepts_a_well_formed_spec(tmp_path: Path) -> None:
    result = _mypy(tmp_path, GOOD)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("typo", "complaint"),
    [
        ('"retention": {"keep_daily": 7}', '"retension": {"keep_daily": 7}'),
        ('"catch_up": "once"', '"catch_up": "onse"'),
        ('"engine": "sqlite"', '"engin": "sqlite"'),
    ],
)
def test_mypy_rejects_a_misspelt_key_or_word(tmp_path: Path, typo: str, complaint: str) -> None:
    assert typo in GOOD
    result = _mypy(tmp_path, GOOD.replace(typo, complaint))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "snippet.py" in result.stdout and "[typeddict-" in result.stdout, result.stdout
