"""The convenience client against a real vigild: configurations, jobs, waits and errors."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest

import vigil
from vigil.catalog.v1 import catalog_service_pb2 as catalog
from vigil.catalog.v1 import configuration_pb2 as cfg
from vigil.catalog.v1 import job_pb2


def on_demand(name: str, paths: list[str] | None = None) -> dict[str, object]:
    return {"name": name, "kind": "FULL", "purpose": "test", "source": {"paths": paths or ["/srv/data"]}}


def test_create_get_update_delete(client: vigil.Client) -> None:
    created = client.create_configuration(
        {**on_demand("crud"), "schedule": {"cron": "30 1 * * *", "timezone": "Europe/Berlin"}, "labels": {"team": "ops"}}
    )
    assert created.etag
    assert created.HasField("create_time")
    assert client.get_configuration("crud") == created
    assert "crud" in {c.name for c in client.list_configurations(labels={"team": "ops"})}

    with pytest.raises(vigil.AlreadyExists):
        client.create_configuration(on_demand("crud"))

    changed = cfg.BackupConfiguration()
    changed.CopyFrom(created)
    changed.retention.keep_daily = 9
    updated = client.update_configuration(changed, update_mask=["retention.keep_daily"])
    assert updated.retention.keep_daily == 9
    assert updated.etag != created.etag

    stale = cfg.BackupConfiguration()
    stale.CopyFrom(created)  # carries the old etag
    stale.retention.keep_daily = 3
    with pytest.raises(vigil.Aborted):
        client.update_configuration(stale, update_mask=["retention.keep_daily"])
    assert client.get_configuration("crud").retention.keep_daily == 9

    assert not client.disable_configuration("crud").enabled
    assert client.enable_configuration("crud").enabled

    client.delete_configuration("crud")
    with pytest.raises(vigil.NotFound):
        client.get_configuration("crud")


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({**on_demand("bad_cron"), "schedule": {"cron": "0 2 * *"}}, "configuration.schedule.cron"),
        ({**on_demand("bad_zone"), "schedule": {"cron": "0 2 * * *", "timezone": "+02:00"}}, "configuration.schedule.timezone"),
        (on_demand("bad_path", ["relative/dir"]), "configuration.source.paths"),
        ({**on_demand("bad_retention"), "retention": {"keep_daily": -1}}, "configuration.retention.keep_daily"),
        ({**on_demand("Not A Slug")}, "configuration.name"),
        (
            {"name": "bad_db_url", "kind": "DATABASE", "source": {"database": {"engine": "postgres", "url": "postgres://u:secret@h/db"}}},
            "configuration.source.database.url",
        ),
    ],
)
def test_bad_input_is_invalid_argument_naming_the_field(client: vigil.Client, item: dict[str, object], field: str) -> None:
    with pytest.raises(vigil.InvalidArgument) as caught:
        client.create_configuration(item)
    error = caught.value
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert error.field is not None and error.field.startswith(field), f"{error.field!r} does not name {field}"
    assert error.reason and error.reason != error.message
    assert "secret" not in str(error)
    assert item["name"] not in {c.name for c in client.list_configurations()}


def test_a_password_in_a_database_url_is_refused_without_repeating_it(client: vigil.Client) -> None:
    # A message built by hand skips the SDK's own check: the catalog must refuse it too.
    leaky = cfg.BackupConfiguration(
        name="leaky",
        kind=cfg.BACKUP_KIND_DATABASE,
        source=cfg.Source(database=cfg.DatabaseSource(engine=cfg.DATABASE_ENGINE_POSTGRES, url="postgres://edms:hunter2@db/edms")),
    )
    with pytest.raises(vigil.InvalidArgument) as caught:
        client.create_configuration(leaky)
    assert caught.value.field == "configuration.source.database.url"
    assert "hunter2" not in str(caught.value)
    assert all("hunter2" not in v.reason for v in caught.value.violations)


def test_unknown_names_are_not_found(client: vigil.Client) -> None:
    with pytest.raises(vigil.NotFound):
        client.get_configuration("no_such_configuration")
    with pytest.raises(vigil.NotFound):
        client.get_job("0190d5a0-0000-7000-8000-000000000000")
    with pytest.raises(vigil.NotFound):
        client.run_backup("no_such_configuration")


def settle(client: vigil.Client, job: job_pb2.BackupJob) -> job_pb2.BackupJob:
    """Brings a job to a final state: waits for vigild's executor to end it."""
    return client.wait_for_job(job.id, timeout=120, raise_on_failure=False)


def test_list_jobs_pages_through_every_job_newest_first(client: vigil.Client) -> None:
    client.create_configuration(on_demand("paged", ["/nonexistent/vigil/python-sdk-test"]))
    created = [client.create_job("paged", job_pb2.JOB_KIND_BACKUP) for _ in range(5)]
    listed = list(client.list_jobs(configuration="paged", page_size=2))
    assert [j.id for j in listed] == [j.id for j in reversed(created)]
    assert all(j.configuration == "paged" and j.trigger == job_pb2.JOB_TRIGGER_MANUAL for j in listed)
    assert all(j.name.startswith("paged_") for j in listed)

    final = {job.id: settle(client, job).state for job in created}
    assert all(state in vigil.FINAL_STATES for state in final.values())
    for state in set(final.values()):
        selected = {j.id for j in client.list_jobs(configuration="paged", states=[state], page_size=1)}
        assert selected == {job_id for job_id, s in final.items() if s == state}
    assert list(client.list_jobs(configuration="paged", kind=job_pb2.JOB_KIND_PRUNE)) == []


def test_create_job_with_the_same_request_id_returns_the_same_job(client: vigil.Client) -> None:
    client.create_configuration(on_demand("idempotent", ["/nonexistent/vigil/python-sdk-test"]))
    first = client.create_job("idempotent", job_pb2.JOB_KIND_BACKUP, request_id="python-sdk-test-1")
    second = client.create_job("idempotent", job_pb2.JOB_KIND_BACKUP, request_id="python-sdk-test-1")
    assert first.id == second.id
    third = client.create_job("idempotent", job_pb2.JOB_KIND_BACKUP, request_id="python-sdk-test-2")
    assert third.id != first.id
    assert len(list(client.list_jobs(configuration="idempotent"))) == 2


def test_waiting_for_a_cancelled_job_raises_job_failed(client: vigil.Client) -> None:
    client.create_configuration(on_demand("cancelled", ["/nonexistent/vigil/python-sdk-test"]))
    job = client.create_job("cancelled", job_pb2.JOB_KIND_BACKUP)
    seen: list[job_pb2.BackupJob] = []
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            client.wait_for_job(job.id, timeout=60, on_update=seen.append)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            outcome.append(error)

    waiter = threading.Thread(target=wait)
    waiter.start()
    try:
        client.cancel_job(job.id)
    except vigil.FailedPrecondition:
        pass  # an executor ran it to its end first (the source does not exist): it FAILED
    waiter.join(70)
    assert not waiter.is_alive()
    [error] = outcome
    assert isinstance(error, vigil.JobFailed)
    assert error.job.id == job.id
    assert error.job.state in (job_pb2.JOB_STATE_CANCELLED, job_pb2.JOB_STATE_FAILED)
    assert seen and seen[-1].state == error.job.state


def test_run_backup_and_wait(client: vigil.Client, tmp_path: Path) -> None:
    source = tmp_path / "files"
    (source / "docs").mkdir(parents=True)
    (source / "docs" / "report.txt").write_text("quarterly figures\n" * 100)
    (source / "media.bin").write_bytes(bytes(range(256)) * 64)
    client.create_configuration(on_demand("files", [str(source)]))

    updates: list[job_pb2.BackupJob] = []
    job = client.run_backup("files", wait=True, timeout=120, on_update=updates.append)
    assert job.state == job_pb2.JOB_STATE_COMPLETED, job.error
    assert job.artifact
    assert job.stats.files >= 2
    assert updates and updates[-1].state == job_pb2.JOB_STATE_COMPLETED
    assert job.artifact in {a.id for a in client.list_artifacts(configuration="files")}

    # The job's log: its phases, printed by name, each finished one with its duration.
    events = list(client.job_events(job.name))
    kinds = [str(vigil.enum_value(e, "kind")) for e in events]
    assert "JOB_EVENT_KIND_PHASE_STARTED" in kinds, kinds
    finished = [e for e in events if vigil.enum_value(e, "kind") == vigil.JobEventKind["JOB_EVENT_KIND_PHASE_FINISHED"]]
    assert [e.phase for e in finished][:2] == ["scanning", "backing up"], events
    assert all(e.HasField("duration") for e in finished)
    assert str(vigil.JobState(job.state)) == "JOB_STATE_COMPLETED"


def test_alerts_and_schedules_are_listed(client: vigil.Client) -> None:
    alerts = list(client.list_alerts(include_resolved=True))
    assert all(a.id for a in alerts)
    client.create_configuration({**on_demand("scheduled"), "schedule": {"cron": "0 3 * * 0", "timezone": "Europe/Berlin"}})
    schedules = list(client.list_schedules(next_count=2))
    assert "scheduled" in {s.state.configuration for s in schedules}


def test_apply_reports_created_updated_and_unchanged(client: vigil.Client) -> None:
    items = [on_demand("apply_a"), on_demand("apply_b")]
    assert [r.action for r in client.apply_configurations(items)] == [catalog.APPLY_ACTION_CREATED] * 2
    items[1] = {**items[1], "description": "now described"}
    results = client.apply_configurations(items)
    assert [r.action for r in results] == [catalog.APPLY_ACTION_UNCHANGED, catalog.APPLY_ACTION_UPDATED]
    assert client.get_configuration("apply_b").description == "now described"
    dry = client.apply_configurations([{**items[0], "description": "dry"}], dry_run=True)
    assert [r.action for r in dry] == [catalog.APPLY_ACTION_UPDATED]
    assert client.get_configuration("apply_a").description == ""
