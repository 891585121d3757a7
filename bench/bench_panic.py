"""Panic press to notification received, with 1 and with 200 connected posts.

Measures, in one run and through one broker and one notification sink:
  - press -> officer's notification (mock pin driven low -> JSON POST arrives at the sink)
  - the floor: a raw QoS 1 publish-to-subscriber round trip + a bare HTTP POST to the sink.
Run: .venv/bin/python bench/bench_panic.py [--presses 60] [--posts 200]
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, http_post_ms, mqtt_round_trip_ms, percentiles, wait  # noqa: E402
import yaml  # noqa: E402

from edge.outbox import Outbox  # noqa: E402
from edge.sim import send_control, sim_edge_config  # noqa: E402
from hub.alerts import Outcome  # noqa: E402
from hub.service import HubService  # noqa: E402
from hub.settings import HubSettings  # noqa: E402
from kamling.broker import MosquittoBroker  # noqa: E402
from kamling.broker_files import new_secret  # noqa: E402
from kamling.httpsink import NotificationSink  # noqa: E402
from kamling.protocol import EventKind  # noqa: E402


FLOOR_DEVICE = "bench-floor"


POSTS_PER_PROCESS = 50  # paho uses select(): keep each process's descriptors well under 1024


def outbox_commit_ms(path: Path, samples: int) -> list[float]:
    """The durable write every press makes before it is sent (SQLite WAL, synchronous=FULL)."""
    box = Outbox(path, "commit-probe")
    box.open()
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        box.add(EventKind.PANIC, {"source": "bench"})
        out.append((time.perf_counter() - start) * 1000)
    box.close()
    return out


def start_post_processes(workdir: Path, broker: MosquittoBroker, passwords: dict[str, str], devices: list[str]):  # type: ignore[no-untyped-def]
    """Run the simulated posts as `poskamling sim run` processes, as real posts are separate machines."""
    procs, sockets = [], {}
    for group_start in range(0, len(devices), POSTS_PER_PROCESS):
        group = devices[group_start : group_start + POSTS_PER_PROCESS]
        paths = []
        for device in group:
            cfg = sim_edge_config(device, broker.host, broker.port, passwords[device], workdir / "posts" / device)
            data = cfg.model_dump(mode="json", exclude={"buzzer"})
            data["mqtt"]["password"] = passwords[device]
            path = workdir / "configs" / f"{device}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(data))
            paths.append(str(path))
        control = workdir / f"sim-{group_start}.sock"
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "kamling.cli", "sim", "run", *paths, "--control", str(control)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )
        sockets.update({device: control for device in group})
    return procs, sockets


def run_scenario(workdir: Path, n_posts: int, presses: int) -> dict[str, object]:
    devices = [f"post-{i:03d}" for i in range(n_posts)]
    passwords = {d: new_secret() for d in [*devices, FLOOR_DEVICE]}
    hub_password = new_secret()
    broker = MosquittoBroker(workdir / "broker", accounts={"poskamling-hub": hub_password, **passwords})
    broker.start()
    sink = NotificationSink()
    sink.start()
    settings = HubSettings(
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_password=hub_password,
        data_dir=workdir / "hub",
        posts=[{"device_id": d, "name": f"Pos {d}", "village": "Bench"} for d in devices],
        officers=[{"name": "officer", "urls": [sink.url("officer")]}],
    )
    hub = HubService(settings)
    hub.start()
    procs, sockets = start_post_processes(workdir, broker, passwords, devices)
    try:
        wait(lambda: hub.mqtt.connected and sum(1 for d in devices if hub.registry.state(d).online) == n_posts, 120)

        # The floor path is the one the hub's acks take: hub user writes, a device reads its ack topic.
        floor_mqtt = mqtt_round_trip_ms(
            broker.host, broker.port, ("poskamling-hub", hub_password), (FLOOR_DEVICE, passwords[FLOOR_DEVICE]),
            presses, f"kamling/v1/{FLOOR_DEVICE}/ack",
        )
        floor_http = http_post_ms(sink.host, sink.port, "/floor", presses)
        commit = outbox_commit_ms(workdir / "commit-probe.sqlite", presses)

        latencies = []
        rng = random.Random(7)
        for i in range(presses + 3):  # the first 3 warm up apprise and the code paths
            device = rng.choice(devices)
            before = len(sink.received)
            start = time.monotonic()
            send_control(sockets[device], f"press {device}")
            wait(lambda: len(sink.received) > before, timeout=30)
            if i >= 3:
                latencies.append((sink.received[before].at - start) * 1000)
            for alert in hub.alerts.all():
                if alert.is_open:
                    hub.alerts.resolve(alert.id, "bench", Outcome.TEST, None)
            wait(lambda: hub.ingest.writer.backlog() == 0)
        press = percentiles(latencies)
        mqtt_p = percentiles(floor_mqtt)
        http_p = percentiles(floor_http)
        floor_p50 = mqtt_p["p50_ms"] + http_p["p50_ms"]
        floor_p99 = mqtt_p["p99_ms"] + http_p["p99_ms"]
        return {
            "posts": n_posts,
            "press_to_notification": press,
            "floor_mqtt_qos1_round_trip": mqtt_p,
            "floor_http_post": http_p,
            "floor_p50_ms": round(floor_p50, 3),
            "floor_p99_ms": round(floor_p99, 3),
            "ratio_p50": round(press["p50_ms"] / floor_p50, 2),
            "ratio_p99": round(press["p99_ms"] / floor_p99, 2),
            "target_ratio_p99": 3.0,
            "edge_outbox_commit": percentiles(commit),
            "note": "the press path also holds the edge's fsync'd outbox commit (edge_outbox_commit, same disk), which the floor does not",
        }
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
        hub.stop()
        sink.stop()
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presses", type=int, default=60)
    parser.add_argument("--posts", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, args.posts):
            results.append(run_scenario(Path(tmp) / f"n{n}", n, args.presses))
    emit("panic", {"benchmark": "panic_press_to_notification", "scenarios": results})


if __name__ == "__main__":
    main()
