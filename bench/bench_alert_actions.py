"""What issue 15 adds to every alert page render: the kind's procedure (an admin's TinyDB file,
cached by file identity) and the officers to assign (the stored roster, cached, with who is on
duty now), against the baseline of the same run: building the alert's own view (alert_view),
which every alert page and every live refresh of it already does, and rendering the whole alert
page (Jinja, procedure and officers included). Also a note's cost on the alert
path (AlertService.add_note: rule, in-memory update, listeners, queued SQL save) against an
acknowledgement's (the same path, measured the same way).

Run: nice -n 10 .venv/bin/python bench/bench_alert_actions.py   (JSON, bench/results/alert_actions.json)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CpuSteal, emit, percentiles
from hub.alerting.rules import AlertKind, Outcome
from hub.alerting.service import AlertService
from hub.alerting.sql_store import SqlAlertRepository
from hub.duty.roster import Officer
from hub.paging.notify import RecordingNotifier
from hub.paging.pager import ThreadPager
from hub.posts.registry import PostRegistry
from hub.settings import HubSettings
from hub.storage.sql.database import Database
from hub.web.alert_extras import alert_extras
from hub.web.routes.dashboard import TEMPLATES, page_context
from hub.web.views import alert_view
from kamling.protocol import Event, EventKind, new_event_id

ROUNDS = 2000
OFFICERS = 50


def timed(action: Callable[[], object], rounds: int = ROUNDS) -> dict[str, float]:
    for _ in range(50):  # warm caches and code paths
        action()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def main() -> None:
    steal = CpuSteal()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = HubSettings(
            mqtt_password="x",
            data_dir=data,
            posts=[{"device_id": "pos-a", "name": "Pos A", "village": "Desa 3", "lat": -7.8, "lon": 110.3}],
            fallback_urls=["json://sink/piket"],
        )
        notifier = RecordingNotifier()
        service = AlertService(
            settings,
            {p.device_id: p for p in settings.posts}.get,
            ThreadPager(notifier),
            lambda device, update: None,
            SqlAlertRepository(Database(f"sqlite:///{data / 'hub.db'}")),
            run_timer=False,
        )
        for i in range(OFFICERS):
            service.officers.put_officer(
                Officer(id=f"o{i}", name=f"Officer {i}", villages=(f"Desa {i % 20}",), urls=(f"json://sink/o{i}",))
            )
        service.procedures.put(AlertKind.PANIC, "1. Hubungi piket.\n2. Kirim unit.", "admin", datetime.now(UTC))
        service.start()
        hub: Any = SimpleNamespace(alerts=service, registry=PostRegistry(settings.posts), settings=settings)

        def panic() -> Any:
            event = Event(id=new_event_id(), device="pos-a", seq=1, kind=EventKind.PANIC, ts=datetime.now(UTC))
            return service.handle_event(event)

        alert = panic()
        baseline_view = timed(lambda: alert_view(hub, alert))
        extras = timed(lambda: alert_extras(hub, alert, "id"))
        template = TEMPLATES.env.get_template("dashboard/alert.html")
        context = page_context(hub, "id", None, f"/alerts/{alert.id}") | {
            "alert": alert_view(hub, alert),
            "post": settings.posts[0],
            "snapshots": [],
            "outcomes": ["real", "false_alarm", "test"],
            "can_operate": True,
            **alert_extras(hub, alert, "id"),
        }
        page = timed(lambda: template.render(context), rounds=500)

        def on_fresh_alert(action: Callable[[str], object], rounds: int = 300) -> dict[str, float]:
            """`action` on a new open alert each time (a second acknowledgement changes nothing)."""
            samples = []
            for _ in range(rounds):
                fresh = panic()
                start = time.perf_counter()
                action(fresh.id)
                samples.append((time.perf_counter() - start) * 1000)
                service.resolve(fresh.id, "operator1", Outcome.TEST, None)
            return percentiles(samples)

        acks = on_fresh_alert(lambda alert_id: service.acknowledge(alert_id, "operator1", "bench"))
        notes = on_fresh_alert(lambda alert_id: service.add_note(alert_id, "operator1", "catatan operator"))
        service.repository.flush()  # type: ignore[attr-defined]
        service.stop()
    result = {
        "officers": OFFICERS,
        "alert_view_baseline": baseline_view,
        "alert_extras": extras,
        "extras_over_view_p50": round(extras["p50_ms"] / baseline_view["p50_ms"], 2),
        "alert_page_render": page,
        "extras_over_page_render_p50": round(extras["p50_ms"] / page["p50_ms"], 2),
        "ack_baseline": acks,
        "add_note": notes,
        "note_over_ack_p50": round(notes["p50_ms"] / acks["p50_ms"], 2),
        "load_before": [round(v, 2) for v in load_before],
        "load_after": [round(v, 2) for v in os.getloadavg()],
        "cpu_steal_percent": steal.percent(),
    }
    emit("alert_actions", result)


if __name__ == "__main__":
    main()
