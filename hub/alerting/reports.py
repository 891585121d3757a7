"""Pure reports: time to acknowledge and to resolve, per alert, post, village and officer;
incident counts per post per week, so the Polsek sees which areas are *rawan*; and the reports
page's figures (`incident_report`): response times as p50/p90/max per village and per officer,
incidents per post, and the hour-of-week matrix of incidents (the *jam rawan*).

Values in, values out: alerts and post names go in, rows (dicts) come out; `to_csv` renders
rows for a spreadsheet (cells that a spreadsheet would run as a formula are neutralised).
"""

from __future__ import annotations

import csv
import io
import math
import re
import statistics
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.alerting.rules import Alert, AlertKind, Outcome


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


def opened_utc(alert: Alert) -> datetime:
    """When the alert opened, timezone-aware: an old or damaged record without a zone is read as UTC,
    so comparing it with a report's range never raises (every stored value must render)."""
    opened = alert.opened_at
    return opened.replace(tzinfo=UTC) if opened.tzinfo is None else opened


def select(
    alerts: Iterable[Alert], since: datetime | None = None, until: datetime | None = None, include_tests: bool = False
) -> list[Alert]:
    """Alerts opened in [since, until), tests only when asked for."""
    return [
        a
        for a in alerts
        if (include_tests or not a.test)
        and (since is None or opened_utc(a) >= since)
        and (until is None or opened_utc(a) < until)
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


# -- incidents: the reports page and the weekly village report share this definition -----------------

INCIDENT_KINDS = (AlertKind.PANIC, AlertKind.TAMPER, AlertKind.INCIDENT, AlertKind.REPORT, AlertKind.MANUAL)
"""What counts as an incident: a panic, tampering, a resident's report, one an operator escalated, or
one reported to the Polsek by phone or in person and entered by an operator."""


def _escalated_reports(alerts: Sequence[Alert]) -> set[str]:
    """Report alerts an operator escalated: their incident is counted, not the report as well."""
    ids = {
        str(a.details["from_report"]) for a in alerts if a.kind is AlertKind.INCIDENT and a.details.get("from_report")
    }
    ids |= {a.id for a in alerts if a.kind is AlertKind.REPORT and (a.note or "").startswith("escalated: ")}
    return ids


def incidents(alerts: Iterable[Alert], include_tests: bool = False) -> list[Alert]:
    """Panic, tamper, incident and report alerts; no false alarms or false reports, an escalated
    report once (as its incident); walk tests only when asked for. Oldest first."""
    chosen = list(alerts)
    escalated = _escalated_reports(chosen)
    return sorted(
        (
            a
            for a in chosen
            if a.kind in INCIDENT_KINDS
            and (include_tests or not a.test)
            and a.outcome is not Outcome.FALSE_ALARM
            and a.id not in escalated
        ),
        key=lambda a: (a.opened_at, a.id),
    )


def false_alarms(alerts: Iterable[Alert], include_tests: bool = False) -> list[Alert]:
    """Alerts of the incident kinds closed as false (a false panic, a false resident's report)."""
    return [
        a
        for a in alerts
        if a.kind in INCIDENT_KINDS and (include_tests or not a.test) and a.outcome is Outcome.FALSE_ALARM
    ]


# -- the reports page: percentiles, incidents per post, hour of week ------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The `fraction` quantile (0..1) by linear interpolation between the closest ranks (numpy's default,
    so p50 is the median); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "max": None}
    return {
        "p50": round(percentile(values, 0.5) or 0.0, 1),
        "p90": round(percentile(values, 0.9) or 0.0, 1),
        "max": round(max(values), 1),
    }


RESPONSE_COLUMNS = (
    "count",
    "acknowledged",
    "tta_p50",
    "tta_p90",
    "tta_max",
    "resolved",
    "ttr_p50",
    "ttr_p90",
    "ttr_max",
)
"""After the group's own column: the columns of a `response_summary` row (times in seconds)."""


def response_summary(
    times: Iterable[AlertTimes], key: Callable[[AlertTimes], str | None], name: str
) -> list[dict[str, Any]]:
    """One row per group (sorted by name): how many, and p50/p90/max of time to acknowledge and to resolve."""
    groups: dict[str, list[AlertTimes]] = {}
    for item in times:
        group = key(item)
        if group is not None:
            groups.setdefault(group, []).append(item)
    rows = []
    for group, items in sorted(groups.items(), key=lambda pair: (pair[0].casefold(), pair[0])):
        tta = [i.time_to_ack for i in items if i.time_to_ack is not None]
        ttr = [i.time_to_resolve for i in items if i.time_to_resolve is not None]
        rows.append(
            {
                name: group,
                "count": len(items),
                "acknowledged": len(tta),
                **{f"tta_{k}": v for k, v in _spread(tta).items()},
                "resolved": len(ttr),
                **{f"ttr_{k}": v for k, v in _spread(ttr).items()},
            }
        )
    return rows


def incidents_per_post(
    chosen: Iterable[Alert], false: Iterable[Alert], posts: Mapping[str, PostLabel]
) -> list[dict[str, Any]]:
    """Per post with an incident or a false alarm: counts by kind; most incidents first, then by name."""
    counts: dict[str, dict[str, int]] = {}
    for alert in chosen:
        row = counts.setdefault(alert.device, {"incidents": 0, "false_alarms": 0})
        row["incidents"] += 1
        row[alert.kind.value] = row.get(alert.kind.value, 0) + 1
    for alert in false:
        counts.setdefault(alert.device, {"incidents": 0, "false_alarms": 0})["false_alarms"] += 1
    rows = []
    for device, row in counts.items():
        label = posts.get(device, PostLabel(device, ""))
        rows.append(
            {
                "device": device,
                "post": label.name,
                "village": label.village,
                "incidents": row["incidents"],
                **{k.value: row.get(k.value, 0) for k in INCIDENT_KINDS},
                "false_alarms": row["false_alarms"],
            }
        )
    return sorted(rows, key=lambda r: (-r["incidents"], r["post"].casefold(), r["device"]))


def hour_of_week(alerts: Iterable[Alert], zone: str) -> list[list[int]]:
    """Alerts per (weekday, hour) of local time in `zone`: 7 rows (Monday first) of 24 hours."""
    tz = ZoneInfo(zone)
    matrix = [[0] * 24 for _ in range(7)]
    for alert in alerts:
        local = alert.opened_at.astimezone(tz)
        matrix[local.weekday()][local.hour] += 1
    return matrix


def _village_key(village: str) -> str:
    return village.strip().casefold()  # as people type them (hub.ronda.roster.same_village)


@dataclass(frozen=True)
class IncidentReport:
    """The reports page's figures for one range (and scope)."""

    per_village: list[dict[str, Any]]  # response_summary rows, column "village"
    per_officer: list[dict[str, Any]]  # response_summary rows, column "officer" (who acknowledged)
    per_post: list[dict[str, Any]]  # incidents_per_post rows
    hour_of_week: list[list[int]]  # 7 x 24, Monday first, the hub's local time
    incidents: int
    false_alarms: int
    acknowledged: int
    resolved: int


def incident_report(
    alerts: Iterable[Alert],
    posts: Mapping[str, PostLabel],
    zone: str,
    since: datetime | None = None,
    until: datetime | None = None,
    include_tests: bool = False,
    villages: Collection[str] | None = None,
) -> IncidentReport:
    """The incidents (see `incidents`) opened in [since, until): response times per village and per
    officer, incidents per post, the hour-of-week matrix. `villages`: only the posts of these villages
    (an account limited to villages); None: every post, and alerts of posts not in `posts` too."""
    chosen = select(alerts, since, until, include_tests)
    if villages is not None:
        wanted = {_village_key(v) for v in villages}
        chosen = [a for a in chosen if a.device in posts and _village_key(posts[a.device].village) in wanted]
    real = incidents(chosen, include_tests)
    false = false_alarms(chosen, include_tests)
    times = [alert_times(a, posts) for a in real]
    return IncidentReport(
        per_village=response_summary(times, lambda t: t.village or "-", "village"),
        per_officer=response_summary(times, lambda t: t.acknowledged_by, "officer"),
        per_post=incidents_per_post(real, false, posts),
        hour_of_week=hour_of_week(real, zone),
        incidents=len(real),
        false_alarms=len(false),
        acknowledged=sum(1 for t in times if t.time_to_ack is not None),
        resolved=sum(1 for t in times if t.time_to_resolve is not None),
    )


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
