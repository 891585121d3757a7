"""Durable ingest on the SQL store (SQLite and PostgreSQL) vs raw paho QoS 1, in one run.

    .venv/bin/python bench/bench_ingest_sql.py [--devices 10] [--events 20000] [--rounds 3] [--backends sqlite,postgresql]

The hub runs as it now does: HubService builds its SqlEventStore from `database_url` (SQLite in
data_dir by default; a TempPostgres server for PostgreSQL). Each post is its own `poskamling sim
run` process with a prefilled outbox (bench_ingest.durable_ingest_processes). The baseline (plain
paho QoS 1 publishers -> one QoS 1 subscriber, no disk) is measured between the durable runs, in
rounds (raw, SQLite, PostgreSQL, raw, ...), on its own broker without a queue cap; each durable run
is divided by the mean of the raw floors just before and after it, and the median round is kept.

Prints JSON and writes bench/results/ingest_sql.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_ingest import (
    HUB_USER,
    UNLIMITED,
    _wait,
    raw_qos1,
    run_post_processes,
    write_post_configs,
)
from bench.common import CpuSteal, emit
from edge.outbox import Outbox
from hub.provisioning.broker_files import new_secret
from hub.service import HubService
from hub.settings import HubSettings
from kamling.protocol import EventKind
from poskamling.broker import MosquittoBroker


def loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def durable_sql(
    broker: MosquittoBroker, root: Path, tag: str, devices: int, events: int, database_url: str | None
) -> dict[str, Any]:
    """Posts as processes with full outboxes, a hub on the given SQL store: events committed and acked per second."""
    names = [f"pos-{tag}{n:02d}" for n in range(devices)]
    configs = write_post_configs(broker, root / f"posts-{tag}", names, events // devices)
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
    load = loadavg()
    steal = CpuSteal()
    committed, acked = run_post_processes(hub, configs, events, commit_timeout=900, ack_timeout=180)
    commits = hub.ingest.writer.commits
    stored = hub.store.count() if hasattr(hub.store, "count") else None
    hub.stop()
    return {
        "store_url": settings.store_url.split("@")[-1],
        "events": events,
        "events_in_store": stored,
        "seconds_to_commit": round(committed, 3),
        "seconds_to_ack": round(acked, 3),
        "events_per_s": round(events / acked, 1),
        "commits": commits,
        "mean_batch": round(events / max(1, commits), 1),
        "load_before": load,
        "cpu_steal_pct": steal.percent(),
    }


def raw_floor(root: Path, name: str, devices: int, events: int, payload: bytes) -> dict[str, Any]:
    # own broker without a per-client queue cap (see bench_ingest.main: raw publishers have no window)
    broker = MosquittoBroker(root / name, accounts={HUB_USER: new_secret()}, max_queued_messages=0)
    broker.start()
    load = loadavg()
    steal = CpuSteal()
    try:
        rate = raw_qos1(broker, devices, events, payload)
    finally:
        broker.stop()
    return {"events_per_s": round(rate, 1), "load_before": load, "cpu_steal_pct": steal.percent()}


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
        "durable_posts_as": "one `poskamling sim run` process per post (hub in the benchmark's interpreter)",
        "target_ratio": 0.8,
    }
    steal = CpuSteal()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-sql-") as tmp:
        root = Path(tmp)
        sample = Outbox(root / "sample.sqlite", "pos-s00")
        sample.open()
        payload = sample.add(EventKind.CHECKIN, {"bench": True}).to_payload()
        sample.close()
        result["payload_bytes"] = len(payload)
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
            floor = raw_floor(root, "broker-raw-0", args.devices, args.events, payload)
            for n in range(args.rounds):
                one: dict[str, Any] = {"raw_before": floor}
                if "sqlite" in backends:
                    one["sqlite"] = durable_sql(broker, root, f"s{n}", args.devices, args.events, None)
                if server is not None:
                    one["postgresql"] = durable_sql(broker, root, f"g{n}", args.devices, args.events, server.url)
                floor = raw_floor(root, f"broker-raw-{n + 1}", args.devices, args.events, payload)
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
