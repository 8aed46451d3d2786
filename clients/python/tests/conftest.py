"""Fixtures: a real vigild per test module, and clients connected to it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import vigil

sys.path.insert(0, str(Path(__file__).parent))

from support.vigild import Vigild, vigild_binary  # noqa: E402


@pytest.fixture(scope="session")
def vigild_path() -> Path:
    """The vigild binary, built once per run (or ``$VIGILD_BIN``)."""
    return vigild_binary()


@pytest.fixture(scope="module")
def vigild(vigild_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vigild]:
    """A fresh vigild with its own data directory, shared by one test module."""
    server = Vigild(vigild_path, tmp_path_factory.mktemp("vigild") / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(vigild: Vigild) -> Iterator[vigil.Client]:
    with vigil.Client(vigild.endpoint, timeout=30, token=vigild.admin_token) as connected:
        yield connected
