"""Shared benchmark helpers: percentiles, JSON output, the raw MQTT and HTTP floors."""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
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


def mqtt_round_trip_ms(
    host: str, port: int, publisher: tuple[str, str], subscriber: tuple[str, str], samples: int, topic: str
) -> list[float]:
    """Raw QoS 1 publish -> subscriber delivery through the broker, one message at a time.

    `publisher`/`subscriber` are (user, password) pairs the broker's ACL allows on `topic`.
    """
    received = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-floor-sub", protocol=mqtt.MQTTv5)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-floor-pub", protocol=mqtt.MQTTv5)
    pub.username_pw_set(*publisher)
    sub.username_pw_set(*subscriber)
    sub.on_message = lambda *_: received.set()
    sub.connect(host, port)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    pub.connect(host, port)
    pub.loop_start()
    time.sleep(0.3)  # let the subscription settle before timing (benchmark setup, not a test)
    out = []
    for _ in range(samples):
        received.clear()
        start = time.perf_counter()
        pub.publish(topic, b'{"bench": true}', qos=1)
        if not received.wait(5):
            raise RuntimeError("floor message lost")
        out.append((time.perf_counter() - start) * 1000)
    for client in (pub, sub):
        client.loop_stop()
        client.disconnect()
    return out


def http_post_ms(host: str, port: int, path: str, samples: int) -> list[float]:
    """A bare JSON POST to the notification sink (new connection each time, as apprise does)."""
    body = json.dumps({"title": "floor", "message": "floor", "type": "info"}).encode()
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        conn.getresponse().read()
        conn.close()
        out.append((time.perf_counter() - start) * 1000)
    return out
