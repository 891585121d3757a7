"""Fixtures of the fault-injection tests: a rig of real processes, stopped whatever happens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from poskamling.broker import MosquittoBroker
from poskamling.httpsink import NotificationSink
from tests.fault.rig import Rig


@pytest.fixture
def backend() -> str:
    """The hub's store in a scenario: SQLite, unless a test parametrizes `backend` (then it is overridden)."""
    return "sqlite"


@pytest.fixture
def rig(
    broker: MosquittoBroker, sink: NotificationSink, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Iterator[Rig]:
    # PostgreSQL: a fresh database on the session's private server (tests/conftest.py postgres_url)
    database_url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    instance = Rig(tmp_path / "rig", broker, sink.url("officer"), database_url)
    yield instance
    instance.stop()
    if not broker.running:  # a test that killed the broker and failed before restarting it
        broker.restart()
