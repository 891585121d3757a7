"""Pure reports: time to acknowledge and to resolve, per alert, post, village and officer;
incident counts per post per week, so the Polsek sees which areas are *rawan*.

Values in, values out: alerts and post names go in, rows (dicts) come out; `to_csv` renders
rows for a spreadsheet (cells that a spreadsheet would run as a formula are neutralised).
"""

from __future__ import annotations

import csv
import io
import math
import re
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.alerting.rules import Alert, Outcome


@dataclass(frozen=True)
class PostLabel:
    name: str
    village: str


@dataclass(frozen=True)
class AlertTimes:
    alert_id: str
    device: str
    post: str
    village: str
    kind: str
    severity: str
    test: bool
    opened_at: str
    state: str
    acknowledged_by: str | None
    ack_channel: str | None
    escalation_level: int
    time_to_ack: float | None  # seconds
    time_to_resolve: float | None
    outcome: str | None


def alert_times(alert: Alert, posts: Mapping[str, PostLabel]) -> AlertTimes:
    label = posts.get(alert.device, PostLabel(alert.device, ""))
    tta = (alert.acknowledged_at - alert.opened_at).total_seconds() if alert.acknowledged_at else None
    ttr = (alert.resolved_at - alert.opened_at).total_seconds() if alert.resolved_at else None
    return AlertTimes(
        alert.id,
        alert.device,
        label.name,
        label.village,
        alert.kind.value,
        alert.severity.value,
        alert.test,
        alert.opened_at.isoformat(),
        alert.state.value,
        alert.acknowledged_by,
        alert.ack_channel,
        alert.escalation_level,
        tta,
        ttr,
        alert.outcome.value if alert.outcome else None,
    )


def select(
    alerts: Iterable[Alert], since: datetime | None = None, until: datetime | None = None, include_tests: bool = False
) -> list[Alert]:
    """Alerts opened in [since, until), tests only when asked for."""
    return [
        a
        for a in alerts
        if (include_tests or not a.test)
        and (since is None or a.opened_at >= since)
        and (until is None or a.opened_at < until)
    ]


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "max": None}
    return {
        "mean": round(statistics.fmean(values), 1),
        "median": round(statistics.median(values), 1),
        "max": round(max(values), 1),
    }


def summarize(times: Iterable[AlertTimes], key: Callable[[AlertTimes], str | None], name: str) -> list[dict[str, Any]]:
    """One row per group: counts, and mean/median/max of time to acknowledge and to resolve (seconds)."""
    groups: dict[str, list[AlertTimes]] = {}
    for item in times:
        group = key(item)
        if group is not None:
            groups.setdefault(group, []).append(item)
    rows = []
    for group, items in sorted(groups.items()):
        tta = _stats([i.time_to_ack for i in items if i.time_to_ack is not None])
        ttr = _stats([i.time_to_resolve for i in items if i.time_to_resolve is not None])
        rows.append(
            {
                name: group,
                "alerts": len(items),
                "acknowledged": sum(1 for i in items if i.time_to_ack is not None),
                "resolved": sum(1 for i in items if i.time_to_resolve is not None),
                "escalated": sum(1 for i in items if i.escalation_level > 1),
                "real": sum(1 for i in items if i.outcome == Outcome.REAL.value),
                "false_alarm": sum(1 for i in items if i.outcome == Outcome.FALSE_ALARM.value),
                **{f"tta_{k}": v for k, v in tta.items()},
                **{f"ttr_{k}": v for k, v in ttr.items()},
            }
        )
    return rows


def weekly_incidents(alerts: Iterable[Alert], posts: Mapping[str, PostLabel], zone: str) -> list[dict[str, Any]]:
    """Incidents (non-test alerts) per post per ISO week of local time, with counts by kind."""
    tz = ZoneInfo(zone)
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for alert in alerts:
        if alert.test:
            continue
        year, week, _ = alert.opened_at.astimezone(tz).isocalendar()
        bucket = counts.setdefault((f"{year}-W{week:02d}", alert.device), {})
        bucket[alert.kind.value] = bucket.get(alert.kind.value, 0) + 1
        if alert.outcome is Outcome.REAL:
            bucket["real"] = bucket.get("real", 0) + 1
    rows = []
    for (week_label, device), kinds in sorted(counts.items()):
        label = posts.get(device, PostLabel(device, ""))
        real = kinds.pop("real", 0)
        rows.append(
            {
                "week": week_label,
                "device": device,
                "post": label.name,
                "village": label.village,
                "incidents": sum(kinds.values()),
                "real": real,
                **{k: kinds.get(k, 0) for k in ("panic", "tamper", "offline", "camera", "motion")},
            }
        )
    return rows


def build_report(alerts: Iterable[Alert], posts: Mapping[str, PostLabel], zone: str) -> dict[str, Any]:
    chosen = list(alerts)
    times = [alert_times(a, posts) for a in chosen]
    return {
        "alerts": [asdict(t) for t in times],
        "per_post": summarize(times, lambda t: t.device, "device"),
        "per_village": summarize(times, lambda t: t.village or "-", "village"),
        "per_officer": summarize(times, lambda t: t.acknowledged_by, "officer"),
        "weekly": weekly_incidents(chosen, posts, zone),
    }


# What a spreadsheet may run as a formula when a cell starts with it (OWASP "CSV injection"), and the
# full-width forms some spreadsheets fold to the same characters. Leading blanks are skipped first:
# some spreadsheets trim them before they look.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_SURROGATES = re.compile("[\ud800-\udfff]")


def _cell(value: Any) -> Any:
    """One CSV cell that is safe to open and to encode as UTF-8, whatever the stored value was."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        # a number of more than 4300 digits cannot even be printed (str() raises): no report needs it
        return value if value.bit_length() <= 13_000 else "'#too-large"
    if isinstance(value, float):
        return value if math.isfinite(value) else ""
    try:
        text = value if isinstance(value, str) else repr(value)
    except Exception:  # RecursionError on a deeply nested value, a hostile __repr__
        return "#bad-value"
    text = _SURROGATES.sub("\ufffd", text)  # a lone surrogate (valid JSON, not Unicode) cannot be written as UTF-8
    if text.lstrip(" ").startswith(_FORMULA_START):
        return "'" + text  # a post name like "=HYPERLINK(...)" must not run in a spreadsheet
    return text


def to_csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()
