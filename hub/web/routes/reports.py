"""Reports: time to acknowledge/resolve per alert, post, village, officer; weekly incidents. JSON and CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from hub.accounts.auth import Principal
from hub.alerting.reports import PostLabel, build_report, select, to_csv
from hub.web.alert_history import alerts_opened
from hub.web.deps import HubDep, Viewer, scope
from hub.web.render import json_safe
from hub.web.schemas import AlertReport

router = APIRouter(prefix="/api/reports", tags=["reports"])
DEFAULT_RANGE = timedelta(days=30)
"""Without `since`: the last 30 days (the reports page's default too). The alerts of the range are read
from the SQL history by a range scan, not only the open and recent ones the hub keeps in memory."""


class CsvResponse(Response):
    """A CSV download: declared on the route so /openapi.json says text/csv, not JSON."""

    media_type = "text/csv"


Section = Literal["alerts", "per_post", "per_village", "per_officer", "weekly"]


def _report(
    hub: Any, who: Principal, since: datetime | None, until: datetime | None, include_tests: bool
) -> dict[str, Any]:
    """The report over the caller's scope: an account limited to villages counts only their posts' alerts."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} needs a timezone, e.g. 2026-11-22T00:00:00+07:00")
    seen = scope(who)
    posts = {p.device_id: PostLabel(p.name, p.village) for p in seen.posts(hub.registry)}
    end = until or datetime.now(UTC)
    start = since or end - DEFAULT_RANGE
    history = alerts_opened(hub.alerts.all(), hub.alerts.repository, start, end, include_tests=include_tests)
    alerts = select(seen.keep(hub.registry, history.items), start, end, include_tests)
    return build_report(alerts, posts, hub.settings.timezone)


@router.get("", summary="Alert response times and incident counts (JSON)", response_model=AlertReport)
def report(
    hub: HubDep, who: Viewer, since: datetime | None = None, until: datetime | None = None, include_tests: bool = False
) -> dict[str, Any]:
    return json_safe(_report(hub, who, since, until, include_tests))  # stored names: strict JSON whatever they hold


@router.get("/{section}.csv", summary="One report section as CSV", response_class=CsvResponse)
def report_csv(
    section: Section,
    hub: HubDep,
    who: Viewer,
    since: datetime | None = None,
    until: datetime | None = None,
    include_tests: bool = False,
) -> Response:
    rows = _report(hub, who, since, until, include_tests)[section]
    return Response(
        to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="poskamling-{section}.csv"'},
    )
