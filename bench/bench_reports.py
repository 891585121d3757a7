"""What the reports page (/reports, issue 15) costs to compute over a realistic month, against the existing
JSON report (/api/reports: hub.alerting.reports.build_report + json_safe + JSON text) as the baseline on the
same alerts, in the same run.

Data: 200 posts in 20 villages; a month (November 2026, WIB) of ALERTS_PER_MONTH alerts (about 40 %
incidents: panic, tamper, residents' reports; the rest offline, motion, camera), each opened, paged,
notified, most acknowledged and resolved (a 5-entry timeline), in a SQLite store (the hub's default)
on disk. Then HISTORY_MONTHS more months of the same are added before it, and the month is read again:
the page reads its range by an indexed scan, so the read should not grow with the history.

Samples (wall clock, ROUNDS each, after one warm-up):
  - read_all: `alerts_opened` (hub/web/alert_history.py), every alert of the month, whole (range scan,
    4 reads per 500 alerts: ids, rows, timelines, event ids): the input the JSON report needs;
  - read_incidents: the page's read (`read_incidents`): incident kinds only, rows without timelines
    (1 read per 500); with and without the older history stored;
  - baseline_json: the existing JSON report's computation on all the month's alerts
    (build_report, json_safe, JSON text);
  - page_figures: `incident_report` (p50/p90 per village and officer, per post, hour of week);
  - page_render: figures + SVG charts + the Jinja template to HTML (what /reports does after the read).
Ratios are page / baseline (computation alone, and read + computation). The load average (1 min) before
and after goes into the results.

Run: nice -n 10 .venv/bin/python bench/bench_reports.py   (JSON to stdout and bench/results/reports.json)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CpuSteal, emit
from hub.alerting import rules
from hub.alerting.reports import PostLabel, build_report, incident_report, select
from hub.alerting.rules import Alert, AlertKind, Outcome
from hub.alerting.sql_store import SqlAlertRepository
from hub.storage.sql.database import Database
from hub.web.alert_history import alerts_opened
from hub.web.render import json_safe
from hub.web.routes.dashboard import TEMPLATES, page_context
from hub.web.routes.reports_page import Figures, ReportRange, page_values, read_incidents

POSTS = 200
VILLAGES = 20
ALERTS_PER_MONTH = int(os.environ.get("BENCH_ALERTS", "3000"))
HISTORY_MONTHS = int(os.environ.get("BENCH_HISTORY_MONTHS", "6"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
ZONE = "Asia/Jakarta"
CHOSEN = ReportRange(datetime(2026, 11, 1).date(), datetime(2026, 11, 30).date(), ZONE)
OFFICERS = [f"Bripka Petugas {n:02d}" for n in range(25)]
KINDS = [AlertKind.PANIC] * 2 + [AlertKind.TAMPER, AlertKind.REPORT] + [AlertKind.OFFLINE, AlertKind.MOTION] * 2
KINDS += [AlertKind.CAMERA, AlertKind.MOTION]


def labels() -> dict[str, PostLabel]:
    return {f"pos-{n:03d}": PostLabel(f"Pos Kamling RW {n:03d}", f"Desa {n % VILLAGES:02d}") for n in range(POSTS)}


def alert(index: int, start: datetime, span: timedelta, count: int) -> Alert:
    """One alert of a month: opened, paged, notified; 9 in 10 acknowledged, 8 in 10 resolved."""
    at = start + span * index / count
    if index % 3 == 0:  # a third in the evening, 20:00 to 24:00 local time (`start` is local midnight)
        at = start + timedelta(days=(index * span.days) // count, hours=20 + index % 4, minutes=index % 60)
    kind = KINDS[index % len(KINDS)]
    item = rules.open_alert(f"pos-{(index * 7) % POSTS:03d}", kind, at)
    officer = OFFICERS[index % len(OFFICERS)]
    item = rules.escalation_step(item, 1, at + timedelta(minutes=2), at, f"level 1; page: {officer}")
    item = rules.mark_notified(item, [officer], at + timedelta(seconds=2))
    if index % 10:
        item = rules.acknowledge(item, officer, "link", at + timedelta(seconds=20 + (index * 37) % 900))
    if index % 5:
        outcome = Outcome.FALSE_ALARM if index % 11 == 0 else Outcome.REAL
        item = rules.resolve(item, officer, outcome, None, at + timedelta(seconds=600 + (index * 53) % 5400))
    return item


def month(start: datetime, days: int) -> list[Alert]:
    return [alert(i, start, timedelta(days=days), ALERTS_PER_MONTH) for i in range(ALERTS_PER_MONTH)]


def timed(work: Callable[[], Any], rounds: int = ROUNDS) -> dict[str, float]:
    work()  # warm-up (caches, first template compile)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 2),
        "min_ms": round(min(samples), 2),
        "max_ms": round(max(samples), 2),
    }


def main() -> None:
    load_before = os.getloadavg()[0]
    steal = CpuSteal()
    posts = labels()
    hub = SimpleNamespace(settings=SimpleNamespace(timezone=ZONE))
    template = TEMPLATES.env.get_template("dashboard/reports.html")
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as folder:
        repository = SqlAlertRepository(Database(f"sqlite:///{Path(folder) / 'hub.db'}"))
        repository.open()
        november = month(CHOSEN.since, 30)
        repository.merge(november)

        def read_all() -> list[Alert]:
            return alerts_opened([], repository, CHOSEN.since, CHOSEN.until).items

        def read() -> list[Alert]:
            return read_incidents([], repository, CHOSEN).items

        read_all_month = timed(read_all)
        read_month_only = timed(read)
        everything = read_all()
        alerts = read()
        assert len(everything) == ALERTS_PER_MONTH

        def baseline() -> str:
            report = build_report(select(everything, CHOSEN.since, CHOSEN.until), posts, ZONE)
            return json.dumps(json_safe(report), ensure_ascii=False, allow_nan=False)

        def figures() -> Any:
            return incident_report(alerts, posts, ZONE, CHOSEN.since, CHOSEN.until)

        def page() -> str:
            found = Figures(figures(), False, False)
            values = page_values(found, CHOSEN, None, "id")
            context = page_context(hub, "id", None, "/reports")  # type: ignore[arg-type]
            return template.render(context | values)

        baseline_json = timed(baseline)
        page_figures = timed(figures)
        page_render = timed(page)
        html_bytes = len(page().encode())
        json_bytes = len(baseline().encode())
        report = figures()

        for back in range(1, HISTORY_MONTHS + 1):
            repository.merge(month(CHOSEN.since - timedelta(days=30 * back), 30))
        read_with_history = timed(read)
        assert len(read()) == len(alerts)
        stored = repository.count()
        repository.database.close()

    result = {
        "benchmark": "reports",
        "posts": POSTS,
        "villages": VILLAGES,
        "alerts_in_month": ALERTS_PER_MONTH,
        "incidents_in_month": report.incidents,
        "alerts_stored_after_history": stored,
        "rounds": ROUNDS,
        "read_all_month_whole": read_all_month,
        "read_incidents_month": read_month_only,
        "read_incidents_month_with_history": read_with_history,
        "baseline_json_report": baseline_json,
        "page_figures": page_figures,
        "page_render": page_render,
        "baseline_total_median_ms": round(read_all_month["median_ms"] + baseline_json["median_ms"], 2),
        "page_total_median_ms": round(read_month_only["median_ms"] + page_render["median_ms"], 2),
        "ratios": {
            "page_figures_vs_baseline": round(page_figures["median_ms"] / baseline_json["median_ms"], 3),
            "page_render_vs_baseline": round(page_render["median_ms"] / baseline_json["median_ms"], 3),
            "page_total_vs_baseline_total": round(
                (read_month_only["median_ms"] + page_render["median_ms"])
                / (read_all_month["median_ms"] + baseline_json["median_ms"]),
                3,
            ),
            "read_with_history_vs_month_only": round(read_with_history["median_ms"] / read_month_only["median_ms"], 3),
        },
        "html_bytes": html_bytes,
        "baseline_json_bytes": json_bytes,
        "load_1min_before": round(load_before, 2),
        "load_1min_after": round(os.getloadavg()[0], 2),
        "cpu_steal_percent": steal.percent(),
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    emit("reports", result)


if __name__ == "__main__":
    main()
