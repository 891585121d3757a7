"""SnapshotGate: a snapshot is stored only for an event of its own post; each ends stored or rejected."""

from __future__ import annotations

import json
import queue
from collections import Counter
from typing import Any

import pytest

from hub.ingest.mqtt_session import Inbound
from hub.ingest.pipeline import Ingest
from hub.ingest.ratelimit import DeviceRateLimiter
from hub.ingest.snapshot_gate import SnapshotGate
from hub.posts.registry import PostRegistry
from hub.settings import PostSettings, RateLimitSettings
from kamling.protocol import ProtocolError, new_event_id
from tests.support import VirtualClock

JPEG = b"\xff\xd8\xff" + b"x" * 97


class Harness:
    """A gate over an in-memory 'event store' and 'snapshot store', with rejections counted."""

    def __init__(self, **limits: Any) -> None:
        self.events: dict[str, str] = {}  # event id -> device, as the event store would answer
        self.saved: list[tuple[str, str]] = []
        self.rejected: Counter[str] = Counter()
        self.clock = VirtualClock()
        self.gate = SnapshotGate(self.save, self.events.get, self.reject, clock=self.clock, **limits)

    def save(self, device: str, event_id: str, jpeg: bytes) -> None:
        self.saved.append((device, event_id))

    def reject(self, reason: str, topic: str, detail: str) -> None:
        assert topic.startswith("kamling/v1/") and "/snapshot/" in topic
        self.rejected[reason] += 1

    def commit(self, device: str, event_id: str) -> None:
        self.events[event_id] = device
        self.gate.committed([{"id": event_id, "device": device}])


def test_a_snapshot_of_a_stored_event_of_its_own_post_is_stored_at_once() -> None:
    h = Harness()
    event_id = new_event_id()
    h.events[event_id] = "pos-rw01"
    assert h.gate.offer("pos-rw01", event_id, JPEG) == "stored"
    assert h.saved == [("pos-rw01", event_id)] and not h.rejected


def test_a_snapshot_naming_another_posts_event_is_rejected() -> None:
    h = Harness()
    event_id = new_event_id()
    h.events[event_id] = "pos-rw01"
    with pytest.raises(ProtocolError) as caught:
        h.gate.offer("pos-evil", event_id, JPEG)
    assert caught.value.reason == "snapshot_not_own_event" and h.saved == []


def test_a_snapshot_that_arrives_before_its_event_is_stored_when_the_event_commits() -> None:
    h = Harness()
    event_id = new_event_id()
    assert h.gate.offer("pos-rw01", event_id, JPEG) == "held"
    assert h.gate.offer("pos-rw01", event_id, JPEG) == "replay"  # resent: still one outcome
    h.gate.run_due()
    assert h.saved == [] and h.gate.pending("pos-rw01") == 1
    h.clock.sleep(29)
    h.commit("pos-rw01", event_id)
    assert h.saved == []  # the commit (writer thread) only releases it
    h.gate.run_due()  # the ingest loop stores it
    assert h.saved == [("pos-rw01", event_id)] and h.gate.pending() == 0 and not h.rejected
    h.clock.sleep(60)
    h.gate.run_due()
    assert not h.rejected  # nothing left to expire


def test_an_orphan_snapshot_is_rejected_when_the_window_passes() -> None:
    h = Harness(window=30.0)
    orphan = new_event_id()
    h.gate.offer("pos-evil", orphan, JPEG)
    h.clock.sleep(29.9)
    h.gate.run_due()
    assert not h.rejected
    h.clock.sleep(0.2)
    h.gate.run_due()
    assert h.rejected == {"snapshot_orphan": 1} and h.gate.pending() == 0 and h.saved == []
    h.commit("pos-evil", orphan)  # the event after all, too late: nothing is stored
    h.gate.run_due()
    assert h.saved == []


def test_a_held_snapshot_for_an_event_of_another_post_is_rejected_at_the_commit() -> None:
    h = Harness()
    event_id = new_event_id()
    h.gate.offer("pos-evil", event_id, JPEG)  # guesses an id before pos-rw01's event commits
    h.gate.offer("pos-rw01", event_id, JPEG)
    h.commit("pos-rw01", event_id)
    h.gate.run_due()
    assert h.saved == [("pos-rw01", event_id)] and h.rejected == {"snapshot_not_own_event": 1}


def test_the_pending_area_is_bounded_per_post_and_in_bytes() -> None:
    h = Harness(per_post=2, max_bytes=5 * len(JPEG))
    for _ in range(2):
        h.gate.offer("pos-evil", new_event_id(), JPEG)
    with pytest.raises(ProtocolError) as caught:
        h.gate.offer("pos-evil", new_event_id(), JPEG)
    assert caught.value.reason == "snapshot_pending_full"
    assert h.gate.offer("pos-rw01", new_event_id(), JPEG) == "held"  # another post still has room
    h.gate.offer("pos-rw02", new_event_id(), JPEG)
    h.gate.offer("pos-rw02", new_event_id(), JPEG)
    with pytest.raises(ProtocolError):
        h.gate.offer("pos-rw03", new_event_id(), JPEG)  # 5 held: the byte budget of all posts


def test_a_commit_between_the_store_lookup_and_the_hold_is_not_missed() -> None:
    """The writer thread commits the event right after the store said 'not there': stored, not orphaned."""
    h = Harness()
    event_id = new_event_id()

    def owner_then_commit(asked: str) -> str | None:
        answer = h.events.get(asked)
        h.commit("pos-rw01", event_id)  # lands while offer() is between its two looks
        return answer

    h.gate._owner = owner_then_commit
    assert h.gate.offer("pos-rw01", event_id, JPEG) == "stored"
    assert h.saved == [("pos-rw01", event_id)] and h.gate.pending() == 0


def test_a_store_refusal_at_release_is_counted_with_its_reason() -> None:
    h = Harness()
    event_id = new_event_id()

    def refuse(device: str, event_id: str, jpeg: bytes) -> None:
        raise ProtocolError("snapshot_quota_full", "pinned")

    h.gate._save = refuse
    h.gate.offer("pos-rw01", event_id, JPEG)
    h.commit("pos-rw01", event_id)
    h.gate.run_due()
    assert h.rejected == {"snapshot_quota_full": 1} and h.gate.pending() == 0


# -- through Ingest.handle: the MQTT message is settled at once, whatever the outcome ------------


class Snapshots:
    def __init__(self) -> None:
        self.saved: list[tuple[str, str]] = []

    def save(self, device: str, event_id: str, jpeg: bytes) -> bool:
        self.saved.append((device, event_id))
        return True


class Events:
    """The EventStore calls ingest makes, committing synchronously (like the pipeline tests' SyncWriter)."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    def contains(self, event_id: str) -> bool:
        return event_id in self.records

    def get(self, event_id: str) -> dict[str, Any] | None:
        return self.records.get(event_id)

    def last_seqs(self) -> dict[str, int]:
        return {}


class SyncWriter:
    def __init__(self, store: Events, on_committed: Any, max_batch: int = 500) -> None:
        self.store, self.on_committed = store, on_committed

    def submit(self, record: dict[str, Any]) -> None:
        self.store.records[record["id"]] = record
        self.on_committed([record], [record])


def make_ingest() -> tuple[Ingest, Snapshots]:
    registry = PostRegistry([PostSettings(device_id=d, name=d) for d in ("pos-rw01", "pos-evil")])
    alerts = type("Alerts", (), {"handle_event": lambda self, event: None})()
    unlimited = DeviceRateLimiter(RateLimitSettings(rate=1e9, burst=1e9, panic_rate=1e9, panic_burst=1e9))
    snapshots = Snapshots()
    ingest = Ingest(
        queue.Queue(),
        registry,
        Events(),
        SyncWriter,
        alerts,
        lambda t, p: None,  # type: ignore[arg-type]
        snapshots=snapshots,
        limiter=unlimited,
    )
    return ingest, snapshots


def message(topic: str, payload: bytes, settled: list[str]) -> Inbound:
    return Inbound(topic, payload, 0.0, False, lambda: settled.append(topic))


def event_json(device: str, event_id: str) -> bytes:
    body = {"id": event_id, "device": device, "seq": 1, "kind": "checkin", "ts": "2026-11-22T15:00:00Z"}
    return json.dumps(body).encode()


def test_ingest_settles_a_held_snapshot_at_once_and_stores_it_after_its_event() -> None:
    ingest, snapshots = make_ingest()
    event_id, settled = new_event_id(), []
    ingest.handle(message(f"kamling/v1/pos-rw01/snapshot/{event_id}", JPEG, settled))
    assert len(settled) == 1 and ingest.snapshot_gate.pending("pos-rw01") == 1 and not ingest.rejected
    ingest.handle(message("kamling/v1/pos-rw01/event", event_json("pos-rw01", event_id), settled))
    ingest.snapshot_gate.run_due()
    assert snapshots.saved == [("pos-rw01", event_id)] and len(settled) == 2 and not ingest.rejected


def test_ingest_rejects_snapshots_of_other_posts_events_and_bad_ids_with_reasons() -> None:
    ingest, snapshots = make_ingest()
    event_id, settled = new_event_id(), []
    ingest.handle(message("kamling/v1/pos-rw01/event", event_json("pos-rw01", event_id), settled))
    ingest.handle(message(f"kamling/v1/pos-evil/snapshot/{event_id}", JPEG, settled))
    ingest.handle(message("kamling/v1/pos-evil/snapshot/..%2F..%2Fetc", JPEG, settled))
    ingest.handle(message("kamling/v1/pos-evil/snapshot/01H", b"GIF89a", settled))
    assert ingest.rejected == {"snapshot_not_own_event": 1, "bad_topic": 1, "not_jpeg": 1}
    assert snapshots.saved == [] and len(settled) == 4
