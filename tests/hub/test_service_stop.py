"""HubService.stop() gives back what start() took: no descriptor or database connection outlives a hub.

A process that starts and stops hubs (the test suite, `poskamling demo`, a supervisor restarting the
hub in-process) must come back to where it began. Each SQL store keeps a connection per thread
that used it, and a stop() that forgets one store leaks its connections on every cycle (commit
7203599: the audit log's and the snapshot index's were left open, and late in a long test run
paho's select() loop met descriptors past 1024). Real hubs here, on SQLite and on PostgreSQL, each
cycle raising an alert, acknowledging it over the API (an audit line from a web thread) and
reading the event log and alerts.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from poskamling.broker import MosquittoBroker
from poskamling.httpsink import NotificationSink
from poskamling.postgres import TempPostgres
from poskamling.sim import SimulatedPost
from tests.support import HubHarness, post_entry, wait_for

pytestmark = pytest.mark.e2e

CYCLES = 3


def open_descriptors() -> dict[int, str]:
    """This process's open descriptors and what each points to."""
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            found[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # closed between listing and reading (the listing's own descriptor)
            continue
    return found


def database_descriptors(database_url: str) -> list[str]:
    """Descriptors on the SQLite file (hub.db, -wal, -shm); none for PostgreSQL (sockets)."""
    if not database_url.startswith("sqlite"):
        return []
    path = database_url.split("///", 1)[1]
    return sorted(target for target in open_descriptors().values() if target.startswith(path))


def server_connections(request: pytest.FixtureRequest, database_url: str) -> int:
    """Connections to the hub's PostgreSQL database other than this check's own (0 for SQLite)."""
    if not database_url.startswith("postgresql"):
        return 0
    server: TempPostgres = request.getfixturevalue("postgres_server")
    with psycopg.connect(server.url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database_url.rsplit("/", 1)[1],),
        ).fetchone()
    return int(row[0]) if row else 0


def one_cycle(harness: HubHarness, post: SimulatedPost, cycle: int) -> None:
    """Start the hub, use every store from several threads, stop it."""
    harness.start()
    try:
        assert harness.service is not None
        service = harness.service
        wait_for(lambda: service.registry.state(post.device_id).online, timeout=20, what="post online")
        post.press()
        alert = wait_for(
            lambda: [a for a in service.alerts.all() if a.is_open], timeout=20, what=f"cycle {cycle}: alert raised"
        )[0]
        with harness.client("operator") as client:
            acked = client.post(f"/api/alerts/{alert.id}/ack", json={})
            assert acked.status_code == 200, acked.text
            assert client.get("/api/events", params={"limit": 10}).json()["total"] >= cycle
            assert any(a["id"] == alert.id for a in client.get("/api/alerts").json())
            assert client.get("/api/health").status_code == 200
    finally:
        harness.stop()


def test_hub_stop_closes_every_descriptor_and_connection(
    broker: MosquittoBroker,
    sink: NotificationSink,
    tmp_path: Path,
    database_url: str,
    make_post: Callable[..., SimulatedPost],
    request: pytest.FixtureRequest,
) -> None:
    post = make_post("pos-fd1")
    harness = HubHarness(
        broker,
        sink,
        tmp_path / "hub",
        [post_entry("pos-fd1")],
        [{"name": "officer", "urls": [sink.url("officer")]}],
        extra={"database_url": database_url},
    )
    one_cycle(harness, post, 1)  # the first start imports, warms pools and caches: measured from here
    gc.collect()
    wait_for(lambda: server_connections(request, database_url) == 0, timeout=20, what="PostgreSQL connections closed")
    baseline = open_descriptors()
    assert database_descriptors(database_url) == []

    for cycle in range(2, CYCLES + 2):
        one_cycle(harness, post, cycle)
        gc.collect()
        assert database_descriptors(database_url) == [], f"cycle {cycle}: the database file is still open"
        wait_for(
            lambda: server_connections(request, database_url) == 0,
            timeout=20,
            what=f"cycle {cycle}: every PostgreSQL connection of the stopped hub closed",
        )
    grown = {fd: target for fd, target in open_descriptors().items() if baseline.get(fd) != target}
    # a descriptor or two may be in flight (a log file rotated, a socket being torn down), not one a cycle
    assert len(open_descriptors()) - len(baseline) < CYCLES, f"descriptors grew over {CYCLES} cycles: {grown}"
