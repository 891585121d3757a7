"""Light posts for the ingest benchmarks: one process, one paho client per post, wire-valid events.

    python -m bench.ingest_publishers CONFIG.json     (then "go" on stdin; one JSON line on stdout at the end)

CONFIG: {"host", "port", "mode": "raw"|"acked", "devices": [[device, password], ...], "events": per post,
"window": 200, "ack_timeout": 5.0}. Every event is built before "ready" is printed, as an edge's
`Outbox.add` builds it (new ULID, next seq, `Event.to_payload()`), so the timed phase only publishes.

- raw: publish everything at QoS 1 (paho's in-flight window `window`); the benchmark's own subscriber
  counts deliveries. No application ack: the floor.
- acked: the edge outbox's delivery rule (edge/agent.py `_send_due`): at most `window` events unacked
  at once, the next sent as acks arrive, and when the oldest unacked event has waited `ack_timeout`
  everything unacked is sent again from the oldest. Done when every event is acked by the hub.

Both modes run in this same kind of process, so the benchmark's ratio compares the hub with a
subscriber, not one kind of publisher with another; a post here costs a paho client, not a whole
`poskamling sim run` (an interpreter with an edge agent, outbox database and health loop each), which
on a 2-core machine took the CPU the hub was being measured on.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kamling.protocol import Channel, Event, EventKind, new_event_id, topic, utc_now


def build_events(device: str, count: int) -> list[tuple[str, bytes]]:
    """(id, payload) of `count` check-ins of `device`, seq 1..count, as the edge's outbox makes them."""
    events = []
    for seq in range(1, count + 1):
        event = Event(
            id=new_event_id(),
            device=device,
            seq=seq,
            kind=EventKind.CHECKIN,
            ts=utc_now(),
            data={"bench": True},
        )
        events.append((event.id, event.to_payload()))
    return events


class Post:
    """One post's client: publishes its events by the mode's rule; `finished` is set when done."""

    def __init__(self, config: dict[str, Any], device: str, password: str) -> None:
        self.device = device
        self.mode = config["mode"]
        self.window = int(config.get("window", 200))
        self.ack_timeout = float(config.get("ack_timeout", 5.0))
        self.events = build_events(device, int(config["events"]))
        self.topic = topic(device, Channel.EVENT)
        self.finished = threading.Event()
        self.ready = threading.Event()
        self.published = 0
        self.resent = 0
        self.replays = 0
        self.acked = 0
        self._next = 0  # index of the next event never sent
        self._unacked: OrderedDict[str, float] = OrderedDict()  # id -> sent at (monotonic)
        self._index = {event_id: n for n, (event_id, _) in enumerate(self.events)}
        self._lock = threading.Lock()
        self._pubacks = 0
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv5)
        client.username_pw_set(device, password)
        client.max_inflight_messages_set(self.window)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_: self.ready.set()
        client.on_message = self._on_ack
        client.on_publish = self._on_puback
        self.client = client
        self.host, self.port = config["host"], int(config["port"])

    def connect(self) -> None:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        if self.mode == "acked":
            client.subscribe(topic(self.device, Channel.ACK), qos=1)
        else:
            self.ready.set()

    def go(self) -> None:
        if self.mode == "raw":
            for _event_id, payload in self.events:
                self.client.publish(self.topic, payload, qos=1)
            self.published = len(self.events)
            return
        self._send_due(time.monotonic())
        threading.Thread(target=self._replay_loop, name=f"replay-{self.device}", daemon=True).start()

    def _on_puback(self, *_: Any) -> None:
        if self.mode == "raw":
            with self._lock:
                self._pubacks += 1
                if self._pubacks >= len(self.events):
                    self.finished.set()

    def _on_ack(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            ids = json.loads(message.payload)["ids"]
        except (ValueError, KeyError, TypeError):
            return
        with self._lock:
            for event_id in ids:
                if self._unacked.pop(event_id, None) is not None:
                    self.acked += 1
            if self.acked >= len(self.events):
                self.finished.set()
                return
        self._send_due(time.monotonic())

    def _send_due(self, now: float) -> None:
        """Fill the window with events never sent, oldest first (the edge's `_send_due`)."""
        with self._lock:
            batch = []
            while len(self._unacked) < self.window and self._next < len(self.events):
                event_id, payload = self.events[self._next]
                self._unacked[event_id] = now
                self._next += 1
                batch.append(payload)
            self.published += len(batch)
        for payload in batch:
            self.client.publish(self.topic, payload, qos=1)

    def _replay_loop(self) -> None:
        """The oldest unacked event waited ack_timeout: send everything unacked again, oldest first."""
        while not self.finished.wait(0.2):
            now = time.monotonic()
            with self._lock:
                if not self._unacked or now - next(iter(self._unacked.values())) < self.ack_timeout:
                    continue
                self.replays += 1
                again = [self.events[self._index[event_id]][1] for event_id in self._unacked]
                for event_id in self._unacked:
                    self._unacked[event_id] = now
                self.resent += len(again)
            for payload in again:
                self.client.publish(self.topic, payload, qos=1)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    posts = [Post(config, device, password) for device, password in config["devices"]]
    for post in posts:
        post.connect()
    for post in posts:
        if not post.ready.wait(30):
            raise SystemExit(f"{post.device}: not connected")
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    for post in posts:
        post.go()
    for post in posts:
        post.finished.wait(float(config.get("timeout", 900)))
    seconds = time.perf_counter() - start
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "seconds": round(seconds, 3),
        "finished": all(post.finished.is_set() for post in posts),
        "published": sum(post.published for post in posts),
        "resent": sum(post.resent for post in posts),
        "replays": sum(post.replays for post in posts),
        "acked": sum(post.acked for post in posts),
        "cpu_s": round(cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime, 2),
    }
    for post in posts:
        post.stop()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
