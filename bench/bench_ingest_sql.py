"""Durable ingest on the SQL store (SQLite and PostgreSQL) vs raw paho QoS 1, in one run.

    .venv/bin/python bench/bench_ingest_sql.py [--devices 10] [--events 20000] [--rounds 3] [--backends sqlite,postgresql]

The hub runs as it does in production: HubService builds its SqlEventStore from `database_url`
(SQLite in data_dir by default; a TempPostgres server for PostgreSQL), with its alert rules, ronda
watch, metrics and acks after the commit. The posts are light publishers in one process of their own
(bench/ingest_publishers.py): wire-valid events built as the edge's outbox builds them, sent with the
edge's delivery rule (at most 200 unacked per post, everything unacked sent again after 5 s) and done
when the hub has acked every one. The baseline is the same kind of process publishing the same
events at QoS 1 to one plain subscriber (no disk, no application ack), on its own broker without a
queue cap. Rounds of raw, SQLite, PostgreSQL, raw: each durable run is divided by the mean of the raw
floors just before and after it, and the median round is kept.

Prints JSON and writes bench/results/ingest_sql.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.bench_ingest import HUB_USER, RAW_SUB_USER, UNLIMITED, _wait
from bench.common import CpuSteal, emit
from bench.ingest_publishers import build_events
from hub.provisioning.broker_files import new_secret
from hub.service import HubService
from hub.settings import HubSettings
from poskamling.broker import MosquittoBroker

ROOT = Path(__file__).resolve().parents[1]
WINDOW = 200  # edge/agent.py MAX_IN_FLIGHT
ACK_TIMEOUT = 5.0  # edge/config.py ack_timeout default


def loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


class LightPosts:
    """bench/ingest_publishers.py as a process: `start()` until its posts are connected, `go()`, `result()`."""

    def __init__(self, broker: MosquittoBroker, root: Path, names: list[str], per_post: int, mode: str) -> None:
        for name in names:  # every post its own account (client id = user name): the ACL confines it
            broker.accounts.setdefault(name, new_secret())
        broker.reload()
        self.config = root / f"publishers-{names[0]}.json"
        self.config.write_text(
            json.dumps(
                {
                    "host": broker.host,
                    "port": broker.port,
                    "mode": mode,
                    "devices": [[name, broker.accounts[name]] for name in names],
                    "events": per_post,
                    "window": WINDOW,
                    "ack_timeout": ACK_TIMEOUT,
                }
            )
        )
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        time.sleep(0.3)  # the broker re-reads its password file (SIGHUP)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.ingest_publishers", str(self.config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"publishers did not start: {line!r}")

    def go(self) -> float:
        assert self.proc is not None and self.proc.stdin is not None
        start = time.perf_counter()
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return start

    def result(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.proc.wait(30)
        if not line:
            raise SystemExit("publishers ended without a result")
        value: dict[str, Any] = json.loads(line)
        return value


def durable_sql(
    broker: MosquittoBroker, root: Path, tag: str, devices: int, events: int, database_url: str | None
) -> dict[str, Any]:
    """Light posts, a hub on the given SQL store: events committed and acked per second."""
    names = [f"pos-{tag}{n:02d}" for n in range(devices)]
    posts = LightPosts(broker, root, names, events // devices, "acked")
    settings = HubSettings(
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_password=broker.accounts[HUB_USER],
        data_dir=root / f"hub-{tag}",
        posts=[{"device_id": d, "name": d} for d in names],
        officers=[],
        rate_limit=UNLIMITED,
        database_url=database_url,
    )
    hub = HubService(settings)
    hub.start()
    _wait(lambda: hub.mqtt.connected, 10, "hub connected")
    posts.start()
    load = loadavg()
    steal = CpuSteal()
    cpu_before = os.times()
    start = posts.go()
    _wait(lambda: hub.ingest.writer.committed_events >= events, 900, "all events committed")
    committed = time.perf_counter() - start
    published = posts.result()
    acked = time.perf_counter() - start
    cpu = os.times()
    commits = hub.ingest.writer.commits
    stored = hub.store.count() if hasattr(hub.store, "count") else None
    hub.stop()
    if not published["finished"] or published["acked"] != events:
        raise SystemExit(f"not every event was acked: {published}")
    return {
        "store_url": settings.store_url.split("@")[-1],
        "events": events,
        "events_in_store": stored,
        "seconds_to_commit": round(committed, 3),
        "seconds_to_ack": round(acked, 3),
        "events_per_s": round(events / acked, 1),
        "commits": commits,
        "mean_batch": round(events / max(1, commits), 1),
        "resent": published["resent"],
        "hub_cpu_s": round(cpu.user + cpu.system - cpu_before.user - cpu_before.system, 2),
        "publishers_cpu_s": published["cpu_s"],
        "load_before": load,
        "cpu_steal_pct": steal.percent(),
    }


def raw_floor(root: Path, tag: str, devices: int, events: int) -> dict[str, Any]:
    """The same publishers at QoS 1 -> one plain QoS 1 subscriber (in this process, where the hub runs)."""
    # own broker without a per-client queue cap (raw publishers have no end-to-end window)
    broker = MosquittoBroker(root / f"broker-raw-{tag}", accounts={HUB_USER: new_secret(), RAW_SUB_USER: new_secret()})
    broker.max_queued_messages = 0
    broker.monitor_users.append(RAW_SUB_USER)
    broker.start()
    got = 0
    done = threading.Event()

    def on_message(*_: Any) -> None:
        nonlocal got
        got += 1
        if got >= events:
            done.set()

    subscribed = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=RAW_SUB_USER, protocol=mqtt.MQTTv5)
    sub.username_pw_set(RAW_SUB_USER, broker.accounts[RAW_SUB_USER])
    sub.on_message = on_message
    sub.on_subscribe = lambda *_: subscribed.set()
    try:
        posts = LightPosts(broker, root, [f"pos-r{tag}{n:02d}" for n in range(devices)], events // devices, "raw")
        sub.connect(broker.host, broker.port)
        sub.loop_start()
        sub.subscribe("kamling/v1/+/event", qos=1)
        if not subscribed.wait(10):
            raise SystemExit("raw subscriber not subscribed")
        posts.start()
        load = loadavg()
        steal = CpuSteal()
        cpu_before = os.times()
        start = posts.go()
        if not done.wait(300):
            raise SystemExit(f"raw floor: {got} of {events} delivered")
        elapsed = time.perf_counter() - start
        cpu = os.times()
        published = posts.result()
    finally:
        sub.disconnect()
        sub.loop_stop()
        broker.stop()
    return {
        "events_per_s": round(events / elapsed, 1),
        "subscriber_cpu_s": round(cpu.user + cpu.system - cpu_before.user - cpu_before.system, 2),
        "publishers_cpu_s": published["cpu_s"],
        "load_before": load,
        "cpu_steal_pct": steal.percent(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of raw, SQLite, PostgreSQL, raw")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    backends = args.backends.split(",")
    result: dict[str, Any] = {
        "name": "ingest_sql",
        "cpus": os.cpu_count(),
        "devices": args.devices,
        "load_start": loadavg(),
        "posts_as": "bench/ingest_publishers.py: one light process, one paho client per post (raw and durable)",
        "edge_window": WINDOW,
        "target_ratio": 0.8,
    }
    steal = CpuSteal()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-sql-") as tmp:
        root = Path(tmp)
        result["payload_bytes"] = len(build_events("pos-s00", 1)[0][1])
        broker = MosquittoBroker(root / "broker", accounts={HUB_USER: new_secret()})
        broker.start()
        server = None
        if "postgresql" in backends:
            from poskamling.postgres import TempPostgres

            server = TempPostgres()
            server.start()
        rounds: list[dict[str, Any]] = []
        try:
            # Rounds of raw -> each backend -> raw: a shared machine's load changes by the minute, so every
            # ratio is taken against the raw floors measured just before and just after it.
            floor = raw_floor(root, "0", args.devices, args.events)
            for n in range(args.rounds):
                one: dict[str, Any] = {"raw_before": floor}
                if "sqlite" in backends:
                    one["sqlite"] = durable_sql(broker, root, f"s{n}", args.devices, args.events, None)
                if server is not None:
                    one["postgresql"] = durable_sql(broker, root, f"g{n}", args.devices, args.events, server.url)
                floor = raw_floor(root, str(n + 1), args.devices, args.events)
                one["raw_after"] = floor
                raw = (one["raw_before"]["events_per_s"] + floor["events_per_s"]) / 2
                for backend in ("sqlite", "postgresql"):
                    if backend in one:
                        one[f"ratio_{backend}_to_raw"] = round(one[backend]["events_per_s"] / raw, 3)
                rounds.append(one)
                print(
                    json.dumps({"round": n, **{k: v for k, v in one.items() if k.startswith("ratio")}}), file=sys.stderr
                )
            result["broker_max_queued_messages"] = broker.max_queued_messages
        finally:
            if server is not None:
                server.remove()
            broker.stop()
    result["rounds"] = rounds
    for backend in ("sqlite", "postgresql"):
        ratios = sorted(r[f"ratio_{backend}_to_raw"] for r in rounds if f"ratio_{backend}_to_raw" in r)
        if ratios:
            result[f"ratio_{backend}_to_raw_median"] = ratios[len(ratios) // 2]
            result[f"ratio_{backend}_to_raw_all"] = ratios
    if server is not None:
        result["postgresql_server"] = "TempPostgres (Debian's postgresql, default settings, fsync=on)"
    result["cpu_steal_pct"] = steal.percent()
    result["load_end"] = loadavg()
    emit("ingest_sql", result)


if __name__ == "__main__":
    main()
