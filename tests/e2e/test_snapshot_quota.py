"""Evidence quotas end to end (issue 18): real Mosquitto, real hub, posts that publish by hand.

A raw MQTT client with a post's own credential is what a stolen or broken Pi can do: publish
any event and any snapshot on its own topics, in any order and amount.
"""

from __future__ import annotations

import json
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kamling.protocol import Channel, new_event_id, topic, utc_now
from tests.support import add_device, post_entry, wait_for

pytestmark = pytest.mark.e2e

JPEG = b"\xff\xd8\xff\xe0" + b"j" * 496


class RawPost:
    """A post driven by hand over its own broker credential (client id = user name, as the broker requires)."""

    def __init__(self, broker: Any, device: str) -> None:
        self.device = device
        self.seq = 0
        self.connected: list[bool] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(device, broker.accounts.get(device) or add_device(broker, device))
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self.connected.append(not rc.is_failure)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert wait_for(lambda: self.connected, what=f"{device} connected")[0]

    def event(self, kind: str = "checkin", event_id: str | None = None, **data: Any) -> str:
        self.seq += 1
        event_id = event_id or new_event_id()
        body = {"id": event_id, "device": self.device, "seq": self.seq, "kind": kind, "data": data}
        body["ts"] = utc_now().isoformat()
        self.client.publish(topic(self.device, Channel.EVENT), json.dumps(body).encode(), qos=1).wait_for_publish(10)
        return event_id

    def snapshot(self, event_id: str, jpeg: bytes = JPEG) -> None:
        self.client.publish(topic(self.device, Channel.SNAPSHOT, event_id), jpeg, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def served(api: Any, event_id: str) -> bytes | None:
    response = api.get(f"/api/events/{event_id}/snapshot")
    return response.content if response.status_code == 200 else None


def rejected(api: Any) -> dict[str, int]:
    return api.get("/api/health").json()["rejected"]


def test_a_snapshot_flood_from_one_post_leaves_other_posts_and_open_alert_evidence(make_hub, broker) -> None:
    hub = make_hub([post_entry("pos-rw01"), post_entry("pos-evil")], snapshot_post_max_files=5)
    api = hub.client("viewer")
    good, evil = RawPost(broker, "pos-rw01"), RawPost(broker, "pos-evil")
    try:
        witness = good.event("panic", source="button")
        good.snapshot(witness, JPEG + b"rw01")
        own_alert = evil.event("panic", source="button")  # opens an alert: its picture is pinned
        evil.snapshot(own_alert, JPEG + b"alert")
        wait_for(lambda: served(api, witness) and served(api, own_alert), what="both posts' evidence stored")

        flood = [evil.event() for _ in range(40)]  # checkins: logged, no alert, each with a picture
        for event_id in flood:
            evil.snapshot(event_id)
        wait_for(lambda: served(api, flood[-1]), timeout=20, what="the last flood snapshot stored")

        snapshots = hub.service.snapshots
        assert snapshots.usage("pos-evil")[0] == 5  # its own quota, the alert's picture included
        assert served(api, witness) == JPEG + b"rw01"  # the other post's evidence is untouched
        assert served(api, own_alert) == JPEG + b"alert"  # the open alert's picture outlived the flood
        assert [served(api, e) is not None for e in flood] == [False] * 36 + [True] * 4
        assert not {k: v for k, v in rejected(api).items() if k.startswith("snapshot")}
    finally:
        good.close()
        evil.close()


def test_orphan_and_foreign_snapshots_are_rejected_with_reasons(make_hub, broker) -> None:
    hub = make_hub([post_entry("pos-rw01"), post_entry("pos-evil")], snapshot_pending_seconds=0.5)
    api = hub.client("viewer")
    good, evil = RawPost(broker, "pos-rw01"), RawPost(broker, "pos-evil")
    try:
        witness = good.event("panic", source="button")
        good.snapshot(witness, JPEG + b"rw01")
        wait_for(lambda: served(api, witness), what="the post's own snapshot")

        evil.snapshot(witness, JPEG + b"forged")  # another post's stored event
        evil.snapshot(new_event_id())  # an event that never comes
        wait_for(lambda: rejected(api).get("snapshot_not_own_event") == 1, what="foreign snapshot rejected")
        wait_for(lambda: rejected(api).get("snapshot_orphan") == 1, what="orphan rejected when its window passed")

        assert served(api, witness) == JPEG + b"rw01"
        assert hub.service.snapshots.usage("pos-evil") == (0, 0)
        assert hub.service.ingest.snapshot_gate.pending() == 0
        assert list((hub.data_dir / "snapshots").glob("pos-evil/*")) == []
    finally:
        good.close()
        evil.close()


def test_a_snapshot_that_arrives_just_before_its_event_is_kept(make_hub, broker) -> None:
    hub = make_hub([post_entry("pos-rw01")])
    api = hub.client("viewer")
    post = RawPost(broker, "pos-rw01")
    try:
        event_id = new_event_id()
        post.snapshot(event_id, JPEG + b"early")
        gate = hub.service.ingest.snapshot_gate
        wait_for(lambda: gate.pending("pos-rw01") == 1, what="the early snapshot held")
        assert hub.service.snapshots.find(event_id, "pos-rw01") is None  # not stored before its event
        post.event("motion", event_id=event_id, phase="start", armed=True, camera="gate")
        assert wait_for(lambda: served(api, event_id), what="stored once the event committed") == JPEG + b"early"
        assert gate.pending() == 0 and "snapshot_orphan" not in rejected(api)
    finally:
        post.close()
