"""The reports page (issue 15): response times per village and per officer, incidents per post, and the
hour-of-week heat map of incidents (the *jam rawan*), for a chosen range of days, with CSV per table.

* `/reports?since=2026-11-01&until=2026-11-30&include_tests=1`: local dates in the hub's time zone,
  both days included; default the last 30 days up to today. A bad value answers 422 with the page and a
  message naming the field (never a 500).
* `/reports/<table>.csv?since=&until=&include_tests=`: `village`, `officer`, `post` or `hour`, the same
  range; column names in the reader's language; cells a spreadsheet would run neutralised (`to_csv`).

Operators and admins (the figures name officers and how fast they answered); viewers and technicians
get 403. An account limited to villages (`Principal.villages`) sees only its villages' posts: the scope
goes into `incident_report(villages=...)`, so any other way of scoping an account only has to pass its
set of villages there. The figures are computed by hub/alerting/reports.py `incident_report`; alerts are
read by an indexed range scan of the SQL history (hub/web/alert_history.py `alerts_opened`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from hub.accounts.auth import Principal
from hub.alerting.reports import INCIDENT_KINDS, RESPONSE_COLUMNS, IncidentReport, PostLabel, incident_report, to_csv
from hub.alerting.rules import Alert
from hub.i18n import Translator, weekday_names
from hub.service import HubService
from hub.web.alert_history import AlertsInRange, alerts_opened
from hub.web.charts import Series, bar_chart, heat_map
from hub.web.deps import HubDep, Operator
from hub.web.routes.dashboard import can_operate, language_of, page_session, render
from hub.web.routes.ronda import visible_posts
from hub.web.routes.ronda_sambang import duration

router = APIRouter(tags=["reports"], include_in_schema=False)

DEFAULT_DAYS = 30
MAX_DAYS = 366
EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)
CHART_ROWS = 20  # the longest bar chart; its table beside it lists every row
TOP_HOURS = 10
Table = Literal["village", "officer", "post", "hour"]
_TRUE = ("1", "true", "on", "yes")
_FALSE = ("", "0", "false", "off", "no")
UNPROCESSABLE = 422  # (Starlette renamed its constant; the number is the contract)


# -- the range ----------------------------------------------------------------------------------------


class RangeError(ValueError):
    """A range field that is not usable: `field` names it, `key` is the i18n message."""

    def __init__(self, field: str, key: str) -> None:
        super().__init__(f"{field}: {key}")
        self.field = field
        self.key = key


@dataclass(frozen=True)
class ReportRange:
    first: date  # local dates, both included
    last: date
    zone: str
    include_tests: bool = False

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=ZoneInfo(self.zone))

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=ZoneInfo(self.zone))

    def query(self, **extra: str) -> str:
        values = {"since": self.first.isoformat(), "until": self.last.isoformat()}
        if self.include_tests:
            values["include_tests"] = "1"
        return urlencode(values | extra)


def _day(field: str, value: str) -> date:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise RangeError(field, "rp_err_date") from None
    if not EARLIEST <= day <= LATEST:
        raise RangeError(field, "rp_err_date")
    return day


def parse_range(since: str | None, until: str | None, include_tests: str | None, today: date, zone: str) -> ReportRange:
    """The range a person asked for (YYYY-MM-DD, local dates, both days included); missing ends
    default to the last DEFAULT_DAYS days up to `today`. RangeError names the first bad field."""
    asked = _day("since", since) if since and since.strip() else None  # fields checked in the form's order
    last = _day("until", until) if until and until.strip() else today
    first = asked or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise RangeError("until", "rp_err_order")
    if (last - first).days + 1 > MAX_DAYS:
        raise RangeError("since", "rp_err_span")
    flag = (include_tests or "").strip().lower()
    if flag not in _TRUE + _FALSE:
        raise RangeError("include_tests", "rp_err_flag")
    return ReportRange(first, last, zone, flag in _TRUE)


# -- inputs -------------------------------------------------------------------------------------------


def scope_of(principal: Principal) -> Collection[str] | None:
    """The villages an account may see; None: all of them."""
    return tuple(principal.villages) or None


@dataclass(frozen=True)
class Figures:
    report: IncidentReport
    from_memory_only: bool
    capped: bool


def read_incidents(memory: Iterable[Alert], repository: object, chosen: ReportRange) -> AlertsInRange:
    """The alerts the page counts: incident kinds opened in the range, without timelines (a light read)."""
    return alerts_opened(
        memory, repository, chosen.since, chosen.until, chosen.include_tests, kinds=INCIDENT_KINDS, whole=False
    )


def figures(hub: HubService, chosen: ReportRange, villages: Collection[str] | None, posts: Any) -> Figures:
    labels = {p.device_id: PostLabel(p.name, p.village) for p in posts}
    found = read_incidents(hub.alerts.all(), hub.alerts.repository, chosen)
    report = incident_report(
        found.items,
        labels,
        hub.settings.timezone,
        chosen.since,
        chosen.until,
        include_tests=chosen.include_tests,
        villages=villages,
    )
    return Figures(report, found.from_memory_only, found.capped)


def _today(hub: HubService) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(hub.settings.timezone)).date()


# -- the page -----------------------------------------------------------------------------------------


def _charts(report: IncidentReport, t: Translator, lang: str) -> dict[str, Any]:
    def seconds(value: float) -> str:
        return duration(value)

    def response_chart(chart_id: str, rows: list[dict[str, Any]], name: str, title: str) -> Any:
        shown = sorted(rows, key=lambda r: -(r["tta_p90"] or 0))[:CHART_ROWS]
        return bar_chart(
            chart_id,
            title,
            t("rp_response_desc", count=len(rows)),
            [str(r[name]) for r in shown],
            [
                Series(t("rp_tta_p50"), [r["tta_p50"] for r in shown]),
                Series(t("rp_tta_p90"), [r["tta_p90"] for r in shown]),
            ],
            seconds,
            t("rp_none"),
        )

    posts = report.per_post[:CHART_ROWS]
    days = weekday_names(lang)
    return {
        "village": response_chart("tta-village", report.per_village, "village", t("rp_by_village")),
        "officer": response_chart("tta-officer", report.per_officer, "officer", t("rp_by_officer")),
        "post": bar_chart(
            "incidents-post",
            t("rp_by_post"),
            t("rp_post_desc", count=len(report.per_post)),
            [r["post"] or r["device"] for r in posts],
            [Series(t("rp_incidents"), [float(r["incidents"]) for r in posts])],
            lambda v: str(round(v)),
            t("rp_none"),
        ),
        "hour": heat_map(
            "jam-rawan",
            t("rp_heat_title"),
            t("rp_heat_desc", count=report.incidents),
            report.hour_of_week,
            days,
            lambda day, hour, count: t("rp_heat_cell", day=day, hour=f"{hour:02d}", count=count),
        ),
    }


def _top_hours(report: IncidentReport, lang: str) -> list[dict[str, Any]]:
    """The busiest hours of the week, most incidents first (a tie: earlier in the week first)."""
    days = weekday_names(lang)
    cells = [(c, d, h) for d, row in enumerate(report.hour_of_week) for h, c in enumerate(row) if c]
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    return [{"day": days[d], "hour": f"{h:02d}:00-{(h + 1) % 24:02d}:00", "count": c} for c, d, h in cells[:TOP_HOURS]]


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    hub: HubDep,
    since: str | None = None,
    until: str | None = None,
    include_tests: str | None = None,
) -> Response:
    session = page_session(request, hub)
    if not can_operate(session.principal):
        return render(request, hub, "dashboard/not_found.html", session, status.HTTP_403_FORBIDDEN)
    lang = language_of(request, hub)
    t = Translator(lang)
    zone = hub.settings.timezone
    try:
        chosen = parse_range(since, until, include_tests, _today(hub), zone)
    except RangeError as error:
        return render(
            request,
            hub,
            "dashboard/reports.html",
            session,
            UNPROCESSABLE,
            error={"field": error.field, "message": t(error.key, field=t(f"rp_field_{error.field}"))},
            form={"since": since or "", "until": until or "", "include_tests": False},
        )
    villages = scope_of(session.principal)
    result = figures(hub, chosen, villages, visible_posts(hub, session.principal))
    return render(request, hub, "dashboard/reports.html", session, **page_values(result, chosen, villages, lang))


def page_values(result: Figures, chosen: ReportRange, villages: Collection[str] | None, lang: str) -> dict[str, Any]:
    """What the template gets besides the dashboard's own context (also for bench/bench_reports.py)."""
    t = Translator(lang)
    return {
        "error": None,
        "form": {
            "since": chosen.first.isoformat(),
            "until": chosen.last.isoformat(),
            "include_tests": chosen.include_tests,
        },
        "chosen": chosen,
        "report": result.report,
        "from_memory_only": result.from_memory_only,
        "capped": result.capped,
        "charts": _charts(result.report, t, lang),
        "top_hours": _top_hours(result.report, lang),
        "duration": duration,
        "csv_link": lambda table: f"/reports/{table}.csv?{chosen.query(lang=lang)}",
        "scope": villages,
    }


# -- CSV ----------------------------------------------------------------------------------------------

POST_COLUMNS = ("device", "post", "village", "incidents", "panic", "tamper", "incident", "report", "false_alarms")
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "village": ("village", *RESPONSE_COLUMNS),
    "officer": ("officer", *RESPONSE_COLUMNS),
    "post": POST_COLUMNS,
    "hour": ("weekday",),  # then 00..23 (the hour table always has its 7 rows)
}


def csv_rows(report: IncidentReport, table: Table, t: Translator, lang: str) -> list[dict[str, Any]]:
    """One table of the page as rows for `to_csv`, column names in the reader's language."""

    def named(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
        return {t(f"rp_csv_{c}"): row[c] for c in columns}

    if table == "village":
        return [named(r, CSV_COLUMNS[table]) for r in report.per_village]
    if table == "officer":
        return [named(r, CSV_COLUMNS[table]) for r in report.per_officer]
    if table == "post":
        return [named(r, CSV_COLUMNS[table]) for r in report.per_post]
    days = weekday_names(lang)
    return [
        {t("rp_csv_weekday"): days[d], **{f"{h:02d}": c for h, c in enumerate(row)}}
        for d, row in enumerate(report.hour_of_week)
    ]


@router.get("/reports/{table}.csv", response_class=Response)
def reports_csv(
    request: Request,
    table: Table,
    hub: HubDep,
    principal: Operator,
    since: str | None = None,
    until: str | None = None,
    include_tests: str | None = None,
) -> Response:
    lang = language_of(request, hub)
    t = Translator(lang)
    try:
        chosen = parse_range(since, until, include_tests, _today(hub), hub.settings.timezone)
    except RangeError as error:
        raise HTTPException(UNPROCESSABLE, t(error.key, field=t(f"rp_field_{error.field}"))) from None
    result = figures(hub, chosen, scope_of(principal), visible_posts(hub, principal))
    rows = csv_rows(result.report, table, t, lang)
    name = f"poskamling-{table}-{chosen.first.isoformat()}-{chosen.last.isoformat()}.csv"
    body = to_csv(rows) if rows else ",".join(t(f"rp_csv_{c}") for c in CSV_COLUMNS[table]) + "\n"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
