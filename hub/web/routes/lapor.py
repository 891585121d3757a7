"""Residents' quick reports (lapor cepat) from the post's QR poster, and the operators' actions on them.

`/lapor/<post token>`: a phone page in Bahasa Indonesia, no account, no app. The post-bound token
in the URL is what the form is bound to (there is no session to forge, so no CSRF token); strangers
are rate limited per address and per post with a clear message (429); the text is only ever shown
escaped. A report becomes a low-severity `report` alert on the post, live in the operators' console.

Operators: `POST /api/lapor/{alert_id}/escalate` (an `incident` alert that pages the duty chain) and
`POST /api/lapor/{alert_id}/false` (closed as a false report, counted in `/api/lapor/summary`).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from hub.accounts.auth import Principal, address_key
from hub.alerting.rules import TransitionError
from hub.community.images import PhotoError
from hub.community.links import LinkError
from hub.community.service import CATEGORIES, InvalidInput, NotAReport, RateLimited
from hub.community.store import Report
from hub.i18n import Translator
from hub.service import HubService
from hub.settings import PostSettings
from hub.storage.sql.database import StoreUnavailable
from hub.web.deps import HubDep, Operator, Viewer, scope
from hub.web.routes.community_pages import (
    BodyTooLarge,
    field,
    language,
    link_error,
    number,
    page,
    photo_bytes,
    photo_response,
    read_form,
)
from hub.web.routes.ronda import post_in_scope
from hub.web.schemas import AlertOut, ReportCounts, ResidentReportOut
from hub.web.views import alert_view

router = APIRouter(tags=["lapor"])


def _post(hub: HubDep, token: str) -> PostSettings:
    claim = hub.community.signer().verify(token, "lapor")
    post = hub.community.post(claim.subject)
    if post is None:
        raise LinkError("missing")
    return post


def _form(
    post: PostSettings,
    token: str,
    lang: str,
    status: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    return page(
        "lapor.html", lang, status, post=post, token=token, categories=CATEGORIES, error=error, values=values or {}
    )


@router.get("/lapor/{token}", response_class=HTMLResponse, include_in_schema=False)
def report_page(token: str, request: Request, hub: HubDep) -> Response:
    lang = language(request)
    try:
        post = _post(hub, token)
    except LinkError as exc:
        return link_error(exc.reason, lang)
    return _form(post, token, lang)


@router.post("/lapor/{token}", response_class=HTMLResponse, include_in_schema=False)
async def submit_report(token: str, request: Request, hub: HubDep) -> Response:
    lang = language(request)
    t = Translator(lang)
    try:
        post = _post(hub, token)
    except LinkError as exc:
        return link_error(exc.reason, lang)
    try:
        form = await read_form(request)
    except BodyTooLarge:
        return _form(post, token, lang, 413, t("community_error_too_big"))
    values = {name: field(form, name) for name in ("category", "text", "phone")}
    share = field(form, "share_location") == "yes"
    client = address_key(request.client.host if request.client else "")
    try:
        await run_in_threadpool(
            hub.community.submit_report,
            post,
            category=values["category"],
            text=values["text"],
            phone=values["phone"],
            photo=await photo_bytes(form),
            share_location=share,
            lat=number(form, "lat"),
            lon=number(form, "lon"),
            client=client,
        )
    except RateLimited as exc:
        minutes = max(1, math.ceil(exc.retry_after / 60))
        response = page(
            "message.html",
            lang,
            429,
            title=t("lapor_title"),
            tone="warn",
            lines=[t(f"lapor_throttled_{exc.scope}", minutes=minutes)],
        )
        response.headers["Retry-After"] = str(math.ceil(exc.retry_after))
        return response
    except InvalidInput as exc:
        return _form(post, token, lang, 400, t(f"community_error_{exc.field}"), values)
    except PhotoError as exc:
        return _form(post, token, lang, 400, t(f"community_error_photo_{exc.reason}"), values)
    except StoreUnavailable:
        return _form(post, token, lang, 503, t("community_error_unavailable"), values)
    return page("message.html", lang, 201, title=t("lapor_thanks_title"), lines=[t("lapor_thanks")], tone="good")


# -- the operators' side -------------------------------------------------------------------------


class ReportAction(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    note: str | None = Field(default=None, max_length=2000)


def report_view(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "post": report.post,
        "at": report.at.isoformat(),
        "category": report.category,
        "text": report.text,
        "phone": report.phone,
        "lat": report.lat,
        "lon": report.lon,
        "location_shared": report.location_shared,
        "photo": bool(report.photo),
        "alert_id": report.alert_id,
        "outcome": report.outcome,
        "closed_at": report.closed_at.isoformat() if report.closed_at else None,
        "closed_by": report.closed_by,
    }


def _alert_in_scope(hub: HubService, who: Principal, alert_id: str) -> None:
    """A village account acts only on its villages' reports (another village's: 404, as if absent)."""
    alert = hub.alerts.get(alert_id)
    if who.villages and (alert is None or not post_in_scope(hub, who, alert.device)):
        raise HTTPException(404, "no such alert")


def _act(action: Any, alert_id: str, who: str, body: ReportAction | None) -> Any:
    try:
        return action(alert_id, who, body.note if body else None)
    except KeyError:
        raise HTTPException(404, "no such alert") from None
    except (NotAReport, TransitionError) as exc:
        raise HTTPException(409, str(exc)) from None


@router.post(
    "/api/lapor/{alert_id}/escalate",
    summary="Escalate a resident's report to an incident that pages the duty chain",
    response_model=AlertOut,
)
def escalate(alert_id: str, hub: HubDep, who: Operator, body: ReportAction | None = None) -> dict[str, Any]:
    _alert_in_scope(hub, who, alert_id)
    return alert_view(hub, _act(hub.community.escalate, alert_id, who.name, body))


@router.post(
    "/api/lapor/{alert_id}/false", summary="Close a resident's report as a false report", response_model=AlertOut
)
def false_report(alert_id: str, hub: HubDep, who: Operator, body: ReportAction | None = None) -> dict[str, Any]:
    _alert_in_scope(hub, who, alert_id)
    return alert_view(hub, _act(hub.community.false_report, alert_id, who.name, body))


@router.get(
    "/api/lapor/reports",
    summary="Residents' reports, newest first (of one alert or post)",
    response_model=list[ResidentReportOut],
)
def list_reports(
    hub: HubDep, who: Viewer, alert_id: str | None = None, post: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    # a village account: its posts only, in the query (so `limit` counts its reports)
    posts = scope(who).devices(hub.registry)
    rows = hub.community.store.reports(post=post, alert_id=alert_id, limit=max(1, min(limit, 1000)), posts=posts)
    return [report_view(r) for r in rows]


@router.get(
    "/api/lapor/summary",
    summary="Residents' reports by outcome (false reports counted), last `days` days",
    response_model=ReportCounts,
)
def summary(hub: HubDep, who: Viewer, days: int = 30) -> dict[str, int]:
    if who.villages:
        raise HTTPException(403, "the summary counts every village; a village account reads /api/lapor/reports")
    since = hub.community.clock() - timedelta(days=max(1, min(days, 3660)))
    return hub.community.store.report_counts(since)


@router.get("/api/lapor/reports/{report_id}/photo", summary="A report's photo", response_class=FileResponse)
def report_photo(report_id: str, hub: HubDep, who: Viewer) -> Response:
    report = hub.community.store.get_report(report_id)
    if report is not None and not post_in_scope(hub, who, report.post):
        report = None  # another village's: as if it did not exist
    return photo_response(hub.community.store.photo_path(report.photo if report else None))
