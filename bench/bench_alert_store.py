"""What one alert save costs once months of closed alerts are stored: the hot-file repository
(hub/alerting/store.py) against the baseline of the old single-file repository, with 0 and 5,000
closed alerts already stored (spread over 10 months, as motion alerts pile up).

A sample is one alert save until it is on disk (atomic write, fsync included):
  - new: `save()` then `flush()` (so it also pays the hand-off to the writer thread);
  - baseline: what the old writer thread did, inline: one TinyDB file holding every alert,
    `table.upsert(record, Query().id == alert_id)` (scan, then rewrite of the whole file).
`open_save`: a new version of one open alert (a timeline note, as paging and reminders add).
`closing_save`: resolving an alert opened this month (new: archive write, then hot-file removal).
CPU is the process time per save (all threads: the cost that holds the GIL on the paging process).

Run: .venv/bin/python bench/bench_alert_store.py   (JSON to stdout and bench/results/alert_store.json)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinydb import Query

from bench.common import emit, percentiles
from hub.alerting import rules
from hub.alerting.rules import Alert, AlertKind, Outcome
from hub.alerting.store import AlertRepository
from hub.storage.events import open_tinydb

START = datetime(2026, 1, 1, tzinfo=UTC)
MONTHS = 10
ROUNDS = 200
CLOSINGS = 100


def closed_alert(index: int, total: int) -> Alert:
    """A motion alert that went the usual way: opened, paged, notified, acknowledged, resolved."""
    at = START + timedelta(days=30 * MONTHS * index / max(total, 1))
    alert = rules.open_alert(f"pos-{index % 40:02d}", AlertKind.MOTION, at)
    alert = rules.escalation_step(alert, 1, at + timedelta(minutes=2), at, "level 1; page: Bhabin Desa 3")
    alert = rules.mark_notified(alert, ["Bhabin Desa 3"], at + timedelta(seconds=2))
    alert = rules.acknowledge(alert, "Bhabin Desa 3", "link", at + timedelta(minutes=1))
    return rules.resolve(alert, "Bhabin Desa 3", Outcome.FALSE_ALARM, "kucing", at + timedelta(minutes=9))


def sample(save: Callable[[], None], rounds: int, before: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Wall-clock percentiles of `save` and its mean process CPU time."""
    wall, cpu = [], []
    for _ in range(rounds):
        before()
        start_cpu, start = time.process_time(), time.perf_counter()
        save()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return {**percentiles(wall), "cpu_ms_mean": round(sum(cpu) / len(cpu), 3)}


class Single:
    """The baseline: the old repository's storage, every alert in one file, upsert by query."""

    def __init__(self, path: Path, closed: list[Alert]) -> None:
        self.path = path
        self.db = open_tinydb(path)
        self.table = self.db.table("alerts")
        if closed:
            self.table.insert_multiple([a.to_record() for a in closed])

    def save(self, alert: Alert) -> None:
        self.table.upsert(alert.to_record(), Query().id == alert.id)

    def close(self) -> None:
        self.db.close()


class HotFile:
    """The new repository, restarted on a folder where the closed alerts were already saved."""

    def __init__(self, path: Path, closed: list[Alert]) -> None:
        seed = AlertRepository(path)
        seed.load()
        for alert in closed:
            seed.save(alert)
        seed.start()
        seed.stop()
        self.repository = AlertRepository(path)
        assert len(self.repository.load()) == len(closed)
        self.repository.start()

    def save(self, alert: Alert) -> None:
        self.repository.save(alert)
        if not self.repository.flush(timeout=30):
            raise RuntimeError("alert writer did not drain in time")

    def close(self) -> None:
        self.repository.stop()


def measure(store: Single | HotFile) -> dict[str, Any]:
    now = START + timedelta(days=30 * MONTHS - 3)  # this month: the newest archive takes the closings
    base = rules.open_alert("pos-a", AlertKind.PANIC, now)
    store.save(base)
    versions = iter(range(1, 1_000_000))

    def next_version() -> None:
        """A new version of the open alert; its timeline stays two entries long, as the records it replaces."""
        at = now + timedelta(seconds=next(versions))
        store.save(rules.record_note(base, at, "reminder", "system", None))

    opened: list[Alert] = []

    def open_one() -> None:
        opened.append(rules.open_alert("pos-b", AlertKind.MOTION, now))
        store.save(opened[-1])

    def close_it() -> None:
        store.save(rules.resolve(opened[-1], "kanit", Outcome.FALSE_ALARM, None, now + timedelta(minutes=5)))

    for _ in range(10):
        next_version()  # warm up (first writes, table caches)
    open_save = sample(next_version, ROUNDS)
    closing_save = sample(close_it, CLOSINGS, before=open_one)
    store.close()
    return {"open_save": open_save, "closing_save": closing_save}


def sizes(old_dir: Path, new_dir: Path) -> dict[str, int]:
    """File sizes after the run: the single file; the hot file and the monthly archives."""
    archives = [p.stat().st_size for p in new_dir.glob("alerts-*.json")]
    return {
        "single_file": (old_dir / "alerts.json").stat().st_size,
        "hot_file": (new_dir / "alerts.json").stat().st_size,
        "archives": len(archives),
        "largest_archive": max(archives, default=0),
    }


def main() -> None:
    result: dict[str, Any] = {"benchmark": "alert_store"}
    record_bytes = len(json.dumps(closed_alert(0, 1).to_record(), separators=(",", ":")))
    result["setup"] = {
        "rounds": {"open_save": ROUNDS, "closing_save": CLOSINGS},
        "closed_alert_record_bytes": record_bytes,
        "closed_alerts_spread_over_months": MONTHS,
    }
    for closed_count in (0, 5000):
        closed = [closed_alert(i, closed_count) for i in range(closed_count)]
        with tempfile.TemporaryDirectory() as tmp:
            old_dir, new_dir = Path(tmp) / "single", Path(tmp) / "hot"
            old_dir.mkdir()
            baseline = measure(Single(old_dir / "alerts.json", closed))
            new = measure(HotFile(new_dir / "alerts.json", closed))
            files = sizes(old_dir, new_dir)
        entry: dict[str, Any] = {"files_after_bytes": files}
        for what in ("open_save", "closing_save"):
            old, fresh = baseline[what], new[what]
            entry[what] = {
                "baseline_single_file": old,
                "hot_file": fresh,
                "ratio_hot_to_single_p50": round(fresh["p50_ms"] / max(old["p50_ms"], 1e-6), 3),
                "ratio_hot_to_single_p99": round(fresh["p99_ms"] / max(old["p99_ms"], 1e-6), 3),
                "ratio_hot_to_single_cpu": round(fresh["cpu_ms_mean"] / max(old["cpu_ms_mean"], 1e-6), 3),
            }
        result[f"closed_{closed_count}"] = entry
    emit("alert_store", result)


if __name__ == "__main__":
    main()
