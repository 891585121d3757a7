"""Fault injection with real processes: every event in the hub's log exactly once.

Broker, hub and edge agents run as separate processes; the tests SIGKILL and restart them
(or cut the network) while several posts stream events, then read the hub's store. Per post the
log is in seq order except events the post replayed (tests/fault/rig.py assert_log_exactly_once
says why a replayed older event may legitimately follow newer ones).

Backends: every scenario runs on SQLite and on PostgreSQL (issue 12: the fault scenarios pass on
both, every event exactly once). The broker, edge and network scenarios mostly exercise the broker's
session and the posts' outboxes, but the hub's side of them differs by backend: its acks wait on the
store's commit, its offline alerts go through the SQL alert repository, and a PostgreSQL connection
meets the same broker restarts and outages as the SQLite file does not.
"""

from __future__ import annotations

import random

import pytest

from hub.storage.sql.database import Database
from hub.storage.sql.events import SqlEventStore
from tests.fault.relay import TcpRelay
from tests.fault.rig import Rig, assert_log_exactly_once
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BOTH_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


def _start(rig: Rig, devices: int, count: int, rate: float, port: int | None = None) -> None:
    for n in range(devices):
        rig.add_edge(f"pos-f{n:02d}", count, rate, port=port)
    rig.add_hub().start()
    for edge in rig.edges:
        edge.start()


def _expected(rig: Rig) -> dict[str, int]:
    return {e.device_id: e.count for e in rig.edges}


def _finish_and_check(rig: Rig, timeout: float = 90) -> None:
    rig.wait_all_acked(timeout)
    assert rig.hub is not None
    rig.hub.stop()
    assert_log_exactly_once(rig.hub.store_url, _expected(rig), rig.edges)


def _wait_stored(rig: Rig, at_least: int, timeout: float = 30) -> None:
    wait_for(
        lambda: all(e.stored() >= at_least for e in rig.edges),
        timeout=timeout,
        interval=0.05,
        what=f"every edge stored {at_least} events",
    )


def _offline_alert(rig: Rig, device: str, open_: bool) -> dict | None:
    assert rig.hub is not None
    for alert in rig.hub.alerts():
        if alert["device"] == device and alert["kind"] == "offline" and alert["open"] == open_:
            return alert
    return None


@BOTH_BACKENDS
def test_broker_sigkill_and_restart_mid_stream(rig: Rig) -> None:
    _start(rig, devices=3, count=300, rate=100)
    _wait_stored(rig, 80)
    rig.broker.kill()
    _wait_stored(rig, 150)  # the posts keep storing while the broker is dead
    rig.broker.restart()
    _finish_and_check(rig)


@BOTH_BACKENDS
def test_hub_sigkill_and_restart_mid_stream(rig: Rig) -> None:
    _start(rig, devices=3, count=300, rate=100)
    _wait_stored(rig, 80)
    assert rig.hub is not None
    rig.hub.kill()
    _wait_stored(rig, 150)  # queued in the hub's persistent session at the broker meanwhile
    rig.hub.start()
    _finish_and_check(rig)


@BOTH_BACKENDS
def test_edge_sigkill_mid_stream_then_restart_and_supervision(rig: Rig) -> None:
    _start(rig, devices=2, count=300, rate=100)
    victim = rig.edges[0]
    wait_for(lambda: victim.stored() >= 100, timeout=30, what="victim stored 100 events")
    victim.kill()  # a power cut at the post
    # The broker publishes its Last Will after 1.5x keepalive; the hub raises an offline alert.
    alert = wait_for(lambda: _offline_alert(rig, victim.device_id, True), timeout=40, what="offline alert")
    assert alert["severity"] == "major"
    victim.start()  # power is back: the same outbox, the seq continues
    rig.wait_all_acked(90)
    restored = wait_for(lambda: _offline_alert(rig, victim.device_id, False), timeout=20, what="offline resolved")
    assert restored["id"] == alert["id"] and restored["outcome"] == "restored"
    assert rig.hub is not None
    rig.hub.stop()
    assert_log_exactly_once(rig.hub.store_url, _expected(rig), rig.edges)


@BOTH_BACKENDS
def test_network_outage_of_30_seconds(rig: Rig) -> None:
    relay = TcpRelay(rig.broker.host, rig.broker.port)
    relay.start()
    try:
        _start(rig, devices=2, count=400, rate=20, port=relay.port)
        _wait_stored(rig, 40)
        relay.cut()
        cut_at = _time()
        # Both posts are unreachable: each is marked offline and alerted (the broker's will).
        for edge in rig.edges:
            wait_for(lambda edge=edge: _offline_alert(rig, edge.device_id, True), timeout=40, what="offline alert")
        wait_for(lambda: _time() - cut_at >= 30, timeout=40, interval=0.5, what="30 s of outage")
        relay.restore()
        _finish_and_check(rig, timeout=120)
    finally:
        relay.stop()


@BOTH_BACKENDS
def test_hub_sigkill_during_store_writes_repeatedly_store_always_opens(rig: Rig) -> None:
    rng = random.Random(6)
    _start(rig, devices=3, count=1500, rate=250)
    hub = rig.hub
    assert hub is not None
    for _round in range(5):
        target = hub.health().get("events_accepted", 0) + rng.randint(20, 200)
        wait_for(
            lambda target=target: hub.health().get("events_accepted", 0) >= target,
            timeout=30,
            what="hub committing events",
        )
        hub.kill()  # commits run back to back while posts stream: very likely mid-write
        _assert_store_opens(hub.store_url)
        hub.start()
    _finish_and_check(rig)


def _assert_store_opens(store_url: str) -> None:
    """After a SIGKILL mid-commit the store opens whole (a damaged SQLite file would raise StoreDamaged;
    PostgreSQL rolls the killed connection's open transaction back)."""
    store = SqlEventStore(Database(store_url))
    store.open()
    try:
        records = list(store.scan())
        assert len({r["id"] for r in records}) == len(records)
    finally:
        store.close()


def _time() -> float:
    import time

    return time.monotonic()
