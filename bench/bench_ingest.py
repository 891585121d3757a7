"""Durable ingest throughput vs raw paho QoS 1 through the same broker, and backlog drain.

    .venv/bin/python bench/bench_ingest.py [--devices 10] [--events 50000] [--backlog 10000]

Prints JSON to stdout and writes bench/results/ingest.json. The baseline (raw QoS 1 publish
to one subscriber, no disk) runs in the same process and run, so the result is a ratio.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from edge.outbox import Outbox
from hub.provisioning.broker_files import new_secret
from hub.service import HubService
from hub.settings import HubSettings
from kamling.protocol import EventKind
from poskamling.broker import MosquittoBroker
from poskamling.sim import SimulatedPost, sim_edge_config

HUB_USER = "poskamling-hub"
RAW_SUB_USER = "bench-raw-sub"  # a read-only monitor account: the broker runs with use_username_as_clientid,
# so a raw client logged in as the hub user would take over (and, clean start, wipe) the hub's session
UNLIMITED = {"rate": 1e9, "burst": 1e9, "panic_rate": 1e9, "panic_burst": 1e9}


def _wait(cond, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def raw_qos1(broker: MosquittoBroker, devices: int, events: int, payload: bytes) -> float:
    """Events/s of plain paho QoS 1 publishers -> one QoS 1 subscriber (no disk, no app logic)."""
    got = 0
    done = threading.Event()

    def on_message(_c, _u, _m) -> None:  # type: ignore[no-untyped-def]
        nonlocal got
        got += 1
        if got >= events:
            done.set()

    names = [f"pos-r{n:02d}" for n in range(devices)]
    for name in [RAW_SUB_USER, *names]:  # every client its own account (client id = user name)
        broker.accounts.setdefault(name, new_secret())
    if RAW_SUB_USER not in broker.monitor_users:
        broker.monitor_users.append(RAW_SUB_USER)
    broker.reload()
    time.sleep(0.3)
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=RAW_SUB_USER, protocol=mqtt.MQTTv5)
    sub.username_pw_set(RAW_SUB_USER, broker.accounts[RAW_SUB_USER])
    sub.on_message = on_message
    sub.connect(broker.host, broker.port)
    sub.subscribe("kamling/v1/+/event", qos=1)
    sub.loop_start()
    pubs = []
    for name in names:  # device accounts: each may publish only on its own topics (the ACL)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
        pub.username_pw_set(name, broker.accounts[name])
        pub.max_inflight_messages_set(200)
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        pubs.append(pub)
    time.sleep(0.5)
    per = events // devices
    start = time.perf_counter()
    threads = [
        threading.Thread(
            target=lambda p=p, n=n: [p.publish(f"kamling/v1/{n}/event", payload, qos=1) for _ in range(per)]
        )
        for n, p in zip(names, pubs, strict=True)
    ]
    for t in threads:
        t.start()
    done.wait(300)
    elapsed = time.perf_counter() - start
    for p in [*pubs, sub]:
        p.disconnect()  # before loop_stop, so the DISCONNECT is sent and the broker frees the client id
        p.loop_stop()
    return got / elapsed


def hub_settings(broker: MosquittoBroker, data_dir: Path, devices: list[str]) -> HubSettings:
    return HubSettings(
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_password=broker.accounts[HUB_USER],
        data_dir=data_dir,
        posts=[{"device_id": d, "name": d} for d in devices],
        officers=[],
        rate_limit=UNLIMITED,
    )


def make_posts(broker: MosquittoBroker, root: Path, devices: list[str], per_device: int) -> list[SimulatedPost]:
    posts = []
    for device in devices:
        password = broker.accounts.setdefault(device, new_secret())
        cfg = sim_edge_config(device, broker.host, broker.port, password, root / device)
        box = Outbox(cfg.data_dir / "outbox.sqlite", device)
        box.open()
        for _ in range(per_device):  # prefill: written before the timed phase
            box.add(EventKind.CHECKIN, {"bench": True})
        box.close()
        posts.append(SimulatedPost(cfg))
    broker.reload()
    return posts


def drained(posts: list[SimulatedPost]) -> bool:
    return all(p.agent._inbox.empty() and p.agent.outbox.depth() == 0 for p in posts)


def write_post_configs(broker: MosquittoBroker, root: Path, devices: list[str], per_device: int) -> list[Path]:
    """Prefilled outboxes plus edge config files, for posts run as their own processes."""
    paths = []
    for post in make_posts(broker, root, devices, per_device):
        data = post.config.model_dump(mode="json")
        data["mqtt"]["password"] = broker.accounts[post.device_id]
        path = root / f"{post.device_id}.yaml"
        path.write_text(yaml.safe_dump(data))
        paths.append(path)
    return paths


def outbox_depth(config_path: Path) -> int:
    """Read another process's outbox (WAL allows a concurrent reader)."""
    data = yaml.safe_load(config_path.read_text())
    with sqlite3.connect(Path(data["data_dir"]) / "outbox.sqlite", timeout=5) as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


def run_post_processes(
    hub: HubService, configs: list[Path], events: int, commit_timeout: float, ack_timeout: float
) -> tuple[float, float]:
    """Run each post as its own `sim run` process; seconds until every event was committed, and acked."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "poskamling.cli", "sim", "run", str(c)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for c in configs
    ]
    try:
        _wait(lambda: hub.ingest.writer.committed_events >= events, commit_timeout, "all events committed")
        committed = time.perf_counter() - start
        _wait(lambda: all(outbox_depth(c) == 0 for c in configs), ack_timeout, "all events acked")
        acked = time.perf_counter() - start
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
    return committed, acked


def durable_ingest_processes(broker: MosquittoBroker, root: Path, devices: int, events: int) -> dict[str, float]:
    """As durable_ingest, but each post is its own `poskamling sim run` process, as on real Pis.

    The hub then has its own interpreter (and GIL) like in production, instead of sharing one
    with ten simulated agents.
    """
    names = [f"pos-p{n:02d}" for n in range(devices)]
    configs = write_post_configs(broker, root / "posts-proc", names, events // devices)
    hub = HubService(hub_settings(broker, root / "hub-proc", names))
    hub.start()
    _wait(lambda: hub.mqtt.connected, 10, "hub connected")
    committed, acked = run_post_processes(hub, configs, events, commit_timeout=600, ack_timeout=120)
    commits = hub.ingest.writer.commits
    hub.stop()
    return {
        "events": events,
        "seconds_to_commit": committed,
        "seconds_to_ack": acked,
        "events_per_s": events / acked,
        "commits": commits,
        "mean_batch": events / max(1, commits),
    }


def durable_ingest(broker: MosquittoBroker, root: Path, devices: int, events: int) -> dict[str, float]:
    """Posts with full outboxes connect to a running hub: events committed and acked per second."""
    names = [f"pos-b{n:02d}" for n in range(devices)]
    posts = make_posts(broker, root / "posts", names, events // devices)
    hub = HubService(hub_settings(broker, root / "hub", names))
    hub.start()
    _wait(lambda: hub.mqtt.connected, 10, "hub connected")
    start = time.perf_counter()
    for post in posts:
        post.start()
    _wait(lambda: hub.ingest.writer.committed_events >= events, 600, "all events committed")
    committed = time.perf_counter() - start
    _wait(lambda: all(p.agent.outbox.depth() == 0 for p in posts), 120, "all events acked")
    acked = time.perf_counter() - start
    commits = hub.ingest.writer.commits
    for post in posts:
        post.stop()
    hub.stop()
    return {
        "events": events,
        "seconds_to_commit": committed,
        "seconds_to_ack": acked,
        "events_per_s": events / acked,
        "commits": commits,
        "mean_batch": events / max(1, commits),
    }


def backlog_drain(broker: MosquittoBroker, root: Path, devices: int, backlog: int) -> dict[str, float]:
    """Events pile up while the hub is down; time for the restarted hub to commit and ack all."""
    names = [f"pos-k{n:02d}" for n in range(devices)]
    settings = hub_settings(broker, root / "hub-backlog", names)
    hub = HubService(settings)
    hub.start()  # once, so the broker holds its persistent session
    _wait(lambda: hub.mqtt.connected, 10, "hub connected")
    hub.stop()
    posts = make_posts(broker, root / "posts-backlog", names, backlog // devices)
    for post in posts:
        post.start()
    _wait(lambda: all(p.agent.stats["published"] >= 1 for p in posts), 30, "posts publishing")
    time.sleep(1.0)  # let the in-flight windows reach the broker's queue for the hub
    hub = HubService(settings)
    start = time.perf_counter()
    hub.start()
    _wait(lambda: hub.ingest.writer.committed_events >= backlog, 600, "backlog committed")
    committed = time.perf_counter() - start
    _wait(lambda: all(p.agent.outbox.depth() == 0 for p in posts), 120, "backlog acked")
    acked = time.perf_counter() - start
    for post in posts:
        post.stop()
    hub.stop()
    return {"events": backlog, "seconds_to_commit": committed, "seconds_to_ack": acked, "events_per_s": backlog / acked}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--also-in-process", action="store_true", help="also run posts and hub in one process")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        root = Path(tmp)
        broker = MosquittoBroker(root / "broker", accounts={HUB_USER: new_secret()})
        broker.start()
        try:
            sample = Outbox(root / "sample.sqlite", "pos-b00")
            sample.open()
            payload = sample.add(EventKind.CHECKIN, {"bench": True}).to_payload()
            sample.close()
            # The raw floor gets its own broker without a per-client queue cap (0: unlimited): raw
            # publishers have no end-to-end window, so with the production cap (2,000) the broker would
            # drop what the subscriber cannot take at once. The posts' outboxes bound the durable path.
            raw_broker = MosquittoBroker(root / "broker-raw", accounts={HUB_USER: new_secret()}, max_queued_messages=0)
            raw_broker.start()
            try:
                raw = raw_qos1(raw_broker, args.devices, args.events, payload)
            finally:
                raw_broker.stop()
            durable = durable_ingest_processes(broker, root, args.devices, args.events)
            in_process = durable_ingest(broker, root, args.devices, args.events) if args.also_in_process else None
            drain = backlog_drain(broker, root, args.devices, args.backlog)
        finally:
            broker.stop()
    result = {
        "name": "ingest",
        "devices": args.devices,
        "payload_bytes": len(payload),
        "raw_qos1_events_per_s": round(raw, 1),
        "durable": {k: round(v, 3) for k, v in durable.items()},
        "ratio_durable_to_raw": round(durable["events_per_s"] / raw, 3),
        "durable_posts_as": "one `poskamling sim run` process per post (hub in its own interpreter)",
        "durable_in_process": {k: round(v, 3) for k, v in in_process.items()} if in_process else None,
        "target_ratio": 0.5,
        "backlog_drain": {k: round(v, 3) for k, v in drain.items()},
        "broker_max_queued_messages": broker.max_queued_messages,
    }
    out = Path(__file__).resolve().parent / "results" / "ingest.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
