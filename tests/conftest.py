"""Fixtures: a real Mosquitto on a free port, the real hub, a notification sink, simulated posts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hub.provisioning.broker_files import new_secret
from poskamling.broker import MosquittoBroker
from poskamling.httpsink import NotificationSink
from poskamling.postgres import TempPostgres
from poskamling.sim import SimulatedPost, sim_edge_config
from tests.support import HUB_USER, FakeSystemd, HubHarness, add_device


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A fresh Mosquitto with generated config, credentials and ACL; accounts added by tests."""
    instance = MosquittoBroker(tmp_path / "broker", accounts={HUB_USER: new_secret()})
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def sink() -> Iterator[NotificationSink]:
    instance = NotificationSink()
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def make_hub(broker: MosquittoBroker, sink: NotificationSink, tmp_path: Path) -> Iterator[Callable[..., HubHarness]]:
    """Build and start a hub for the given posts; every officer gets a sink URL of their own name."""
    started: list[HubHarness] = []

    def build(posts: list[dict[str, Any]], officers: list[dict[str, Any]] | None = None, **extra: Any) -> HubHarness:
        officers = officers if officers is not None else [{"name": "officer", "urls": [sink.url("officer")]}]
        harness = HubHarness(broker, sink, tmp_path / "hub", posts, officers, extra=extra)
        harness.start()
        started.append(harness)
        return harness

    yield build
    for harness in started:
        harness.stop()


@pytest.fixture
def make_post(broker: MosquittoBroker, tmp_path: Path) -> Iterator[Callable[..., SimulatedPost]]:
    """A real edge agent on MockFactory pins, provisioned on the test broker."""
    started: list[SimulatedPost] = []

    def build(device_id: str, start: bool = True, **overrides: Any) -> SimulatedPost:
        password = broker.accounts.get(device_id) or add_device(broker, device_id)
        config = sim_edge_config(device_id, broker.host, broker.port, password, tmp_path / "posts" / device_id)
        if overrides:
            config = config.model_copy(update=overrides)
        post = SimulatedPost(config)
        if start:
            post.start()
            started.append(post)
        return post

    yield build
    for post in started:
        post.stop()


@pytest.fixture
def systemd() -> Iterator[FakeSystemd]:
    """A fake NOTIFY_SOCKET (kamling/sdnotify.py's other end)."""
    fake = FakeSystemd()
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TempPostgres]:
    """One private PostgreSQL for the session (Debian's postgresql, as an unprivileged user)."""
    server = TempPostgres()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def postgres_url(postgres_server: TempPostgres) -> str:
    """A fresh, empty database on the session's server: one per test, so tests never see each other's rows."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return postgres_server.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The SQL store's URL on each backend: SQLite in tmp_path, PostgreSQL on the session's server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
