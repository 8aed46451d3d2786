"""Starts a real ``vigild`` on an ephemeral port for the tests.

The binary is ``$VIGILD_BIN`` when set; otherwise it is built once per test run
with ``cargo build -p vigil-server --bin vigild`` and taken from the cargo target
directory (likewise the ``vigil`` CLI and ``$VIGIL_CLI_BIN``). Each server gets its own data directory, is started with
``--listen 127.0.0.1:0`` and is found through the address it prints.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parents[4]
SEED_FILE = REPO_ROOT / "deploy" / "examples" / "seed-configurations.yaml"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# A loopback address with a real port, on a line that talks about listening:
# "listening on 127.0.0.1:40123", "listening addr=127.0.0.1:40123", JSON logs...
_LISTENING = re.compile(r"listen", re.I)
_ADDRESS = re.compile(r"((?:127\.0\.0\.1|localhost|\[::1\]):([1-9][0-9]{0,4}))\b")

START_TIMEOUT = float(os.environ.get("VIGIL_TEST_START_TIMEOUT", "60"))


def cargo_target_dir() -> Path:
    configured = os.environ.get("CARGO_TARGET_DIR")
    return Path(configured) if configured else REPO_ROOT / "target"


def cargo_binary(package: str, binary: str, env_var: str) -> Path:
    """A workspace binary: ``$env_var`` when set, else built with cargo (a no-op when fresh)."""
    configured = os.environ.get(env_var)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise RuntimeError(f"{env_var}={configured} is not a file")
        return path
    command = ["cargo", "build", "-p", package, "--bin", binary]
    build = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    if build.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{build.stderr[-6000:]}")
    path = cargo_target_dir() / "debug" / binary
    if not path.is_file():
        raise RuntimeError(f"cargo built {package} but {path} does not exist")
    return path


def vigild_binary() -> Path:
    """The vigild binary to test (``$VIGILD_BIN``, or built)."""
    return cargo_binary("vigil-server", "vigild", "VIGILD_BIN")


def vigil_cli_binary() -> Path:
    """The vigil CLI (``$VIGIL_CLI_BIN``, or built)."""
    return cargo_binary("vigil-cli", "vigil", "VIGIL_CLI_BIN")


@dataclass
class Vigild:
    """One running vigild. Stop it with :meth:`stop`."""

    binary: Path
    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[str] | None = None
    address: str = ""
    lines: list[str] = field(default_factory=list)
    _found: threading.Event = field(default_factory=threading.Event)

    @property
    def endpoint(self) -> str:
        return f"http://{self.address}"

    @property
    def admin_token_file(self) -> Path:
        """The bootstrap admin token vigild writes on first start (mode 0600)."""
        return self.data_dir / "admin.token"

    @property
    def admin_token(self) -> str:
        """The bootstrap admin token itself."""
        return self.admin_token_file.read_text(encoding="utf-8").strip()

    def client_env(self) -> dict[str, str]:
        """The environment for a client process (the CLI, an example) run as admin."""
        return {**os.environ, "VIGIL_TOKEN_FILE": str(self.admin_token_file)}

    def log(self) -> str:
        return "".join(self.lines)

    def start(self) -> Vigild:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env.setdefault("RUST_LOG", "info")
        env["NO_COLOR"] = "1"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [str(self.binary), "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir), *self.extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=self.data_dir,
        )
        threading.Thread(target=self._read_output, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._found.wait(0.05):
            if self.process.poll() is not None:
                time.sleep(0.2)  # let the reader collect the last lines
                raise RuntimeError(f"vigild exited with {self.process.returncode} before listening:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"vigild printed no listening address within {START_TIMEOUT:g}s:\n{self.log()}")
        self._wait_serving(deadline)
        return self

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if self._found.is_set():
                continue
            clean = _ANSI.sub("", line)
            if _LISTENING.search(clean):
                match = _ADDRESS.search(clean)
                if match is not None:
                    self.address = match.group(1)
                    self._found.set()

    def _wait_serving(self, deadline: float) -> None:
        with grpc.insecure_channel(self.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            last: Exception | None = None
            while time.monotonic() < deadline:
                try:
                    reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2, wait_for_ready=True)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError as error:
                    last = error
                time.sleep(0.1)
        raise RuntimeError(f"vigild at {self.address} never reported SERVING ({last}):\n{self.log()}")

    def stop(self, grace: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds. Returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
