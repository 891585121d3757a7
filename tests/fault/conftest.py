"""Fixtures of the fault-injection tests: a rig of real processes, stopped whatever happens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from poskamling.broker import MosquittoBroker
from poskamling.httpsink import NotificationSink
from tests.fault.rig import Rig


@pytest.fixture
def rig(broker: MosquittoBroker, sink: NotificationSink, tmp_path: Path) -> Iterator[Rig]:
    instance = Rig(tmp_path / "rig", broker, sink.url("officer"))
    yield instance
    instance.stop()
    if not broker.running:  # a test that killed the broker and failed before restarting it
        broker.restart()
