"""The seed's twelve configurations, applied through the SDK to a fresh vigild.

This is the script a new user runs: apply the seed file, read the status, and
see a bad configuration refused with the field named.
"""

from __future__ import annotations


import pytest

import vigil
from vigil.catalog.v1 import catalog_service_pb2 as catalog
from vigil.catalog.v1 import configuration_pb2 as cfg

from support.vigild import SEED_FILE

SCHEDULED = {
    "daily_full_backup",
    "production_daily_full",
    "production_monthly_archive",
    "production_weekly_export",
    "weekly_export",
}
INACTIVE = {"production_database_hourly"}
ON_DEMAND = {
    "cli_restore_config",
    "production_pre_deployment",
    "restore_operation_config",
    "temp_restore_config",
    "test_config",
    "upload_restore_config",
}
SEED_NAMES = SCHEDULED | INACTIVE | ON_DEMAND


@pytest.fixture(scope="module")
def applied(client: vigil.Client) -> list[catalog.ApplyResult]:
    assert SEED_FILE.is_file(), f"{SEED_FILE} is missing: the seed configurations are part of the project"
    return client.apply_file(SEED_FILE)


def test_applying_the_seed_creates_twelve_configurations(client: vigil.Client, applied: list[catalog.ApplyResult]) -> None:
    assert len(SEED_NAMES) == 12
    assert sorted(r.name for r in applied) == sorted(SEED_NAMES)
    assert {r.action for r in applied} == {catalog.APPLY_ACTION_CREATED}
    stored = {c.name: c for c in client.list_configurations()}
    assert set(stored) == SEED_NAMES
    for name in SCHEDULED:
        assert stored[name].enabled, name
        assert stored[name].HasField("schedule"), name
    for name in ON_DEMAND:
        assert not stored[name].HasField("schedule"), name
    assert not stored["production_database_hourly"].enabled
    assert stored["production_database_hourly"].kind == cfg.BACKUP_KIND_DATABASE
    assert stored["production_weekly_export"].kind == cfg.BACKUP_KIND_EXPORT
    assert stored["daily_full_backup"].kind == cfg.BACKUP_KIND_FULL
    assert stored["daily_full_backup"].schedule.cron == "0 2 * * *"
    assert stored["test_config"].purpose == cfg.PURPOSE_TEST


def test_applying_the_seed_again_changes_nothing(client: vigil.Client, applied: list[catalog.ApplyResult]) -> None:
    before = {r.name: r.configuration.etag for r in applied}
    again = client.apply_file(SEED_FILE)
    assert {r.action for r in again} == {catalog.APPLY_ACTION_UNCHANGED}
    assert {r.name: r.configuration.etag for r in again} == before
    assert sum(1 for _ in client.list_configurations(page_size=5)) == 12


def test_a_bad_configuration_names_the_field_and_changes_nothing(client: vigil.Client, applied: list[catalog.ApplyResult]) -> None:
    before = client.get_configuration("daily_full_backup")
    items = vigil.load_configurations(SEED_FILE)
    for item in items:
        if item.name == "daily_full_backup":
            item.description = "changed by a request that must be refused"
    bad = cfg.BackupConfiguration()
    bad.CopyFrom(items[0])
    bad.name = "bad_cron"
    bad.schedule.cron = "0 2 * *"
    with pytest.raises(vigil.InvalidArgument) as caught:
        client.apply_configurations([*items, bad])
    error = caught.value
    assert error.field is not None, f"no field in {error}"
    assert error.field.endswith("schedule.cron"), error.field
    assert error.reason
    # Apply is atomic: the valid change in the same request was not stored.
    assert client.get_configuration("daily_full_backup") == before
    with pytest.raises(vigil.NotFound):
        client.get_configuration("bad_cron")
    assert sum(1 for _ in client.list_configurations()) == 12


def test_the_status_report_sorts_the_seed_by_category(client: vigil.Client, applied: list[catalog.ApplyResult]) -> None:
    report = client.status_report()
    summary = report.configurations
    assert summary.total == 12
    assert {e.name for e in summary.scheduled_active} == SCHEDULED
    assert {e.name for e in summary.inactive} == INACTIVE
    listed = {e.name for group in (summary.scheduled_active, summary.inactive, summary.on_demand, summary.leftovers) for e in group}
    assert listed == SEED_NAMES
    assert {"temp_restore_config", "test_config"} <= {e.name for e in summary.leftovers}
    assert report.verdict != 0
    assert report.headline
