"""The SDK and the ``vigil`` CLI read a configuration file the same way.

The seed file applied through the SDK must be exactly what ``vigil config
apply -f`` would store: a dry run of the CLI afterwards reports every
configuration unchanged. A difference in defaults, enum words or field
handling between the two readers shows up here as UPDATED.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import vigil
from vigil.catalog.v1 import catalog_service_pb2 as catalog

from support.vigild import SEED_FILE, Vigild, vigil_cli_binary


@pytest.fixture(scope="module")
def cli() -> Path:
    return vigil_cli_binary()


def cli_apply(cli: Path, server: Vigild, path: Path, *extra: str) -> list[dict[str, object]]:
    run = subprocess.run(
        [str(cli), "--endpoint", server.endpoint, "--json", "config", "apply", "-f", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    results: list[dict[str, object]] = json.loads(run.stdout)
    return results


def test_the_cli_sees_the_seed_applied_by_the_sdk_as_unchanged(client: vigil.Client, vigild: Vigild, cli: Path) -> None:
    applied = client.apply_file(SEED_FILE)
    assert {r.action for r in applied} == {catalog.APPLY_ACTION_CREATED}
    results = cli_apply(cli, vigild, SEED_FILE, "--dry-run")
    assert len(results) == 12
    changed = {str(r["name"]): r["action"] for r in results if r["action"] != "UNCHANGED"}
    assert changed == {}, "the CLI reads the seed file differently from the SDK"


def test_the_sdk_sees_a_file_applied_by_the_cli_as_unchanged(client: vigil.Client, vigild: Vigild, cli: Path, tmp_path: Path) -> None:
    path = tmp_path / "more.yaml"
    path.write_text(
        """
configurations:
  - name: cli_written
    kind: db
    purpose: temp
    schedule:
      preset: {frequency: weekly, time: "03:30", day_of_week: sun}
      timezone: America/New_York
      catch_up: all
      catch_up_window: 6h
      catch_up_cap: 2
      overlap: queue
      jitter: 5m
      grace: 30m
    source:
      database: {engine: sqlite, url: "sqlite:///var/lib/app/app.db"}
    retention: {keep_last: 3}
    labels: {team: data}
    description: written by the CLI, read back by the SDK
  # Everything left to the defaults.
  - name: cli_defaults
    kind: full
    schedule: {cron: "15 4 * * *"}
    source: {paths: [/srv/data]}
"""
    )
    assert [r["action"] for r in cli_apply(cli, vigild, path)] == ["CREATED", "CREATED"]
    again = client.apply_file(path, dry_run=True)
    assert [catalog.ApplyAction.Name(r.action) for r in again] == ["APPLY_ACTION_UNCHANGED"] * 2


def test_relative_paths_resolve_the_same_way_in_the_sdk_and_the_cli(client: vigil.Client, vigild: Vigild, cli: Path) -> None:
    quickstart = SEED_FILE.parent / "quickstart.yaml"
    applied = client.apply_file(quickstart)
    assert {r.action for r in applied} == {catalog.APPLY_ACTION_CREATED}
    stored = {c.name: c for c in client.list_configurations()}
    full = stored["quickstart_full"]
    assert list(full.source.paths) == [str(quickstart.parent / "quickstart" / "files")]
    assert full.source.database.url == f"sqlite://{quickstart.parent / 'quickstart' / 'app.db'}"
    results = cli_apply(cli, vigild, quickstart, "--dry-run")
    changed = {str(r["name"]): r["action"] for r in results if r["action"] != "UNCHANGED"}
    assert changed == {}, "the CLI resolves relative paths differently from the SDK"
