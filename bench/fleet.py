"""A light fleet of posts for the 1,000-post benchmark: one process, many real MQTT sessions, one loop.

    python -m bench.fleet CONFIG.json     (JSON stats lines on stdout every `report_every` seconds;
                                           stops when stdin closes)

Each post is a paho client with its own broker account (client id = user name, as the broker's
`use_username_as_clientid` requires) and does what an edge agent does on the wire:
  * Last Will `offline` (retained, QoS 1); `online` (retained, QoS 1) on every connect;
  * health (QoS 0) every `health_every` seconds, each post with its own random phase and +-10 % jitter;
  * motion episodes as a Poisson process: a `motion` start event, and `duration` seconds later its
    end event, each followed by its JPEG on snapshot/<event id> (edge/camera/worker.py); not armed
    (logged, not paged: armed motion is a per-post night policy; the benchmark's pages are panics);
  * events kept until the hub acks them, sent again from the oldest when the oldest waited
    `ack_timeout` and after every reconnect (the edge outbox's rule, edge/agent.py);
  * reconnects with paho's back-off: 1 s, doubling to 30 s (edge/config.py reconnect_min/max).

All sessions are driven by one selector loop through paho's external-loop API (socket callbacks,
loop_read/loop_write/loop_misc), so a post costs a socket and a few objects, not a thread or a
`poskamling sim run` interpreter. The process reports its own CPU so the benchmark can show the
simulator is not the bottleneck.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import resource
import selectors
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kamling.protocol import OFFLINE_WILL, Channel, Event, EventKind, Status, new_event_id, topic, utc_now

VERSION = "fleet-sim"
RECONNECT_MIN, RECONNECT_MAX = 1.0, 30.0


def synthetic_jpeg(size: int, seed: int) -> bytes:
    """A real JPEG of roughly `size` bytes (a night scene is small; noise keeps it from compressing away)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    side = 160
    while True:
        image = (rng.random((side * 3 // 4, side, 3)) * 255).astype(np.uint8)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 60])
        if not ok:
            raise RuntimeError("could not encode a JPEG")
        if len(encoded) >= size or side > 2000:
            return bytes(encoded.tobytes())
        side = int(side * 1.25)


class Post:
    def __init__(self, fleet: Fleet, device: str, password: str) -> None:
        self.fleet = fleet
        self.device = device
        self.seq = 0
        self.unacked: OrderedDict[str, tuple[bytes, float]] = OrderedDict()  # id -> (payload, sent at)
        self.connected = False
        self.failures = 0
        self.started = time.monotonic()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv5)
        client.username_pw_set(device, password)
        client.will_set(topic(device, Channel.STATUS), OFFLINE_WILL, qos=1, retain=True)
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_ack
        client.on_socket_open = fleet.socket_open
        client.on_socket_close = fleet.socket_close
        client.on_socket_register_write = fleet.want_write
        client.on_socket_unregister_write = fleet.done_writing
        self.client = client

    def connect(self) -> None:
        try:
            self.client.connect(self.fleet.host, self.fleet.port, keepalive=self.fleet.keepalive)
        except OSError:
            self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        delay = min(RECONNECT_MAX, RECONNECT_MIN * 2**self.failures)
        self.failures += 1
        self.fleet.later(delay, self._reconnect)

    def _reconnect(self) -> None:
        if self.connected or not self.fleet.running:
            return
        try:
            self.client.reconnect()
        except OSError:
            self._schedule_reconnect()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        if reason_code.is_failure:
            self.fleet.refused += 1
            return
        self.connected = True
        self.failures = 0
        self.fleet.connects += 1
        online = Status(state="online", ts=utc_now(), version=VERSION).model_dump_json(exclude_none=True)
        client.publish(topic(self.device, Channel.STATUS), online, qos=1, retain=True)
        client.subscribe(topic(self.device, Channel.ACK), qos=1)
        self.resend(time.monotonic())

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _reason: Any, _p: Any) -> None:
        if self.connected:
            self.fleet.disconnects += 1
        self.connected = False
        if self.fleet.running:
            self._schedule_reconnect()

    def _on_ack(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            ids = json.loads(message.payload)["ids"]
        except (ValueError, KeyError, TypeError):
            return
        for event_id in ids:
            if self.unacked.pop(event_id, None) is not None:
                self.fleet.acked += 1

    def send(self, kind: EventKind, data: dict[str, Any], snapshot: bytes | None) -> None:
        """The outbox's add + send: the event is kept until its ack, its picture follows it once."""
        self.seq += 1
        event = Event(id=new_event_id(), device=self.device, seq=self.seq, kind=kind, ts=utc_now(), data=data)
        payload = event.to_payload()
        self.unacked[event.id] = (payload, time.monotonic())
        self.fleet.events += 1
        if self.connected:
            self.client.publish(topic(self.device, Channel.EVENT), payload, qos=1)
            if snapshot is not None:
                self.client.publish(topic(self.device, Channel.SNAPSHOT, event.id), snapshot, qos=1)
                self.fleet.snapshots += 1

    def resend(self, now: float) -> None:
        """Everything unacked again, oldest first (after a reconnect, or when the oldest waited too long)."""
        if not self.unacked or not self.connected:
            return
        for event_id, (payload, _sent) in list(self.unacked.items()):
            self.unacked[event_id] = (payload, now)
            self.client.publish(topic(self.device, Channel.EVENT), payload, qos=1)
            self.fleet.resent += 1

    def check_acks(self, now: float) -> None:
        if self.unacked and now - next(iter(self.unacked.values()))[1] >= self.fleet.ack_timeout:
            self.resend(now)

    def health(self) -> None:
        if self.connected:
            payload = {
                "ts": utc_now().isoformat().replace("+00:00", "Z"),
                "version": VERSION,
                "uptime_s": round(time.monotonic() - self.started, 1),
                "load": [0.21, 0.18, 0.15],
                "cpu_temp_c": 51.5,
                "disk": {"free_bytes": 20 * 1024**3, "total_bytes": 29 * 1024**3, "free_pct": 69.0},
                "clock_synced": True,
                "outbox": {"depth": len(self.unacked), "drops": 0},
                "cameras": {"gate": 5.0},
            }
            self.client.publish(topic(self.device, Channel.HEALTH), json.dumps(payload).encode(), qos=0)
            self.fleet.health += 1
        interval = self.fleet.health_every
        self.fleet.later(interval * self.fleet.rng.uniform(0.9, 1.1), self.health)


class Fleet:
    """The posts of one process and the one loop that drives all their sessions."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.host, self.port = config["host"], int(config["port"])
        self.keepalive = int(config.get("keepalive", 10))
        self.health_every = float(config.get("health_every", 60.0))
        self.ack_timeout = float(config.get("ack_timeout", 5.0))
        # motion episodes per second for this whole process (a Poisson process over its posts)
        self.episode_rate = float(config.get("episodes_per_second", 0.0))
        self.report_every = float(config.get("report_every", 2.0))
        self.rng = random.Random(int(config.get("seed", 1)))
        self.jpeg = synthetic_jpeg(int(config.get("snapshot_bytes", 30_000)), int(config.get("seed", 1)))
        self.selector = selectors.DefaultSelector()
        self.running = True
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.connects = self.disconnects = self.refused = 0
        self.events = self.acked = self.resent = self.health = self.snapshots = self.episodes = 0
        self.posts = [Post(self, device, password) for device, password in config["devices"]]

    # paho's external-loop callbacks: the selector watches each post's socket
    def socket_open(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        self.selector.register(sock, selectors.EVENT_READ, client)

    def socket_close(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        try:
            self.selector.unregister(sock)
        except (KeyError, ValueError):
            pass

    def want_write(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        try:
            self.selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)
        except (KeyError, ValueError):
            pass

    def done_writing(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        try:
            self.selector.modify(sock, selectors.EVENT_READ, client)
        except (KeyError, ValueError):
            pass

    def later(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._order), action))

    def start(self) -> None:
        for post in self.posts:
            post.connect()
            self.later(self.rng.uniform(0, self.health_every), post.health)
        if self.episode_rate > 0:
            self.later(self.rng.expovariate(self.episode_rate), self._episode)
        self.later(1.0, self._housekeeping)

    def _episode(self) -> None:
        """A motion episode at a random post: start now, end `duration` seconds later (each with its picture)."""
        post = self.rng.choice(self.posts)
        self.episodes += 1
        episode = new_event_id()
        duration = round(self.rng.uniform(4, 40), 1)
        area = round(self.rng.uniform(0.02, 0.3), 4)
        start = {"camera": "gate", "phase": "start", "episode": episode, "area": area, "armed": False}
        post.send(EventKind.MOTION, start, self.jpeg)
        end = {"camera": "gate", "phase": "end", "episode": episode, "duration_s": duration, "peak_area": area}
        self.later(duration, lambda: post.send(EventKind.MOTION, end, self.jpeg))
        self.later(self.rng.expovariate(self.episode_rate), self._episode)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        for post in self.posts:
            if post.connected:
                post.client.loop_misc()  # keepalive pings; notices a silent broker
                post.check_acks(now)
        self.later(1.0, self._housekeeping)

    def stats(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "t": time.monotonic(),
            "posts": len(self.posts),
            "connected": sum(1 for post in self.posts if post.connected),
            "connects": self.connects,
            "disconnects": self.disconnects,
            "refused": self.refused,
            "events": self.events,
            "acked": self.acked,
            "unacked": sum(len(post.unacked) for post in self.posts),
            "resent": self.resent,
            "health": self.health,
            "snapshots": self.snapshots,
            "episodes": self.episodes,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "rss_kb": usage.ru_maxrss,
        }

    def run(self) -> None:
        """The loop: socket events, then due timers; stats to stdout every `report_every` seconds."""
        next_report = time.monotonic()
        while self.running:
            now = time.monotonic()
            timeout = min(0.2, max(0.0, self._timers[0][0] - now)) if self._timers else 0.2
            for key, mask in self.selector.select(timeout):
                client: mqtt.Client = key.data
                if mask & selectors.EVENT_READ:
                    client.loop_read()
                if mask & selectors.EVENT_WRITE:
                    client.loop_write()
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _due, _n, action = heapq.heappop(self._timers)
                action()
            if now >= next_report:
                sys.stdout.write(json.dumps(self.stats()) + "\n")
                sys.stdout.flush()
                next_report = now + self.report_every

    def stop(self) -> None:
        self.running = False


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    fleet = Fleet(config)
    # stdin closing (the benchmark ending, or dying) stops the fleet
    threading.Thread(target=lambda: (sys.stdin.read(), fleet.stop()), daemon=True).start()
    fleet.start()
    fleet.run()
    for post in fleet.posts:
        if post.connected:
            post.client.disconnect()
            post.client.loop_write()


if __name__ == "__main__":
    main()
