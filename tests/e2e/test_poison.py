"""End to end, issue 18: a stolen post's poison message cannot stall the hub for the other posts.

Real Mosquitto, real hub, a real edge agent pressing panic; the hostile post is a bare MQTT client
with its own provisioned credential. To make a real poison event the test monkeypatches the hub's
serialiser (`Event.model_dump`) so that one specific event id produces a record the event store
cannot write (a set is not JSON): the red team's real trigger was such a serialisation failure.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.alerting.rules import HUB_DEVICE
from hub.storage.sql.events import SqlEventStore
from kamling.protocol import Event, EventKind, new_event_id
from poskamling.broker import MosquittoBroker
from poskamling.httpsink import NotificationSink
from tests.support import HubHarness, add_device, post_entry, wait_for

pytestmark = pytest.mark.e2e

HOSTILE, HONEST = "pos-curian", "pos-rw01"
RESENDS = 2000
OPEN_LIMITS = {"rate": 100_000.0, "burst": 100_000.0}  # under its rate limit, as the red team was


def poison_the_serialiser(monkeypatch: pytest.MonkeyPatch, poisoned: str) -> None:
    original = Event.model_dump

    def dump(self: Event, *args: Any, **kwargs: Any) -> dict[str, Any]:
        record = original(self, *args, **kwargs)
        if self.id == poisoned:
            record["data"] = {"unserialisable": {1, 2, 3}}
        return record

    monkeypatch.setattr(Event, "model_dump", dump)


class HostilePost:
    """A bare MQTT client on a provisioned post's credential: publishes what it likes, counts PUBACKs and acks."""

    def __init__(self, broker: MosquittoBroker, device: str) -> None:
        self.device = device
        self.acked_ids: list[str] = []
        self.pubacks = 0
        self._lock = threading.Lock()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv5)
        client.username_pw_set(device, add_device(broker, device))
        client.max_inflight_messages_set(200)
        client.on_publish = self._on_publish
        client.on_message = lambda _c, _u, m: self.acked_ids.extend(json.loads(m.payload)["ids"])
        client.connect(broker.host, broker.port)
        client.subscribe(f"kamling/v1/{device}/ack", qos=1)
        client.loop_start()
        self.client = client

    def _on_publish(self, *_args: Any) -> None:
        with self._lock:
            self.pubacks += 1

    def send(self, payload: bytes, times: int) -> None:
        for _ in range(times):
            self.client.publish(f"kamling/v1/{self.device}/event", payload, qos=1)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_a_poison_event_resent_2000_times_is_dead_lettered_once_and_a_panic_still_pages(
    make_hub: Callable[..., HubHarness],
    make_post: Callable[..., Any],
    broker: MosquittoBroker,
    sink: NotificationSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = make_hub([post_entry(HOSTILE), post_entry(HONEST, "Pos Kamling RW 01")], rate_limit=OPEN_LIMITS)
    assert hub.service is not None
    honest = make_post(HONEST)
    viewer, admin = hub.client("viewer"), hub.client("admin")
    wait_for(lambda: any(p["online"] for p in viewer.get("/api/posts").json()), what="honest post online")

    poison = Event(id=new_event_id(), device=HOSTILE, seq=1, kind=EventKind.CHECKIN, ts=datetime.now(UTC))
    poison_the_serialiser(monkeypatch, poison.id)
    hostile = HostilePost(broker, HOSTILE)
    try:
        hostile.send(poison.to_payload(), 1)
        wait_for(lambda: admin.get("/api/admin/deadletters").json()["total"] == 1, what="the poison dead-lettered")
        hostile.send(poison.to_payload(), RESENDS - 1)  # the red team's resends
        honest.press()  # while they arrive

        page = sink.wait_for(lambda r: r.path == "/officer", timeout=15)
        assert page is not None and "PANIK" in page.body["title"] and "Pos Kamling RW 01" in page.body["title"]
        wait_for(lambda: hostile.pubacks == RESENDS, timeout=60, what="every resend PUBACKed by the hub")
        wait_for(lambda: honest.agent.outbox.depth() == 0, what="the panic committed and acked to its post")
        assert poison.id in hostile.acked_ids  # the post is told to stop resending
    finally:
        hostile.stop()

    letters = admin.get("/api/admin/deadletters").json()
    assert letters["total"] == 1
    letter = letters["items"][0]
    assert letter["event_id"] == poison.id and letter["device"] == HOSTILE and letter["reason"] == "commit_failed"
    assert letter["error_class"] == "builtins.TypeError" and json.loads(letter["payload"])["id"] == poison.id
    assert hub.service.ingest.dead_letter_resends == RESENDS - 1
    assert letters["resends"] == RESENDS - 1
    assert viewer.get("/api/events", params={"device": HOSTILE}).json()["total"] == 0  # never stored
    assert viewer.get("/api/events", params={"device": HONEST, "kind": "panic"}).json()["total"] == 1

    health = wait_for(lambda: (h := viewer.get("/api/health").json())["status"] == "ok" and h, what="health ok")
    assert health["ingest"]["dead_letters"] == 1 and health["ingest"]["dead_letter_resends"] == RESENDS - 1
    assert health["ingest"]["oldest_unacked_seconds"] < 5 and health["ingest"]["workers_alive"] is True
    assert hub.client("operator").get("/api/admin/deadletters").status_code == 403  # admins only
    assert hub.client(None).get("/api/admin/deadletters").status_code == 401

    # The dead letter survives a restart; resends after it are still recognised.
    hub.stop()
    hub.start()
    assert hub.service is not None
    assert hub.client("admin").get("/api/admin/deadletters").json()["total"] == 1


class GatedStore(SqlEventStore):
    """The real event store behind a gate: a commit waits while the gate is shut (a disk that hangs)."""

    gate = threading.Event()

    def append(self, records):  # type: ignore[no-untyped-def]
        assert self.gate.wait(60), "gate never opened"
        return super().append(records)


def test_stuck_ingest_shows_degraded_and_pages_the_duty_desk_once(
    make_hub: Callable[..., HubHarness],
    make_post: Callable[..., Any],
    sink: NotificationSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    GatedStore.gate.clear()
    monkeypatch.setattr("hub.service.SqlEventStore", GatedStore)
    hub = make_hub(
        [post_entry(HONEST)],
        fallback_urls=[sink.url("piket")],
        ingest_degraded_after=0.5,
        ingest_stuck_after=1.0,
    )
    post = make_post(HONEST)
    viewer = hub.client("viewer")
    try:
        wait_for(lambda: viewer.get("/api/posts").json()[0]["online"], what="post online")
        post.press()  # its commit hangs: the event waits for its PUBACK
        health = wait_for(
            lambda: (h := viewer.get("/api/health").json())["status"] == "degraded" and h, what="health degraded"
        )
        # >= : the health route rounds to milliseconds, so an age of 0.5004 s (degraded: > 0.5) reads 0.5
        assert health["ingest"]["oldest_unacked_seconds"] >= 0.5 and health["ingest"]["log_backlog"] >= 0
        desk = sink.wait_for(lambda r: r.path == "/piket", timeout=15)
        assert desk is not None and "HUB TIDAK MENERIMA KEJADIAN" in desk.body["title"]
        alerts = [a for a in viewer.get("/api/alerts").json() if a["device"] == HUB_DEVICE]
        assert len(alerts) == 1 and alerts[0]["kind"] == "ingest_stuck" and alerts[0]["open"]
    finally:
        GatedStore.gate.set()
    wait_for(lambda: viewer.get("/api/health").json()["status"] == "ok", what="health ok again")
    wait_for(lambda: not viewer.get(f"/api/alerts/{alerts[0]['id']}").json()["open"], what="episode closed")
    assert len([r for r in sink.received if r.path == "/piket"]) == 1  # once per episode
