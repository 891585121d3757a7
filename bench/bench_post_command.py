"""Ping round trip of a post command (issue 15), against the bare MQTT echo it rides on.

Measures, in one run through one broker:
  - the hub's `ping` round trip as the operator sees it (`rtt_ms`: the hub's publish on `cmd` to the
    post's reply arriving at the hub), with the post a real edge agent in its own process
    (`poskamling sim run`), as a real post is another machine;
  - the floor: a hub account publishes QoS 1 on a device's `cmd` topic, a bare device client echoes
    the payload on its own `reply` topic, and the hub account receives it (the same two broker hops,
    no agent, no validation, no hub).
Samples alternate, so both see the same moments of a shared machine; 10 pings a second (a post's
replies count against its ingest rate limit like any message: 300 back to back would be dropped).
Run: .venv/bin/python bench/bench_post_command.py [--pings 300]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.bench_panic import start_post_processes
from bench.common import CpuSteal, emit, percentiles, wait
from hub.posts.commands import PostCommand
from hub.provisioning.broker_files import new_secret
from hub.service import HubService, tune_process_for_latency
from hub.settings import HubSettings
from poskamling.broker import MosquittoBroker

DEVICE = "post-000"
FLOOR_DEVICE = "bench-floor"
FLOOR_HUB = "bench-floor-hub"
PACE = 0.1
"""Seconds per ping: 10 a second, well under a post's ingest rate limit."""


class EchoFloor:
    """Hub account -> device `cmd` -> bare device echoes on its `reply` -> hub account: two QoS 1 hops."""

    def __init__(self, host: str, port: int, hub: tuple[str, str], device: tuple[str, str]) -> None:
        self.host, self.port, self.hub_account, self.device_account = host, port, hub, device
        self._got = threading.Event()
        self._ready = threading.Barrier(3)
        self._clients: list[mqtt.Client] = []

    def _client(self, account: tuple[str, str], topic: str, on_message: Any) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=account[0], protocol=mqtt.MQTTv5)
        client.username_pw_set(*account)
        client.on_message = on_message
        client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        client.on_subscribe = lambda *_: self._ready.wait(10)
        client.on_socket_open = lambda _c, _u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.connect(self.host, self.port)
        client.loop_start()
        self._clients.append(client)
        return client

    def start(self) -> None:
        device_topic = f"kamling/v1/{self.device_account[0]}"
        echo = self._client(
            self.device_account,
            f"{device_topic}/cmd",
            lambda c, _u, m: c.publish(f"{device_topic}/reply", m.payload, qos=1),
        )
        self._hub = self._client(self.hub_account, f"{device_topic}/reply", lambda *_: self._got.set())
        self._ready.wait(10)
        self._topic = f"{device_topic}/cmd"
        assert echo is not None
        for _ in range(5):
            self.sample()

    def sample(self) -> float:
        self._got.clear()
        start = time.monotonic()
        self._hub.publish(self._topic, b'{"bench": true}', qos=1)
        if not self._got.wait(5):
            raise RuntimeError("floor echo lost")
        return (time.monotonic() - start) * 1000

    def stop(self) -> None:
        for client in self._clients:
            client.loop_stop()
            client.disconnect()


def run(workdir: Path, pings: int) -> dict[str, Any]:
    passwords = {d: new_secret() for d in (DEVICE, FLOOR_DEVICE, FLOOR_HUB)}
    hub_password = new_secret()
    broker = MosquittoBroker(
        workdir / "broker",
        accounts={"poskamling-hub": hub_password, **passwords},
        hub_users=["poskamling-hub", FLOOR_HUB],
    )
    broker.start()
    settings = HubSettings(
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_password=hub_password,
        data_dir=workdir / "hub",
        posts=[{"device_id": DEVICE, "name": "Pos bench", "village": "Bench"}],
        officers=[],
    )
    hub = HubService(settings)
    hub.start()
    tune_process_for_latency()
    procs, _ = start_post_processes(workdir, broker, passwords, [DEVICE])
    answered = threading.Event()
    hub.commands.listeners.append(lambda c: None if c.pending else answered.set())
    try:
        wait(lambda: hub.mqtt.connected and hub.registry.state(DEVICE).online, 60)
        floor = EchoFloor(
            broker.host, broker.port, (FLOOR_HUB, passwords[FLOOR_HUB]), (FLOOR_DEVICE, passwords[FLOOR_DEVICE])
        )
        floor.start()

        def ping() -> PostCommand:
            answered.clear()
            command = hub.commands.issue(DEVICE, "ping", "bench")
            if not answered.wait(10):
                raise RuntimeError("ping not answered")
            done = hub.commands.get(command.id)
            assert done is not None and done.state == "done" and done.rtt_ms is not None
            return done

        for _ in range(5):  # warm up the code paths
            ping()
        steal = CpuSteal()
        load_before = os.getloadavg()
        rtts: list[float] = []
        floors: list[float] = []
        for _ in range(pings):
            started = time.monotonic()
            floors.append(floor.sample())
            rtts.append(float(ping().rtt_ms or 0.0))
            # human-paced: a post's replies count against its ingest rate limit (20/s) like any message
            time.sleep(max(0.0, PACE - (time.monotonic() - started)))
        floor.stop()
        rtt, base = percentiles(rtts), percentiles(floors)
        return {
            "pings": pings,
            "ping_rtt": rtt,
            "floor_mqtt_echo": base,
            "p50_ratio": round(rtt["p50_ms"] / base["p50_ms"], 2),
            "p99_ratio": round(rtt["p99_ms"] / base["p99_ms"], 2),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "cpu_steal_pct": steal.percent(),
        }
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        hub.stop()
        broker.stop()


def main() -> None:
    # the floor's echoes land on the hub's `reply` subscription too, rejected (`unknown_device`) and
    # counted; their log lines would only add noise to the output
    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pings", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(Path(tmp), args.pings)
    emit("post_command", {"benchmark": "post_command_ping_rtt", "cpus": os.cpu_count(), **result})


if __name__ == "__main__":
    main()
