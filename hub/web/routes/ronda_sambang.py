"""Ronda & Sambang (issue 14): the dashboard page, and the weekly village report (printable page and CSV).

* `/ronda-sambang`: tonight per post (who checked in, when last, missed rounds, the last police
  visit); the last seven nights per village (ronda compliance, visits per post); and the *rawan*
  posts: incidents in the last 30 days and no visit in the last 7, the ones to visit first.
  A page of its own rather than more columns on `/ronda`: that page is the guards' and the
  roster's, this one is the Polsek's overview across ronda, sambang and incidents.
* `/ronda-sambang/laporan?village=&week=2026-W47`: one village's week, for the Bhabinkamtibmas and
  the Kapolsek, laid out for paper (print CSS, no script). Default week: the last full week in
  the hub's time zone.
* `/ronda-sambang/laporan.csv?village=&week=`: the same figures per post, a total row last;
  column names in the page's language; cells a spreadsheet would run as a formula neutralised
  (hub/alerting/reports.py `to_csv`).

An account limited to villages sees only those villages: other villages' posts are left out of
the page, and asking for another village's report answers 404, as on the ronda routes.
The figures are computed by hub/community/village_report.py; this module only fetches its inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from hub.accounts.auth import Principal
from hub.alerting.reports import to_csv
from hub.alerting.rules import Alert
from hub.community import village_report as vr
from hub.community.store import Visit
from hub.i18n import Translator
from hub.ronda.roster import same_village
from hub.service import HubService
from hub.settings import PostSettings
from hub.storage.events import EventQuery
from hub.web.deps import HubDep, Viewer
from hub.web.routes.dashboard import language_of, page_session, render
from hub.web.routes.ronda import visible_posts
from kamling.protocol import EventKind

log = logging.getLogger(__name__)

router = APIRouter(tags=["ronda-sambang"], include_in_schema=False)

CHECKIN_PAGE = 1000
MAX_CHECKINS = 200_000
"""A bound on the check-ins read for one report (a week of 500 posts at one per round is ~25,000)."""
MAX_VISITS = 100_000
CLOCK_SLACK = timedelta(days=2)
"""Check-ins are judged at the hub's arrival time, but the log is indexed by the post's clock: read
this much around the period, then filter on arrival."""


# -- inputs -----------------------------------------------------------------------------------------


def _alerts(hub: HubService, since: datetime, until: datetime) -> list[Alert]:
    """Alerts opened in [since, until): the SQL history (older than what the service keeps in memory),
    with the service's own copies winning (newer, and possibly not yet written)."""
    found: dict[str, Alert] = {}
    scan = getattr(hub.alerts.repository, "scan", None)
    if scan is not None:
        try:
            found = {a.id: a for a in scan(since, until, include_tests=False)}
        except Exception:  # the database away: the report shows what the hub holds in memory
            log.exception("ronda-sambang: alert history unavailable; using the alerts in memory")
    for alert in hub.alerts.all():
        if since <= alert.opened_at < until:
            found[alert.id] = alert
    return list(found.values())


def _checkin_records(hub: HubService, since: datetime, until: datetime) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor: str | None = None
    offset = 0
    while len(records) < MAX_CHECKINS:
        page = hub.store.query(
            EventQuery(
                kind=EventKind.CHECKIN.value,
                since=since - CLOCK_SLACK,
                until=until + CLOCK_SLACK,
                include_tests=False,
                limit=CHECKIN_PAGE,
                offset=offset,
                cursor=cursor,
            )
        )
        records.extend(page.items)
        if page.next_cursor:
            cursor = page.next_cursor
        elif len(page.items) == CHECKIN_PAGE and cursor is None:
            offset += CHECKIN_PAGE  # a store without cursors pages by offset
        else:
            break
    return records


def _visits(hub: HubService, since: datetime, until: datetime) -> list[Visit]:
    return [v for v in hub.community.store.visits(since=since, limit=MAX_VISITS) if v.at < until]


def _last_visits(hub: HubService, posts: Iterable[PostSettings]) -> dict[str, datetime | None]:
    result: dict[str, datetime | None] = {}
    for post in posts:
        last = hub.community.store.last_visit(post.device_id)
        result[post.device_id] = last.at if last else None
    return result


def _villages(posts: Iterable[PostSettings]) -> list[str]:
    seen: dict[str, str] = {}
    for post in posts:
        seen.setdefault(post.village.strip().casefold(), post.village)
    return sorted(seen.values(), key=str.casefold)


def _now(hub: HubService) -> datetime:
    """The ronda watch's clock: "tonight" and "the last full week" agree with the watch (tests inject it)."""
    return hub.ronda.clock()


def duration(seconds: float | None) -> str:
    """Seconds as H:MM:SS (the same in both languages); `-` when there is none."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


# -- the dashboard page -----------------------------------------------------------------------------


@router.get("/ronda-sambang", response_class=HTMLResponse)
def overview(request: Request, hub: HubDep) -> Response:
    session = page_session(request, hub)
    posts = visible_posts(hub, session.principal)
    now = _now(hub)
    zone = hub.settings.timezone
    roster = hub.ronda.store.roster()
    last_visits = _last_visits(hub, posts)
    tonight = hub.ronda.tonight(posts, now)

    since = now - timedelta(days=vr.RAWAN_INCIDENT_DAYS)
    alerts = _alerts(hub, since, now + timedelta(seconds=1))
    rawan = vr.rawan_posts(posts, alerts, last_visits, now)

    week_since = now - timedelta(days=vr.RECENT_NIGHTS)
    checkins = vr.checkins_by_post(_checkin_records(hub, week_since - timedelta(days=1), now))
    visits = _visits(hub, week_since, now + timedelta(seconds=1))
    villages = []
    for village in _villages(posts):
        nights = vr.recent_nights(roster.hours_for(village), now, zone)
        villages.append(
            vr.village_figures(
                village, posts, nights, week_since, now + timedelta(seconds=1), roster, checkins, visits, alerts, zone
            )
        )
    names = {p.device_id: p for p in posts}
    return render(
        request,
        hub,
        "dashboard/ronda_sambang.html",
        session,
        tonight=tonight,
        last_visits=last_visits,
        rawan=rawan,
        rawan_devices={r.device for r in rawan},
        villages=villages,
        names=names,
        report_week=vr.last_full_week(now, zone).label,
    )


# -- the weekly village report ----------------------------------------------------------------------


def _chosen(
    hub: HubService, principal: Principal, village: str | None, week: str | None
) -> tuple[str, vr.Week, list[PostSettings], list[str]]:
    posts = visible_posts(hub, principal)
    villages = _villages(posts)
    if not villages:
        raise HTTPException(404, "no village")
    if village is None or not village.strip():
        village = villages[0]
    found = next((v for v in villages if same_village(v, village)), None)
    if found is None:  # another village's report is not this account's to know of
        raise HTTPException(404, "no such village")
    zone = hub.settings.timezone
    try:
        chosen = vr.parse_week(week, zone) if week else vr.last_full_week(_now(hub), zone)
    except ValueError:
        raise HTTPException(422, "week must be an ISO week like 2026-W47") from None
    return found, chosen, posts, villages


def _figures(hub: HubService, village: str, week: vr.Week, posts: list[PostSettings]) -> vr.VillageFigures:
    roster = hub.ronda.store.roster()
    checkins = vr.checkins_by_post(_checkin_records(hub, week.start, week.end + timedelta(days=1)))
    visits, alerts = _visits(hub, week.start, week.end), _alerts(hub, week.start, week.end)
    return vr.village_figures(
        village, posts, week.nights, week.start, week.end, roster, checkins, visits, alerts, hub.settings.timezone
    )


@router.get("/ronda-sambang/laporan", response_class=HTMLResponse)
def village_report(request: Request, hub: HubDep, village: str | None = None, week: str | None = None) -> Response:
    session = page_session(request, hub)
    name, chosen, posts, villages = _chosen(hub, session.principal, village, week)
    figures = _figures(hub, name, chosen, posts)
    return render(
        request,
        hub,
        "dashboard/village_report.html",
        session,
        figures=figures,
        week=chosen,
        villages=villages,
        last_day=chosen.end - timedelta(days=1),
        duration=duration,
        csv_query=f"village={quote(name, safe='')}&week={chosen.label}",
        generated=_now(hub),
    )


@router.get("/ronda-sambang/laporan.csv", response_class=Response)
def village_report_csv(
    request: Request, hub: HubDep, principal: Viewer, village: str | None = None, week: str | None = None
) -> Response:
    name, chosen, posts, _ = _chosen(hub, principal, village, week)
    figures = _figures(hub, name, chosen, posts)
    t = Translator(language_of(request, hub))
    rows = vr.csv_rows(figures, chosen.label, t("vr_total"))
    named = [{t(f"vr_csv_{column}"): row[column] for column in vr.CSV_COLUMNS} for row in rows]
    # the file name carries the week only: a village name is not safe in a header without encoding
    return Response(
        to_csv(named),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="laporan-desa-{chosen.label}.csv"',
            "Cache-Control": "no-store",
        },
    )
