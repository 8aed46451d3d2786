"""examples/quickstart.py, run as a user would: apply, back up and wait, read the status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.vigild import Vigild

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart.py"


def run(vigild: Vigild, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(QUICKSTART), "--endpoint", vigild.endpoint, "--timeout", "120", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_shipped_quickstart_backs_up_with_nothing_else_installed(vigild: Vigild) -> None:
    result = run(vigild)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("quickstart_full", "quickstart_db", "quickstart_export"):
        assert f"{name}: created" in result.stdout, result.stdout
    assert "completed: artifact " in result.stdout


def test_quickstart_backs_up_a_directory_and_reads_the_status(vigild: Vigild, tmp_path: Path) -> None:
    source = tmp_path / "documents"
    source.mkdir()
    (source / "contract.txt").write_text("signed\n" * 1000)
    config = tmp_path / "quickstart.yaml"
    config.write_text(
        f"""
configurations:
  - name: quickstart_documents
    kind: FULL
    schedule: {{cron: "0 2 * * *", timezone: Europe/Berlin}}
    source: {{paths: ["{source}"]}}
    retention: {{keep_daily: 7}}
"""
    )
    result = run(vigild, str(config), "quickstart_documents")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "quickstart_documents: created" in result.stdout
    assert "completed: artifact " in result.stdout
    assert "status: " in result.stdout


def test_quickstart_names_the_field_of_a_bad_configuration(vigild: Vigild, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text('configurations:\n  - {name: quickstart_bad, kind: FULL, schedule: {cron: "0 2 * *"}, source: {paths: [/srv]}}\n')
    result = run(vigild, str(config), "quickstart_bad")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "configurations[0].schedule.cron" in result.stderr


def test_quickstart_reports_a_failed_backup(vigild: Vigild, tmp_path: Path) -> None:
    config = tmp_path / "missing.yaml"
    config.write_text("configurations:\n  - {name: quickstart_missing, kind: FULL, source: {paths: [/nonexistent/vigil/quickstart]}}\n")
    result = run(vigild, str(config), "quickstart_missing")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "backup failed:" in result.stderr
