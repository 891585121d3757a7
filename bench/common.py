"""Shared benchmark helpers: percentiles, JSON output, the raw MQTT and HTTP floors."""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

RESULTS = Path(__file__).parent / "results"


def wait(condition: Callable[[], object], timeout: float = 60.0) -> None:
    """Poll until condition() is truthy; a benchmark that cannot proceed stops with an error."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark condition not met in time")
        time.sleep(0.005)


class CpuSteal:
    """Share of CPU time the hypervisor gave to other machines while a benchmark ran (/proc/stat).

    A shared VM's outliers often come from here; the figure goes into the results so they can be read."""

    def __init__(self) -> None:
        self._start = self._read()

    @staticmethod
    def _read() -> tuple[int, int] | None:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        return (fields[7] if len(fields) > 7 else 0), sum(fields)

    def percent(self) -> float | None:
        end = self._read()
        if self._start is None or end is None or end[1] == self._start[1]:
            return None
        return round(100 * (end[0] - self._start[0]) / (end[1] - self._start[1]), 2)


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {
        "n": len(ordered),
        "p50_ms": pick(0.50),
        "p99_ms": pick(0.99),
        "mean_ms": round(statistics.fmean(ordered), 3),
        "max_ms": round(ordered[-1], 3),
    }


def emit(name: str, result: dict[str, Any]) -> None:
    """Print JSON to stdout and keep a copy in bench/results/<name>.json."""
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(result, indent=2)
    (RESULTS / f"{name}.json").write_text(text + "\n")
    sys.stdout.write(text + "\n")


class MqttFloor:
    """Raw QoS 1 publish -> subscriber delivery through the broker, one message at a time.

    `publisher`/`subscriber` are (user, password) pairs the broker's ACL allows on `topic`.
    Stays connected between samples, so a benchmark can interleave floor and measured samples.
    """

    def __init__(
        self, host: str, port: int, publisher: tuple[str, str], subscriber: tuple[str, str], topic: str
    ) -> None:
        self.host, self.port, self.topic = host, port, topic
        self.publisher, self.subscriber = publisher, subscriber
        self._received = threading.Event()
        self._subscribed = threading.Event()
        self._sub: mqtt.Client | None = None
        self._pub: mqtt.Client | None = None

    def start(self) -> None:
        sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.subscriber[0], protocol=mqtt.MQTTv5)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.publisher[0] + "-floor", protocol=mqtt.MQTTv5)
        pub.username_pw_set(*self.publisher)
        sub.username_pw_set(*self.subscriber)
        sub.on_message = lambda *_: self._received.set()
        sub.on_subscribe = lambda *_: self._subscribed.set()
        sub.on_connect = lambda client, *_: client.subscribe(self.topic, qos=1)
        sub.connect(self.host, self.port)
        sub.loop_start()
        pub.connect(self.host, self.port)
        pub.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("floor subscriber not subscribed")
        self._sub, self._pub = sub, pub
        for _ in range(3):  # warm up
            self.sample()

    def sample(self) -> float:
        assert self._pub is not None
        self._received.clear()
        start = time.perf_counter()
        self._pub.publish(self.topic, b'{"bench": true}', qos=1)
        if not self._received.wait(5):
            raise RuntimeError("floor message lost")
        return (time.perf_counter() - start) * 1000

    def stop(self) -> None:
        for client in (self._pub, self._sub):
            if client is not None:
                client.loop_stop()
                client.disconnect()


def http_post_once_ms(host: str, port: int, path: str) -> float:
    """A bare JSON POST to the notification sink (new connection each time, as apprise does)."""
    body = json.dumps({"title": "floor", "message": "floor", "type": "info"}).encode()
    start = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("POST", path, body, {"Content-Type": "application/json"})
    conn.getresponse().read()
    conn.close()
    return (time.perf_counter() - start) * 1000


@dataclass(frozen=True)
class Delivery:
    path: str
    at: float  # time.monotonic() in the sink's process (the same system-wide clock)


class RemoteSink:
    """The officers' gateway in a process of its own (poskamling/httpsink.py), as a real gateway is
    another machine: its receive timestamps do not wait for the benchmarked process's threads."""

    def __init__(self) -> None:
        self.received: list[Delivery] = []
        self.host = "127.0.0.1"
        self.port = 0
        self._proc: subprocess.Popen[str] | None = None

    def url(self, path: str = "officer") -> str:
        return f"json://{self.host}:{self.port}/{path}"

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "poskamling.httpsink"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert self._proc.stdout is not None
        self.port = int(self._proc.stdout.readline())
        threading.Thread(target=self._collect, name="remote-sink", daemon=True).start()

    def _collect(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            item = json.loads(line)
            self.received.append(Delivery(item["path"], item["at"]))

    def stop(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(10)
            self._proc = None
