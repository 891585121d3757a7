"""Reports: time to acknowledge/resolve per alert, post, village, officer; weekly incidents. JSON and CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from hub.alerting.reports import PostLabel, build_report, select, to_csv
from hub.web.deps import HubDep, Viewer
from hub.web.render import json_safe
from hub.web.schemas import AlertReport

router = APIRouter(prefix="/api/reports", tags=["reports"])


class CsvResponse(Response):
    """A CSV download: declared on the route so /openapi.json says text/csv, not JSON."""

    media_type = "text/csv"


Section = Literal["alerts", "per_post", "per_village", "per_officer", "weekly"]


def _report(hub: Any, since: datetime | None, until: datetime | None, include_tests: bool) -> dict[str, Any]:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} needs a timezone, e.g. 2026-11-22T00:00:00+07:00")
    posts = {p.device_id: PostLabel(p.name, p.village) for p in hub.registry.all()}
    alerts = select(hub.alerts.all(), since, until, include_tests)
    return build_report(alerts, posts, hub.settings.timezone)


@router.get("", summary="Alert response times and incident counts (JSON)", response_model=AlertReport)
def report(
    hub: HubDep, _: Viewer, since: datetime | None = None, until: datetime | None = None, include_tests: bool = False
) -> dict[str, Any]:
    return json_safe(_report(hub, since, until, include_tests))  # stored names: strict JSON whatever they hold


@router.get("/{section}.csv", summary="One report section as CSV", response_class=CsvResponse)
def report_csv(
    section: Section,
    hub: HubDep,
    _: Viewer,
    since: datetime | None = None,
    until: datetime | None = None,
    include_tests: bool = False,
) -> Response:
    rows = _report(hub, since, until, include_tests)[section]
    return Response(
        to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="poskamling-{section}.csv"'},
    )
