"""What a village scope costs on /api/events' query: the SQL event store's newest page and a keyset
walk, filtered by a village's devices (`EventQuery.devices`: `device IN (...)`), against the baseline
of the same query without a scope, in the same run on the same database.

The log: 200,000 events over 30 days from 41 posts: 8 villages of 5 busy posts, and one quiet post
(its own village) with 0.2 % of the events, the worst case for a filter on a newest-first scan.
A sample is one `store.query` (the page and its capped count), from the store's Python API.
`village_5_posts_one_in_query` is the plan before the per-device page (one `device IN (...)`
query, forced with `MAX_DEVICE_BRANCHES = 1`), measured in the same run.

Run: nice -n 10 .venv/bin/python bench/bench_scope.py   (JSON to stdout and bench/results/scope.json)
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CpuSteal, emit, percentiles
from hub.storage.events import EventQuery
from hub.storage.sql import events as sql_events
from hub.storage.sql.database import Database
from hub.storage.sql.events import SqlEventStore
from kamling.protocol import new_event_id

EVENTS = 200_000
ROUNDS = 40
WALK_PAGES = 10
START = datetime(2026, 11, 1, tzinfo=UTC)
VILLAGE = frozenset(f"pos-v0-{n}" for n in range(5))
QUIET = "pos-quiet"


def records() -> list[dict[str, Any]]:
    rand = random.Random(15)
    busy = [f"pos-v{v}-{n}" for v in range(8) for n in range(5)]
    out = []
    for index in range(EVENTS):
        device = QUIET if rand.random() < 0.002 else rand.choice(busy)
        moment = (START + timedelta(seconds=index * 13)).isoformat()
        out.append(
            {
                "id": new_event_id(),
                "device": device,
                "seq": index + 1,
                "kind": "heartbeat" if index % 10 else "motion",
                "ts": moment,
                "data": {},
                "test": False,
                "received_at": moment,
            }
        )
    return out


def timed(store: SqlEventStore, query: EventQuery) -> tuple[float, Any]:
    began = time.perf_counter()
    page = store.query(query)
    return (time.perf_counter() - began) * 1000, page


def walk(store: SqlEventStore, devices: frozenset[str] | None) -> float:
    """Milliseconds for WALK_PAGES pages of 100 by cursor."""
    began = time.perf_counter()
    cursor = None
    for _ in range(WALK_PAGES):
        page = store.query(EventQuery(limit=100, cursor=cursor, devices=devices))
        cursor = page.next_cursor
        if cursor is None:
            break
    return (time.perf_counter() - began) * 1000


def main() -> None:
    steal = CpuSteal()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        store = SqlEventStore(Database(f"sqlite:///{Path(folder) / 'hub.db'}"))
        store.open()
        rows = records()
        for start in range(0, len(rows), 5_000):
            store.append(rows[start : start + 5_000])
        cases: dict[str, frozenset[str] | None] = {
            "whole_hub": None,
            "village_5_posts": VILLAGE,
            "village_5_posts_one_in_query": VILLAGE,
            "quiet_post": frozenset({QUIET}),
        }
        branches = sql_events.MAX_DEVICE_BRANCHES
        samples: dict[str, list[float]] = {
            f"{name}_{what}": [] for name in cases for what in ("newest_page", "walk_10_pages")
        }
        found: dict[str, int] = {}
        for _ in range(ROUNDS):  # interleaved: the baseline and the scoped queries meet the same noise
            for name, devices in cases.items():
                sql_events.MAX_DEVICE_BRANCHES = 1 if name.endswith("one_in_query") else branches
                ms, page = timed(store, EventQuery(limit=100, devices=devices))
                samples[f"{name}_newest_page"].append(ms)
                found[name] = page.total
                samples[f"{name}_walk_10_pages"].append(walk(store, devices))
        store.close()
    summary = {key: percentiles(values) for key, values in samples.items()}
    base = {what: summary[f"whole_hub_{what}"]["p50_ms"] for what in ("newest_page", "walk_10_pages")}
    ratios = {
        key: round(summary[key]["p50_ms"] / base[what], 2)
        for key in summary
        for what in base
        if key.endswith(what) and base[what] > 0
    }
    emit(
        "scope",
        {
            "events": EVENTS,
            "rounds": ROUNDS,
            "rows_matching_capped": found,
            "ms": summary,
            "p50_ratio_to_whole_hub": ratios,
            "loadavg_before": [round(v, 2) for v in load_before],
            "loadavg_after": [round(v, 2) for v in os.getloadavg()],
            "cpu_steal_percent": steal.percent(),
            "cpus": os.cpu_count(),
        },
    )


if __name__ == "__main__":
    main()
