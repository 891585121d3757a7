"""A thousand posts on one hub (issue 17 item 4): hub CPU and RSS, panic latency, broker restart.

One run, one broker (Mosquitto, every post with its own account), the real hub as `poskamling hub`
(SQLite) in its own process, the officers' gateway in another (bench/common.py RemoteSink):
  1. connect N posts: N - R light posts from bench/fleet.py worker processes (real MQTT sessions,
     health every 60 s, motion episodes with pictures, outbox-style acks) and R real edge agents
     (`poskamling sim run`, MockFactory pins) whose buttons are pressed in phase 3;
  2. steady state for `--steady` seconds: CPU of the hub process (and its pager child) from
     /proc/<pid>/stat, RSS from /proc/<pid>/status, the fleet's and the broker's CPU beside it;
  3. panics press -> page at the sink, interleaved with the floor (a raw QoS 1 round trip through
     the same broker + a bare HTTP POST to the sink), as bench/bench_panic.py does;
  4. broker restart (a clean stop: Mosquitto sends every post's Last Will): time until the hub sees
     all N posts online again, the `offline` statuses the restart produced (a monitor counts them:
     the storm there would have been), and the pages actually sent (the hold's result).
Run: nice -n 10 .venv/bin/python bench/bench_thousand.py [--posts 1000] [--steady 180] [--presses 60]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from bench.bench_panic import start_post_processes
from bench.common import CpuSteal, MqttFloor, RemoteSink, emit, http_post_once_ms, percentiles, wait
from hub.accounts.auth import new_token
from hub.provisioning.broker_files import new_secret
from poskamling.broker import MosquittoBroker
from poskamling.net import free_port, wait_for_port
from poskamling.sim import send_control

ROOT = Path(__file__).resolve().parent.parent
HUB_USER = "poskamling-hub"
FLOOR_DEVICE, FLOOR_HUB, MONITOR = "bench-floor", "bench-floor-hub", "bench-monitor"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# The sector's figures (docs/performance.md, issue 12): 200 posts, ~10,000 events a day, 90 % motion:
# 45 motion events per post a day, i.e. ~22 episodes (a start and an end event each).
EPISODES_PER_POST_DAY = 22.5


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its live children (the hub's pager worker), in seconds."""
    total = 0.0
    for one in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class Hub:
    """`poskamling hub --config hub.yaml` in its own process, with an operator token for the API."""

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.workdir = workdir
        self.port = free_port()
        token, digest = new_token()
        self.token = token
        self.config = config | {
            "http_port": self.port,
            "api_tokens": [{"name": "bench", "role": "operator", "sha256": digest}],
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "hub.yaml"
        path.write_text(yaml.safe_dump(self.config))
        log = (self.workdir / "hub.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "poskamling.cli", "hub", "--config", str(path)], stdout=log, stderr=log, cwd=ROOT
        )
        if not wait_for_port("127.0.0.1", self.port, 60):
            raise RuntimeError("hub did not start: see hub.log")
        wait(lambda: self.health().get("mqtt_connected"), 60)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def health(self) -> dict[str, Any]:
        try:
            return httpx.get(f"{self.url}/api/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return {}

    def online(self) -> int:
        return int(self.health().get("posts_online") or 0)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        response = httpx.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def alerts(self, **params: Any) -> list[dict[str, Any]]:
        return list(self.api("GET", "/api/alerts", params=params | {"limit": 500}))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class FleetWorkers:
    """bench/fleet.py processes; their latest stats lines."""

    def __init__(
        self,
        workdir: Path,
        host: str,
        port: int,
        devices: list[tuple[str, str]],
        workers: int,
        rate: float,
        health_every: float,
    ) -> None:
        self.health_every = health_every
        self.procs: list[subprocess.Popen[str]] = []
        self.latest: dict[int, dict[str, Any]] = {}
        self.workdir, self.host, self.port = workdir, host, port
        self.groups = [devices[i::workers] for i in range(workers)]
        self.rate = rate  # motion episodes per second, whole fleet

    def start(self) -> None:
        total = sum(len(g) for g in self.groups)
        for n, group in enumerate(self.groups):
            config = {
                "host": self.host,
                "port": self.port,
                "devices": group,
                "episodes_per_second": self.rate * len(group) / total,
                "health_every": self.health_every,
                "seed": n + 1,
            }
            path = self.workdir / f"fleet-{n}.json"
            path.write_text(json.dumps(config))
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.fleet", str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            self.procs.append(proc)
            threading.Thread(target=self._read, args=(n, proc), daemon=True).start()

    def _read(self, n: int, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.latest[n] = json.loads(line)

    def total(self, key: str) -> float:
        return sum(stats.get(key, 0) for stats in self.latest.values())

    def stop(self) -> None:
        for proc in self.procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class StatusMonitor:
    """A read-only subscriber counting the `offline` statuses the broker delivers (the would-be storm)."""

    def __init__(self, broker: MosquittoBroker, password: str) -> None:
        self.offline = 0
        self.offline_devices: set[str] = set()
        self.online_at: dict[str, float] = {}  # device -> monotonic time its `online` was last delivered
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=MONITOR, protocol=mqtt.MQTTv5)
        client.username_pw_set(MONITOR, password)
        client.on_connect = lambda c, *_: c.subscribe("kamling/v1/+/status", qos=1)
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 2)
        client.connect_async(broker.host, broker.port)
        self.client = client

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        device = message.topic.split("/")[2]
        if b'"offline"' in message.payload:
            self.offline += 1
            self.offline_devices.add(device)
            self.online_at.pop(device, None)
        elif b'"online"' in message.payload:
            self.online_at[device] = time.monotonic()

    def start(self) -> None:
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def steady_state(hub: Hub, broker: MosquittoBroker, fleet: FleetWorkers, seconds: float) -> dict[str, Any]:
    steal = CpuSteal()
    load_before = os.getloadavg()
    assert broker.pid is not None
    start = time.monotonic()
    hub_cpu, broker_cpu, fleet_cpu = proc_cpu_seconds(hub.pid), proc_cpu_seconds(broker.pid), fleet.total("cpu_s")
    events, acked = fleet.total("events"), fleet.total("acked")
    rss: list[float] = []
    while time.monotonic() - start < seconds:
        rss.append(rss_mb(hub.pid))
        time.sleep(5)
    elapsed = time.monotonic() - start
    hub_pct = 100 * (proc_cpu_seconds(hub.pid) - hub_cpu) / elapsed
    return {
        "seconds": round(elapsed, 1),
        "hub_cpu_percent_of_one_core": round(hub_pct, 1),
        "target_hub_cpu_percent": 50,
        "hub_rss_mb": {"max": max(rss), "last": rss[-1]},
        "broker_cpu_percent_of_one_core": round(100 * (proc_cpu_seconds(broker.pid) - broker_cpu) / elapsed, 1),
        "fleet_cpu_percent_of_one_core": round(100 * (fleet.total("cpu_s") - fleet_cpu) / elapsed, 1),
        "events_per_second": round((fleet.total("events") - events) / elapsed, 2),
        "acked_per_second": round((fleet.total("acked") - acked) / elapsed, 2),
        "unacked_at_end": fleet.total("unacked"),
        "fleet_health_sent": fleet.total("health"),
        "fleet_resent_total": fleet.total("resent"),
        "cpu_steal_percent": steal.percent(),
        "load_before": [round(v, 2) for v in load_before],
        "load_after": [round(v, 2) for v in os.getloadavg()],
    }


def panics(
    hub: Hub, sink: RemoteSink, sockets: dict[str, Path], devices: list[str], floor: MqttFloor, presses: int
) -> dict[str, Any]:
    steal = CpuSteal()
    hub_cpu, start_t = proc_cpu_seconds(hub.pid), time.monotonic()
    latencies: list[float] = []
    mqtt_samples: list[float] = []
    http_samples: list[float] = []
    rng = random.Random(7)

    def pages() -> list[Any]:
        return [item for item in sink.received if item.path == "/officer"]

    for i in range(presses + 3):  # the first 3 warm up
        device = rng.choice(devices)
        before = len(pages())
        reply = send_control(sockets[device], f"press {device} timed")
        pressed = float(reply.removeprefix("ok: "))
        wait(lambda before=before: len(pages()) > before, timeout=30)
        latency = (pages()[before].at - pressed) * 1000
        if i >= 3:
            latencies.append(latency)
        for alert in hub.alerts(state="open"):
            if alert["kind"] == "panic":
                hub.api("POST", f"/api/alerts/{alert['id']}/resolve", json={"outcome": "test", "note": "bench"})
        time.sleep(0.05)
        if i >= 3:
            mqtt_samples.append(floor.sample())
            http_samples.append(http_post_once_ms(sink.host, sink.port, "/floor"))
    press, mqtt_p, http_p = percentiles(latencies), percentiles(mqtt_samples), percentiles(http_samples)
    floor_p50 = mqtt_p["p50_ms"] + http_p["p50_ms"]
    floor_p99 = mqtt_p["p99_ms"] + http_p["p99_ms"]
    return {
        "press_to_page": press,
        "floor_mqtt_qos1_round_trip": mqtt_p,
        "floor_http_post": http_p,
        "floor_p50_ms": round(floor_p50, 3),
        "floor_p99_ms": round(floor_p99, 3),
        "ratio_p50": round(press["p50_ms"] / floor_p50, 2),
        "ratio_p99": round(press["p99_ms"] / floor_p99, 2),
        "target_ratio_p99": 2.0,
        "hub_cpu_percent_during_presses": round(
            100 * (proc_cpu_seconds(hub.pid) - hub_cpu) / (time.monotonic() - start_t), 1
        ),
        "cpu_steal_percent": steal.percent(),
        "note": "press = the pin's edge in a real edge agent, so it includes the post's fsync'd outbox commit",
    }


def broker_restart(
    hub: Hub, broker: MosquittoBroker, sink: RemoteSink, monitor: StatusMonitor, n_posts: int, hold: float, down: float
) -> dict[str, Any]:
    pages_before = len(sink.received)
    offline_alerts_before = len(hub.alerts(kind="offline", state="all"))
    offline_seen = monitor.offline
    monitor.offline_devices.clear()
    stopped = time.monotonic()
    broker.stop()  # clean stop: every post's Last Will is published and kept (retained)
    time.sleep(down)  # the broker stays down a moment (a package upgrade, a reboot of its host)
    down_for = time.monotonic() - stopped
    broker.restart()
    back = time.monotonic()
    wait(lambda: hub.health().get("mqtt_connected"), 60)
    hub_back = time.monotonic() - back
    min_online = n_posts
    samples: list[tuple[float, int]] = []

    def all_online() -> bool:
        nonlocal min_online
        count = hub.online()
        samples.append((round(time.monotonic() - back, 2), count))
        min_online = min(min_online, count)
        return count >= n_posts

    wait(all_online, 300)
    all_back = time.monotonic() - back
    # Each post's own `online` after the restart, as the broker delivered it (a retained one was
    # published before the monitor resubscribed: stamped then, an upper bound).
    wait(lambda: sum(1 for at in monitor.online_at.values() if at >= back) >= n_posts, 300)
    posts_back = max(at for at in monitor.online_at.values() if at >= back) - back
    # The hold ends `hold` seconds after the hub's reconnect; wait past it, then count what was paged.
    wait(lambda: time.monotonic() - back > hub_back + hold + 10, hold + 60)
    time.sleep(0.5)
    pages = sink.received[pages_before:]
    offline_alerts = len(hub.alerts(kind="offline", state="all")) - offline_alerts_before
    return {
        "broker_down_s": round(down_for, 2),
        "hub_reconnected_after_s": round(hub_back, 2),
        "all_posts_online_after_s": round(all_back, 2),
        "all_posts_republished_online_after_s": round(posts_back, 2),
        "posts_with_an_offline_status": len(monitor.offline_devices),
        "fewest_online_seen_at_hub": min_online,
        "online_curve": samples[:: max(1, len(samples) // 20)],
        "offline_statuses_delivered": monitor.offline - offline_seen,
        "offline_alerts_opened": offline_alerts,
        "pages_sent": len(pages),
        "offline_hold_after_connect_s": hold,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--real", type=int, default=4, help="real edge agents among the posts (the panics)")
    parser.add_argument("--workers", type=int, default=2, help="fleet processes for the light posts")
    parser.add_argument("--steady", type=float, default=180.0)
    parser.add_argument("--presses", type=int, default=150)
    parser.add_argument("--peak", type=float, default=3.0, help="motion rate as a multiple of the daily mean")
    parser.add_argument("--hold", type=float, default=60.0, help="the hub's offline_hold_after_connect")
    parser.add_argument("--down", type=float, default=5.0, help="seconds the broker stays down")
    parser.add_argument("--health-every", type=float, default=60.0, help="seconds between a post's health reports")
    parser.add_argument("--name", default="thousand", help="results file: bench/results/<name>.json")
    args = parser.parse_args()
    light = [f"post-{i:04d}" for i in range(args.posts - args.real)]
    real = [f"pos-real-{i}" for i in range(args.real)]
    passwords = {d: new_secret() for d in [*light, *real, FLOOR_DEVICE, FLOOR_HUB, MONITOR, HUB_USER]}
    episodes_per_second = args.posts * EPISODES_PER_POST_DAY / 86400 * args.peak
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(
            workdir / "broker", accounts=passwords, hub_users=[HUB_USER, FLOOR_HUB], monitor_users=[MONITOR]
        )
        broker.start()
        sink = RemoteSink()
        sink.start()
        hub = Hub(
            workdir / "hub",
            {
                "mqtt_host": broker.host,
                "mqtt_port": broker.port,
                "mqtt_password": passwords[HUB_USER],
                "data_dir": str(workdir / "hub" / "data"),
                "posts": [{"device_id": d, "name": f"Pos {d}", "village": "Bench"} for d in [*light, *real]],
                "officers": [{"name": "officer", "urls": [sink.url("officer")]}],
                "offline_hold_after_connect": args.hold,
            },
        )
        monitor = StatusMonitor(broker, passwords[MONITOR])
        fleet = FleetWorkers(
            workdir,
            broker.host,
            broker.port,
            [(d, passwords[d]) for d in light],
            args.workers,
            episodes_per_second,
            args.health_every,
        )
        procs: list[subprocess.Popen[Any]] = []
        result: dict[str, Any] = {
            "benchmark": "thousand_posts",
            "posts": args.posts,
            "light_posts": len(light),
            "real_agents": len(real),
            "fleet_processes": args.workers,
            "motion_episodes_per_second": round(episodes_per_second, 3),
            "motion_events_per_second": round(2 * episodes_per_second, 3),
            "health_per_second": round(args.posts / args.health_every, 2),
            "rate_basis": f"{EPISODES_PER_POST_DAY} episodes (2 events, 2 pictures each) per post a day x {args.peak} (evening peak)",
            "ulimit_n": subprocess.run(["sh", "-c", "ulimit -n"], capture_output=True, text=True).stdout.strip(),
        }
        try:
            hub.start()
            monitor.start()
            started = time.monotonic()
            fleet.start()
            procs, sockets = start_post_processes(workdir, broker, passwords, real)
            wait(lambda: hub.online() >= args.posts, 300)
            result["connect_all_s"] = round(time.monotonic() - started, 2)
            result["hub_rss_mb_connected"] = rss_mb(hub.pid)
            time.sleep(10)  # the first health reports and episodes settle in
            result["steady"] = steady_state(hub, broker, fleet, args.steady)
            floor = MqttFloor(
                broker.host,
                broker.port,
                (FLOOR_HUB, passwords[FLOOR_HUB]),
                (FLOOR_DEVICE, passwords[FLOOR_DEVICE]),
                f"kamling/v1/{FLOOR_DEVICE}/ack",
            )
            floor.start()
            result["panic"] = panics(hub, sink, sockets, real, floor, args.presses)
            floor.stop()
            result["broker_restart"] = broker_restart(hub, broker, sink, monitor, args.posts, args.hold, args.down)
            result["fleet"] = {str(k): v for k, v in fleet.latest.items()}
            result["hub_rss_mb_end"] = rss_mb(hub.pid)
        finally:
            fleet.stop()
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(30)
            monitor.stop()
            hub.stop()
            sink.stop()
            broker.stop()
    emit(args.name, result)


if __name__ == "__main__":
    main()
