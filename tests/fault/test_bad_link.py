"""A post behind a GSM-like link (issue 17 item 3): 150 ms each way, 64 kbit/s, through the fault relay.

A panic pressed while a large picture is on its way must not wait behind it: the post sends pictures
in parts that yield to events. Asserted on the order the broker relayed the post's messages and on
what the hub stored, never on how long anything took.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kamling.protocol import EventKind, parse_snapshot_suffix
from poskamling.broker import MosquittoBroker
from poskamling.sim import SimulatedPost, sim_edge_config
from tests.fault.relay import TcpRelay
from tests.support import add_device, add_monitor, post_entry, wait_for

pytestmark = pytest.mark.e2e

DEVICE = "pos-gsm01"
PICTURE = b"\xff\xd8\xff\xe0" + random.Random(17).randbytes(40_000)  # 5 s of a 64 kbit/s link


@pytest.fixture
def gsm(broker: MosquittoBroker) -> Iterator[TcpRelay]:
    relay = TcpRelay(broker.host, broker.port, latency=0.15, rate_bps=64_000)
    relay.start()
    yield relay
    relay.stop()


@pytest.fixture
def wire(broker: MosquittoBroker) -> Iterator[list[tuple[str, bytes]]]:
    """Every message on the post's topics, in the order the broker relayed them."""
    seen: list[tuple[str, bytes]] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bad-link-watcher", protocol=mqtt.MQTTv5)
    watcher.username_pw_set(*add_monitor(broker))
    watcher.on_message = lambda _c, _u, m: seen.append((m.topic, bytes(m.payload)))
    watcher.connect(broker.host, broker.port)
    watcher.subscribe(f"kamling/v1/{DEVICE}/#", qos=1)
    watcher.loop_start()
    yield seen
    watcher.loop_stop()
    watcher.disconnect()


def test_a_panic_pressed_during_a_picture_upload_reaches_the_hub_before_the_picture_ends(
    make_hub, broker: MosquittoBroker, gsm: TcpRelay, wire: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    hub = make_hub([post_entry(DEVICE)])
    api = hub.client("operator")
    password = add_device(broker, DEVICE)
    post = SimulatedPost(sim_edge_config(DEVICE, "127.0.0.1", gsm.port, password, tmp_path / "post"))
    post.start()
    try:
        wait_for(lambda: api.get("/api/posts").json()[0]["online"], timeout=30, what="post online over the relay")
        post.agent.raise_event(EventKind.MOTION, {"camera": "gate", "state": "start"}, attachment=PICTURE)

        def snapshot_parts() -> list[tuple[int, int]]:
            return [parse_snapshot_suffix(t.rsplit("/", 1)[1])[1:] for t, _ in list(wire) if "/snapshot/" in t]

        wait_for(lambda: snapshot_parts(), timeout=30, what="the picture's first part at the broker")
        post.press()

        panic = wait_for(
            lambda: api.get("/api/events", params={"device": DEVICE, "kind": "panic"}).json()["items"],
            timeout=30,
            what="the panic at the hub",
        )
        motion = api.get("/api/events", params={"device": DEVICE, "kind": "motion"}).json()["items"]
        stored = wait_for(
            lambda: (r := api.get(f"/api/events/{motion[0]['id']}/snapshot")).status_code == 200 and r.content,
            timeout=60,
            what="the whole picture at the hub",
        )
    finally:
        post.stop()

    assert stored == PICTURE  # joined from its parts, byte for byte
    assert len(panic) == 1 and len(motion) == 1
    order = list(wire)
    panic_at = next(
        i for i, (t, p) in enumerate(order) if t.endswith("/event") and json.loads(p)["kind"] == EventKind.PANIC
    )
    parts = [(i, parse_snapshot_suffix(t.rsplit("/", 1)[1])) for i, (t, _) in enumerate(order) if "/snapshot/" in t]
    last_part_at = next(i for i, (_, part, count) in parts if part == count)
    _, (_, _, count) = parts[0]
    assert count > 10  # the picture went in parts
    assert panic_at < last_part_at  # the panic did not queue behind the picture
    parts_before_panic = sum(1 for i, _ in parts if i < panic_at)
    assert parts_before_panic < count // 2  # it overtook most of the picture
    rejected = api.get("/api/health").json()["rejected"]
    assert not rejected, rejected
