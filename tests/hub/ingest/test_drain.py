"""The ingest worker takes its queue in drains: one store look-up for a drain's event ids, every
message still gets its own definite outcome, and acks still wait for the commit."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.ingest.mqtt_session import Inbound
from hub.ingest.pipeline import Ingest
from hub.ingest.ratelimit import DeviceRateLimiter
from hub.posts.registry import PostRegistry
from hub.settings import PostSettings, RateLimitSettings
from hub.storage.eventlog import EventLogWriter
from hub.storage.sql.database import Database
from hub.storage.sql.events import SqlEventStore
from tests.hub.ingest.test_deadletter_paths import acked_ids, event_id, poison_serialiser
from tests.hub.ingest.test_pipeline import DEVICES, NOW, FakeAlerts, Settled, SyncWriter, event_payload, inbound
from tests.support import wait_for

TOPIC = "kamling/v1/pos-rw01/event"


class CountingStore(SqlEventStore):
    """The real SQL store, counting the look-ups ingest makes."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.bulk: list[set[str]] = []
        self.single: list[str] = []

    def stored_among(self, event_ids: Collection[str]) -> set[str]:
        self.bulk.append(set(event_ids))
        return super().stored_among(event_ids)

    def contains(self, event_id: str) -> bool:
        self.single.append(event_id)
        return super().contains(event_id)


@pytest.fixture
def store(database_url: str) -> Iterator[CountingStore]:
    instance = CountingStore(Database(database_url))
    instance.open()
    yield instance
    instance.close()


def worker(
    store: SqlEventStore, items: list[Inbound], writer: Callable[..., Any] = EventLogWriter
) -> tuple[Ingest, list[tuple[str, bytes]], FakeAlerts]:
    """An Ingest whose queue already holds `items` when its worker starts: they are taken as one drain."""
    inbox: queue.Queue[Inbound] = queue.Queue()
    for item in items:
        inbox.put(item)
    published: list[tuple[str, bytes]] = []
    alerts = FakeAlerts()
    ingest = Ingest(
        inbox,
        PostRegistry([PostSettings(device_id=d, name=d) for d in DEVICES]),
        store,
        writer,
        alerts,  # type: ignore[arg-type]
        lambda t, p: published.append((t, p)),
        limiter=DeviceRateLimiter(RateLimitSettings(rate=1e9, burst=1e9, panic_rate=1e9, panic_burst=1e9)),
        clock=lambda: NOW,
    )
    return ingest, published, alerts


def test_a_drain_gives_every_message_its_own_outcome_with_one_look_up(
    store: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored before, new, the same new event twice, a record the store refuses, hostile bytes: one
    look-up for the drain; the refused record alone is dead-lettered; each copy is settled once."""
    old, new, poison, other = (event_payload(seq=n) for n in (1, 2, 3, 4))
    store.append([{**json.loads(old), "received_at": NOW.isoformat()}])
    poison_serialiser(monkeypatch, event_id(poison), raise_now=False)  # fails in the commit, not before
    payloads = [old, new, new, poison, b"{not json", other]
    settles = [Settled() for _ in payloads]
    ingest, published, alerts = worker(store, [inbound(TOPIC, p, s) for p, s in zip(payloads, settles, strict=True)])
    ingest.start()
    try:
        wait_for(lambda: all(s.count for s in settles), what="every message settled")
        assert [s.count for s in settles] == [1] * len(payloads)
        assert store.bulk == [{event_id(p) for p in (old, new, poison, other)}]  # one look-up for the drain
        assert event_id(new) not in store.single and event_id(other) not in store.single
        assert store.stored_among({event_id(p) for p in (old, new, poison, other)}) == {
            event_id(old),
            event_id(new),
            event_id(other),
        }
        assert ingest.dead_lettered == 1 and ingest.dead_letters.page()[0][0].event_id == event_id(poison)
        assert ingest.accepted == 3 and ingest.duplicates == 2 and ingest.rejected == {"bad_json": 1}
        assert sorted(alerts.events) == sorted(event_id(p) for p in (new, poison, other))  # not the stored one again
        acked = acked_ids(published, "pos-rw01")
        assert {event_id(p) for p in (old, new, poison, other)} <= set(acked)
        assert store.count() == 3
    finally:
        ingest.stop()


def test_an_event_committed_during_its_drain_is_a_duplicate_when_it_comes_again(store: CountingStore) -> None:
    """The look-up said "not stored"; the first copy commits before the second is handled (here at once,
    SyncWriter): the second must be a duplicate (acked again), not a second new event."""
    payload, other = event_payload(seq=1), event_payload(seq=2)
    settles = [Settled(), Settled(), Settled()]
    items = [inbound(TOPIC, p, s) for p, s in zip((payload, other, payload), settles, strict=True)]
    ingest, published, alerts = worker(store, items, SyncWriter)
    ingest.start()
    try:
        wait_for(lambda: all(s.count for s in settles), what="every copy settled")
        assert store.bulk == [{event_id(payload), event_id(other)}]  # both looked up: "not stored"
        assert ingest.accepted == 2 and ingest.duplicates == 1
        assert alerts.events == [event_id(payload), event_id(other)]
        assert acked_ids(published, "pos-rw01") == [event_id(payload), event_id(other), event_id(payload)]
        assert store.count() == 2
    finally:
        ingest.stop()


def test_acks_of_a_drain_wait_for_its_commit(tmp_path: Path) -> None:
    """Many events taken at once: none is acked or PUBACKed before the commit that holds it."""

    class HeldStore(CountingStore):
        def __init__(self, database: Database) -> None:
            super().__init__(database)
            self.release = threading.Event()

        def append(self, records: Any) -> Any:
            self.release.wait(10)
            return super().append(records)

    held = HeldStore(Database(f"sqlite:///{tmp_path / 'hub.db'}"))
    held.open()
    payloads = [event_payload(seq=n) for n in range(1, 41)]
    settles = [Settled() for _ in payloads]
    ingest, published, alerts = worker(held, [inbound(TOPIC, p, s) for p, s in zip(payloads, settles, strict=True)])
    ingest.start()
    try:
        wait_for(lambda: len(alerts.events) == 40, what="all alerted before any commit")
        assert published == [] and not any(s.count for s in settles)
        held.release.set()
        wait_for(lambda: len(acked_ids(published, "pos-rw01")) == 40, what="40 acks after the commit")
        wait_for(lambda: all(s.count == 1 for s in settles), what="40 PUBACKs after the commit")
        assert held.count() == 40
    finally:
        held.release.set()
        ingest.stop()
        held.close()
