"""Ingest: hostile input is rejected and counted, events are idempotent, acks follow the commit."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.ingest.mqtt_session import Inbound
from hub.ingest.pipeline import Ingest
from hub.ingest.ratelimit import DeviceRateLimiter
from hub.posts.registry import PostRegistry
from hub.settings import PostSettings, RateLimitSettings
from hub.storage.eventlog import EventLogWriter
from hub.storage.events import Record, TinyEventStore
from kamling.protocol import Event, EventKind, decode_event, new_event_id
from tests.support import wait_for

DEVICES = ["pos-rw01", "pos-rw02"]
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


class FakeAlerts:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.offline: list[str] = []
        self.cleared: list[str] = []

    def handle_event(self, event: Event) -> None:
        self.events.append(event.id)

    def post_offline(self, device: str) -> None:
        self.offline.append(device)

    def clear_condition(self, device: str, kind: Any, detail: str) -> None:
        self.cleared.append(device)


class MemoryStore:
    """The EventStore interface in memory; can hold commits until released."""

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        self.gate = threading.Event()
        self.gate.set()

    def open(self) -> None: ...
    def close(self) -> None: ...

    def append(self, records: Sequence[Record]) -> list[Record]:
        self.gate.wait(10)
        added = [r for r in records if r["id"] not in self.records]
        for r in added:
            self.records[r["id"]] = r
        return added

    def contains(self, event_id: str) -> bool:
        return event_id in self.records

    def get(self, event_id: str) -> Record | None:
        return self.records.get(event_id)

    def query(self, query: Any) -> Any: ...

    def last_seqs(self) -> dict[str, int]:
        return {}


class SyncWriter:
    """Commits at submit: deterministic, for the fuzzer."""

    def __init__(self, store: Any, on_committed: Callable[..., None], max_batch: int = 500) -> None:
        self.store, self.on_committed = store, on_committed

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def backlog(self) -> int:
        return 0

    def submit(self, record: Record) -> None:
        self.on_committed([record], self.store.append([record]))


def make_ingest(
    store: Any, writer: Callable[..., Any] = SyncWriter
) -> tuple[Ingest, list[tuple[str, bytes]], FakeAlerts]:
    published: list[tuple[str, bytes]] = []
    alerts = FakeAlerts()
    registry = PostRegistry([PostSettings(device_id=d, name=d) for d in DEVICES])
    unlimited = DeviceRateLimiter(RateLimitSettings(rate=1e9, burst=1e9, panic_rate=1e9, panic_burst=1e9))
    ingest = Ingest(
        queue.Queue(),
        registry,
        store,
        writer,
        alerts,
        lambda t, p: published.append((t, p)),  # type: ignore[arg-type]
        limiter=unlimited,
        clock=lambda: NOW,
    )
    return ingest, published, alerts


class Settled:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def inbound(topic: str, payload: bytes, settle: Settled | None = None) -> Inbound:
    return Inbound(topic, payload, 0.0, False, settle)


def event_payload(device: str = "pos-rw01", seq: int = 1, **over: Any) -> bytes:
    raw = {"id": new_event_id(), "device": device, "seq": seq, "kind": "panic", "ts": "2026-11-22T15:00:00Z"}
    raw.update(over)
    return json.dumps(raw).encode()


BAD = [
    ("kamling/v1/pos-rw01/event", b"{not json", "bad_json"),
    ("kamling/v1/pos-rw01/event", b"\xff\xfe", "bad_json"),
    ("kamling/v1/pos-rw01/event", b"[]", "schema"),
    ("kamling/v1/pos-rw01/event", event_payload(seq=0), "schema"),
    ("kamling/v1/pos-rw01/event", event_payload(kind="nuke"), "schema"),
    ("kamling/v1/pos-rw01/event", event_payload(ts="2026-11-22T15:00:00"), "schema"),  # no zone
    ("kamling/v1/pos-rw01/event", event_payload(extra=1), "schema"),
    ("kamling/v1/pos-rw01/event", event_payload(device="pos-rw02"), "device_mismatch"),
    ("kamling/v1/pos-rw01/event", b"{" + b" " * 20_000 + b"}", "too_large"),
    ("kamling/v1/pos-zz99/event", event_payload(device="pos-zz99"), "unknown_device"),
    ("kamling/v1/pos-rw01/ack", b'{"ids": ["x"]}', "unexpected_channel"),
    ("kamling/v1/POS/event", b"{}", "bad_topic"),
    ("kamling/v1/pos-rw01/event/extra", b"{}", "bad_topic"),
    ("kamling/v2/pos-rw01/event", b"{}", "bad_topic"),
    ("kamling/v1/pos-rw01/snapshot/01H", b"GIF89a", "not_jpeg"),
    ("kamling/v1/pos-rw01/status", b'{"state": "melting"}', "schema"),
]


@pytest.mark.parametrize(("topic", "payload", "reason"), BAD)
def test_bad_input_is_rejected_counted_and_settled(topic: str, payload: bytes, reason: str) -> None:
    store = MemoryStore()
    ingest, published, alerts = make_ingest(store)
    ingest.snapshots = type("Snaps", (), {"save": lambda *a: None})()
    settle = Settled()
    ingest.handle(inbound(topic, payload, settle))
    assert ingest.rejected == {reason: 1}
    assert store.records == {} and published == [] and alerts.events == []
    assert settle.count == 1  # rejected messages are PUBACKed: the broker must not resend them forever


def test_duplicate_is_stored_once_and_acked_again() -> None:
    store = MemoryStore()
    ingest, published, alerts = make_ingest(store)
    payload = event_payload()
    first, second = Settled(), Settled()
    ingest.handle(inbound("kamling/v1/pos-rw01/event", payload, first))
    ingest.handle(inbound("kamling/v1/pos-rw01/event", payload, second))
    assert len(store.records) == 1 and ingest.accepted == 1 and ingest.duplicates == 1
    assert len(alerts.events) == 1
    assert [t for t, _ in published] == ["kamling/v1/pos-rw01/ack"] * 2
    assert first.count == second.count == 1


def test_seq_gaps_are_counted_per_device() -> None:
    ingest, _, _ = make_ingest(MemoryStore())
    for seq in (1, 2, 5, 6, 9):
        ingest.handle(inbound("kamling/v1/pos-rw01/event", event_payload(seq=seq)))
    ingest.handle(inbound("kamling/v1/pos-rw02/event", event_payload("pos-rw02", seq=1)))
    assert ingest.seq_gaps == {"pos-rw01": 4}
    assert ingest.registry.state("pos-rw01").seq_gaps == 4


def test_a_post_clock_far_from_the_hubs_is_stored_and_paged_but_flagged() -> None:
    """A wrong clock never costs a panic: accepted, alerted, stored, with the skew marked and counted."""
    store = MemoryStore()
    ingest, _, alerts = make_ingest(store)
    ahead = (NOW + timedelta(days=2)).isoformat()
    behind = (NOW - timedelta(days=800)).isoformat()
    fine = (NOW - timedelta(hours=3)).isoformat()
    for seq, ts in ((1, ahead), (2, behind), (3, fine)):
        ingest.handle(inbound("kamling/v1/pos-rw01/event", event_payload(seq=seq, ts=ts)))
    assert len(alerts.events) == 3 and len(store.records) == 3
    skews = {r["seq"]: r.get("clock_skew_s") for r in store.records.values()}
    assert skews[1] == pytest.approx(2 * 86400, abs=1) and skews[2] == pytest.approx(-800 * 86400, abs=1)
    assert skews[3] is None
    assert ingest.clock_skewed == {"pos-rw01": 2}


def test_alert_runs_before_commit_and_ack_waits_for_commit(tmp_path: Path) -> None:
    store = MemoryStore()
    store.gate.clear()  # the disk is slow: the commit hangs
    ingest, published, alerts = make_ingest(store, EventLogWriter)
    ingest.writer.start()
    try:
        settle = Settled()
        payload = event_payload()
        ingest.handle(inbound("kamling/v1/pos-rw01/event", payload, settle))
        assert len(alerts.events) == 1  # the alert path did not wait for the disk
        assert published == [] and settle.count == 0  # nothing acked before the commit
        store.gate.set()
        wait_for(lambda: published, what="ack after commit")
        assert json.loads(published[0][1])["ids"] == [json.loads(payload)["id"]]
        wait_for(lambda: settle.count == 1, what="PUBACK after commit")
    finally:
        ingest.writer.stop()


def test_committed_events_survive_in_the_real_store(tmp_path: Path) -> None:
    store = TinyEventStore(tmp_path / "events")
    store.open()
    ingest, published, _ = make_ingest(store, EventLogWriter)
    ingest.writer.start()
    payloads = [event_payload(seq=n) for n in range(1, 51)]
    for p in payloads:
        ingest.handle(inbound("kamling/v1/pos-rw01/event", p))
    wait_for(lambda: sum(len(json.loads(p)["ids"]) for _, p in published) == 50, what="50 acks")
    ingest.writer.stop()
    store.close()
    reopened = TinyEventStore(tmp_path / "events")
    reopened.open()
    assert [r["seq"] for r in reopened.scan()] == list(range(1, 51))


# -- fuzzing ------------------------------------------------------------------------------
_segment = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_topics = st.one_of(
    st.builds("/".join, st.lists(_segment, max_size=6)),
    st.builds(
        lambda d, c, s: "/".join(["kamling", "v1", d, c, *s]),
        st.sampled_from([*DEVICES, "pos-zz99", "", "+", "#"]),
        st.sampled_from(["event", "status", "health", "snapshot", "ack", "cmd", "x"]),
        st.lists(_segment, max_size=2),
    ),
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
_event_like = st.fixed_dictionaries(
    {
        "id": st.one_of(st.just(None), st.text(max_size=30)).map(lambda v: v if v is not None else new_event_id()),
        "device": st.sampled_from([*DEVICES, "pos-zz99", "", "POS"]),
        "seq": st.one_of(st.integers(-5, 2**70), st.text(max_size=5), st.none()),
        "kind": st.sampled_from([*[k.value for k in EventKind], "x", ""]),
        "ts": st.sampled_from(
            ["2026-11-22T15:00:00Z", "2026-11-22T15:00:00", "yesterday", "2026-11-22T15:00:00+07:00"]
        ),
    },
    optional={"data": _json, "test": _json, "extra": _json},
)
_payloads = st.one_of(
    st.binary(max_size=300),
    _json.map(lambda v: json.dumps(v).encode()),
    _event_like.map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(st.tuples(_topics, _payloads), min_size=1, max_size=20))
def test_fuzzed_messages_never_crash_ingest_nor_store_anything_invalid(messages: list[tuple[str, bytes]]) -> None:
    store = MemoryStore()
    ingest, published, _ = make_ingest(store)
    ingest.snapshots = type("Snaps", (), {"save": lambda *a: None})()
    settles = []
    for topic, payload in messages:
        settle = Settled()
        settles.append(settle)
        ingest.handle(inbound(topic, payload, settle))  # must not raise
    assert ingest.rejected.get("internal_error", 0) == 0
    assert all(s.count == 1 for s in settles)  # every message settled exactly once
    for record in store.records.values():
        event = decode_event(
            record["device"], json.dumps({k: v for k, v in record.items() if k != "received_at"}).encode()
        )
        assert event.device in DEVICES
    for topic, _payload in published:
        assert topic.split("/")[2] in DEVICES and topic.endswith("/ack")


@pytest.mark.e2e
def test_seq_gaps_show_in_api_health(make_hub: Callable[..., Any]) -> None:
    from tests.support import post_entry

    harness = make_hub([post_entry("pos-rw01"), post_entry("pos-rw02")])
    ingest = harness.service.ingest
    for seq in (1, 2, 6):  # seqs 3-5 never arrived
        ingest.handle(inbound("kamling/v1/pos-rw01/event", event_payload(seq=seq)))
    ingest.handle(inbound("kamling/v1/pos-rw02/event", event_payload("pos-rw02", seq=1)))
    with harness.client(role=None) as api:
        health = api.get("/api/health")
    assert health.status_code == 200
    assert health.json()["seq_gaps"] == {"pos-rw01": 3}
