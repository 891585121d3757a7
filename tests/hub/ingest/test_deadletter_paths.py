"""Issue 18: a message that passes validation and then fails in the hub is dead-lettered and PUBACKed;
its id never stays pending; resends are PUBACKed and counted; other posts' events keep flowing."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hub.alerting.rules import HUB_DEVICE, AlertKind, Severity
from hub.alerting.service import AlertService
from hub.alerting.store import AlertRepository
from hub.ingest.mqtt_session import HubMqtt, Inbound
from hub.ingest.poison import PoisonWatch
from hub.ingest.watchdog import IngestWatchdog
from hub.paging.notify import RecordingNotifier
from hub.paging.pager import ThreadPager
from hub.settings import HubSettings
from hub.storage.deadletters import DeadLetter
from hub.storage.eventlog import EventLogWriter
from hub.storage.events import Record, TinyEventStore
from kamling.protocol import Event
from tests.hub.ingest.test_pipeline import MemoryStore, Settled, event_payload, make_ingest
from tests.support import post_entry, wait_for

TOPIC_1 = "kamling/v1/pos-rw01/event"
TOPIC_2 = "kamling/v1/pos-rw02/event"


def event_id(payload: bytes) -> str:
    return str(json.loads(payload)["id"])


def inbound(topic: str, payload: bytes, settle: Settled | None = None, received: float | None = None) -> Inbound:
    return Inbound(topic, payload, time.monotonic() if received is None else received, False, settle)


def poison_serialiser(monkeypatch: pytest.MonkeyPatch, poisoned: str, *, raise_now: bool) -> None:
    """The red team's trigger, simulated: serialising one event goes wrong. raise_now: the serialiser raises;
    else it returns a record the store cannot write (a set is not JSON), which fails in the log commit."""
    original = Event.model_dump

    def dump(self: Event, *args: Any, **kwargs: Any) -> dict[str, Any]:
        record = original(self, *args, **kwargs)
        if self.id == poisoned:
            if raise_now:
                raise ValueError("serialiser exploded on this event")
            record["data"] = {"bad": {1, 2}}
        return record

    monkeypatch.setattr(Event, "model_dump", dump)


def acked_ids(published: list[tuple[str, bytes]], device: str) -> list[str]:
    return [i for t, p in published if t == f"kamling/v1/{device}/ack" for i in json.loads(p)["ids"]]


def test_a_record_the_store_cannot_write_is_dead_lettered_and_its_batch_still_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TinyEventStore(tmp_path / "events")
    store.open()
    ingest, published, _ = make_ingest(store, EventLogWriter)
    poison = event_payload("pos-rw01", seq=1)
    poison_serialiser(monkeypatch, event_id(poison), raise_now=False)
    others = [event_payload("pos-rw02", seq=n) for n in range(1, 6)]
    settles = [Settled() for _ in range(6)]
    # All six are queued before the writer starts: they share one batch, as under load.
    ingest.handle(inbound(TOPIC_2, others[0], settles[0]))
    ingest.handle(inbound(TOPIC_1, poison, settles[1]))
    for payload, settle in zip(others[1:], settles[2:], strict=True):
        ingest.handle(inbound(TOPIC_2, payload, settle))
    ingest.writer.start()
    try:
        wait_for(lambda: all(s.count == 1 for s in settles), what="every message PUBACKed")
        assert ingest._pending == {}  # nothing left pending
        assert sorted(r["id"] for r in store.scan()) == sorted(event_id(p) for p in others)
        assert not store.contains(event_id(poison))
        letters, total = ingest.dead_letters.page()
        assert total == 1 and ingest.dead_lettered == 1 and ingest.writer.poisoned == 1
        letter = letters[0]
        assert letter.event_id == event_id(poison) and letter.device == "pos-rw01" and letter.topic == TOPIC_1
        assert letter.reason == "commit_failed" and letter.error_class == "builtins.TypeError"
        assert letter.payload == poison.decode()  # the raw payload, not the broken record
        wait_for(lambda: event_id(poison) in acked_ids(published, "pos-rw01"), what="the post told to forget it")

        # A thousand resends: each PUBACKed at once and counted, none stored, one dead letter.
        resends = [Settled() for _ in range(1000)]
        for settle in resends:
            ingest.handle(inbound(TOPIC_1, poison, settle))
        assert all(s.count == 1 for s in resends)
        assert ingest.dead_letter_resends == 1000 and ingest.dead_letters.count() == 1
        assert ingest._pending == {} and not store.contains(event_id(poison))

        # Another post's panic still flows.
        later, settle = event_payload("pos-rw02", seq=6), Settled()
        ingest.handle(inbound(TOPIC_2, later, settle))
        wait_for(lambda: settle.count == 1 and store.contains(event_id(later)), what="a later event committed")
    finally:
        ingest.writer.stop()
        store.close()
    reopened = TinyEventStore(tmp_path / "events")
    reopened.open()
    assert len(reopened.scan()) == 6 and not reopened.contains(event_id(poison))


def test_a_failure_while_handling_is_dead_lettered_and_settled_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore()
    ingest, published, alerts = make_ingest(store)
    poison = event_payload("pos-rw01", seq=1)
    poison_serialiser(monkeypatch, event_id(poison), raise_now=True)
    first = Settled()
    ingest.handle(inbound(TOPIC_1, poison, first))
    assert first.count == 1 and ingest._pending == {}
    assert alerts.events == [event_id(poison)]  # the alert path ran before the failure
    letter = ingest.dead_letters.page()[0][0]
    assert letter.reason == "handle_failed" and letter.error_class == "builtins.ValueError"
    assert "serialiser exploded" in letter.error and letter.payload == poison.decode()
    assert event_id(poison) in acked_ids(published, "pos-rw01")
    assert "internal_error" not in ingest.rejected

    for _ in range(3):
        again = Settled()
        ingest.handle(inbound(TOPIC_1, poison, again))
        assert again.count == 1
    assert ingest.dead_letter_resends == 3 and ingest.dead_letters.count() == 1 and store.records == {}
    assert len(alerts.events) == 1  # resends raise nothing

    other, settle = event_payload("pos-rw02", seq=1), Settled()
    ingest.handle(inbound(TOPIC_2, other, settle))
    assert settle.count == 1 and event_id(other) in store.records


class PoisonedStore(MemoryStore):
    """A store whose commit is held at a gate, then refuses one event id (anything but an OSError)."""

    def __init__(self, poisoned: str) -> None:
        super().__init__()
        self.poisoned = poisoned

    def append(self, records: Sequence[Record]) -> list[Record]:
        self.gate.wait(10)
        if any(r["id"] == self.poisoned for r in records):
            raise RecursionError("maximum recursion depth exceeded while encoding a JSON object")
        return super().append(records)


def test_resends_held_while_pending_are_all_settled_when_the_commit_fails() -> None:
    poison = event_payload("pos-rw01", seq=1)
    store = PoisonedStore(event_id(poison))
    store.gate.clear()
    ingest, _, _ = make_ingest(store, EventLogWriter)
    ingest.writer.start()
    try:
        held = [Settled() for _ in range(4)]
        for settle in held:
            ingest.handle(inbound(TOPIC_1, poison, settle))
        assert [s.count for s in held] == [0, 0, 0, 0]  # waiting for the commit, as they should
        store.gate.set()
        wait_for(lambda: all(s.count == 1 for s in held), what="the held resends PUBACKed")
        assert ingest._pending == {} and ingest.dead_letter_resends == 3 and ingest.dead_letters.count() == 1
        assert ingest.dead_letters.page()[0][0].error_class == "builtins.RecursionError"
    finally:
        ingest.writer.stop()


def test_the_writer_splits_a_failing_batch_down_to_the_bad_records() -> None:
    bad = {"r13", "r77"}

    class Picky(MemoryStore):
        calls = 0

        def append(self, records: Sequence[Record]) -> list[Record]:
            self.calls += 1
            if any(r["id"] in bad for r in records):
                raise TypeError("Object of type set is not JSON serializable")
            return super().append(records)

    store = Picky()
    committed: list[str] = []
    failed: list[tuple[str, str]] = []
    writer = EventLogWriter(store, lambda batch, _added: committed.extend(r["id"] for r in batch), max_batch=100)  # type: ignore[arg-type]
    writer.on_failed = lambda record, exc: failed.append((record["id"], type(exc).__name__))
    for n in range(100):
        writer.submit({"id": f"r{n}", "device": "pos-rw01", "seq": n + 1})
    writer.start()
    try:
        wait_for(lambda: len(committed) + len(failed) == 100, what="every record settled")
        assert sorted(failed) == [("r13", "TypeError"), ("r77", "TypeError")]
        assert sorted(committed) == sorted(f"r{n}" for n in range(100) if f"r{n}" not in bad)
        assert writer.poisoned == 2 and store.calls < 40  # halves, not one commit per record
        writer.submit({"id": "later", "device": "pos-rw02", "seq": 1})
        wait_for(lambda: "later" in committed, what="the writer still runs")
    finally:
        writer.stop()


def test_oldest_unacked_age_counts_queued_handled_and_pending_messages() -> None:
    store = MemoryStore()
    store.gate.clear()
    ingest, _, _ = make_ingest(store, EventLogWriter)
    ingest.writer.start()
    try:
        now = time.monotonic()
        assert ingest.oldest_unacked_age(now) == 0.0
        ingest.inbox.put(inbound(TOPIC_2, event_payload("pos-rw02"), received=now - 5))
        assert ingest.oldest_unacked_age(now) == pytest.approx(5.0)
        settle = Settled()
        ingest.handle(inbound(TOPIC_1, event_payload(), settle, received=now - 30))  # waits for its commit
        assert ingest.oldest_unacked_age(now) == pytest.approx(30.0)
        store.gate.set()
        wait_for(lambda: settle.count == 1, what="commit")
        assert ingest.oldest_unacked_age(now) == pytest.approx(5.0)  # the queued one is left
    finally:
        ingest.writer.stop()


# -- alerts -------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def alert_service(tmp_path: Path, notifier: RecordingNotifier, **extra: Any) -> AlertService:
    """Officer covers every village: a hub alert that followed the post rules would page them, not the desk."""
    settings = HubSettings(
        mqtt_password="unused",
        data_dir=tmp_path,
        posts=[post_entry("pos-rw01")],
        officers=[{"name": "officer", "urls": ["json://x/officer"]}],
        **extra,
    )
    posts = {p.device_id: p for p in settings.posts}
    hub_post = settings.posts[0].model_copy(update={"device_id": HUB_DEVICE, "name": "Hub Polsek", "village": ""})
    alerts = AlertService(
        settings,
        lambda d: hub_post if d == HUB_DEVICE else posts.get(d),
        ThreadPager(notifier),
        lambda *_: None,
        AlertRepository(tmp_path / "alerts.json"),
        run_timer=False,
    )
    alerts.start()
    return alerts


def letter(device: str = "pos-rw01", n: int = 0) -> DeadLetter:
    return DeadLetter(
        f"event:E{n}",
        "2026-11-22T15:00:00+00:00",
        device,
        TOPIC_1,
        f"E{n}",
        "commit_failed",
        "builtins.TypeError",
        "boom",
        "{}",
        "utf-8",
        2,
        False,
    )


def test_three_dead_letters_within_the_window_raise_one_poison_alert_that_later_ones_join(tmp_path: Path) -> None:
    notifier = RecordingNotifier()
    alerts = alert_service(tmp_path, notifier)
    clock = Clock()
    watch = PoisonWatch(alerts, count=3, window=600, clock=clock)
    try:
        watch.observe(letter(n=1))
        clock.now += 601  # the first one falls out of the window
        watch.observe(letter(n=2))
        watch.observe(letter(n=3))
        assert alerts.open_for("pos-rw01", AlertKind.POISON) is None
        watch.observe(letter(n=4))
        alert = alerts.open_for("pos-rw01", AlertKind.POISON)
        assert alert is not None and alert.severity is Severity.MAJOR
        assert alert.details["dead_letters_recent"] == 3
        wait_for(lambda: len(notifier.sent) == 1, what="one page")
        assert "PESAN POS GAGAL DIPROSES" in notifier.sent[0][1]
        watch.observe(letter(n=5))
        joined = alerts.open_for("pos-rw01", AlertKind.POISON)
        assert joined is not None and joined.id == alert.id and joined.timeline[-1].action == "updated"
        assert len([a for a in alerts.all() if a.kind is AlertKind.POISON]) == 1
        watch.observe(letter(device=None, n=6))  # type: ignore[arg-type]  (not from a known post)
        assert len([a for a in alerts.all() if a.kind is AlertKind.POISON]) == 1
    finally:
        alerts.stop()


class FakeIngest:
    def __init__(self) -> None:
        self.age = 0.0
        self.running = True

    def oldest_unacked_age(self, now: float | None = None) -> float:
        return self.age

    def alive(self) -> bool:
        return self.running


def test_the_watchdog_pages_the_duty_desk_once_per_stuck_episode(tmp_path: Path) -> None:
    notifier = RecordingNotifier()
    alerts = alert_service(tmp_path, notifier, fallback_urls=["json://x/piket"])
    ingest = FakeIngest()
    dog = IngestWatchdog(ingest, alerts, stuck_after=10.0, queue_depth=lambda: 7)
    try:
        ingest.age = 9.0
        assert dog.check() is False and alerts.open_for(HUB_DEVICE, AlertKind.INGEST_STUCK) is None
        ingest.age = 11.0
        assert dog.check() is True
        first = alerts.open_for(HUB_DEVICE, AlertKind.INGEST_STUCK)
        assert first is not None and first.severity is Severity.CRITICAL and first.details["queue_depth"] == 7
        for _ in range(5):
            dog.check()
        wait_for(lambda: len(notifier.sent) == 1, what="the duty desk paged")
        urls, title, _body = notifier.sent[0]
        assert list(urls) == ["json://x/piket"] and "HUB TIDAK MENERIMA KEJADIAN" in title
        ingest.age = 0.0
        assert dog.check() is False
        resolved = alerts.get(first.id)
        assert resolved is not None and not resolved.is_open
        ingest.running = False  # a dead worker is a new episode
        assert dog.check() is True
        wait_for(lambda: len(notifier.sent) == 2, what="a page for the second episode")
        assert dog.episodes == 2
    finally:
        alerts.stop()


def test_a_message_paho_hands_over_never_raises_into_its_loop() -> None:
    settings = HubSettings(mqtt_password="unused")
    session = HubMqtt(settings, SimpleNamespace(put=lambda item: None))  # type: ignore[arg-type]
    acked: list[tuple[int, int]] = []
    session.client = SimpleNamespace(ack=lambda mid, qos: acked.append((mid, qos)))  # type: ignore[assignment]
    session.connected = True

    def admit(_topic: str, _payload: bytes) -> bool:
        raise RuntimeError("bug in the rate limiter")

    session.admit = admit
    message = SimpleNamespace(topic=TOPIC_1, payload=b"{}", qos=1, mid=42, retain=False)
    session._on_message(None, None, message)  # type: ignore[arg-type]
    assert acked == [(42, 1)] and session.failed == 1


def test_a_failing_ack_publish_still_settles_committed_messages() -> None:
    store = MemoryStore()
    ingest, _, _ = make_ingest(store, EventLogWriter)

    def broken_publish(_topic: str, _payload: bytes) -> None:
        raise OSError("socket gone")

    ingest.publish = broken_publish
    ingest.writer.start()
    try:
        settle = Settled()
        ingest.handle(inbound(TOPIC_1, event_payload(), settle))
        wait_for(lambda: settle.count == 1, what="PUBACK after the commit despite the failed ack")
        assert ingest._pending == {}
    finally:
        ingest.writer.stop()


def test_threads_report_alive() -> None:
    ingest, _, _ = make_ingest(MemoryStore(), EventLogWriter)
    assert not ingest.alive()
    ingest.start()
    try:
        assert ingest.alive()
    finally:
        ingest.stop()
    assert not ingest.alive()
