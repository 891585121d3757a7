"""The public acknowledgement page: `GET /ack/{token}` acknowledges with one tap, no login.

The signed token (hub/paging/ack_links.py) is the only credential: it names one alert and one
officer and expires. The page shows what the officer needs on the way: post, village, map,
local time, kind, snapshot, and a button "Saya menuju lokasi" (I'm on my way).

Robots: chat apps fetch links to draw a preview, and mail and SMS gateways fetch them to scan
them. A robot that acknowledged would answer for the officer, and the escalation would stop with
nobody coming. So a GET acknowledges only when it is a person's browser opening the page: a
top-level navigation (`Sec-Fetch-Mode: navigate`, sent by every current browser and in-app
browser) from an agent that is not a known preview robot. Anything else gets the same page with
the acknowledge button (a POST): one more tap on an old browser, never a false acknowledgement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from hub.alerting.messages import kind_label, local_time, map_url
from hub.alerting.rules import Alert, TransitionError, at_press
from hub.i18n import Translator
from hub.paging.ack_links import AckClaim, LinkError
from hub.web.deps import HubDep

router = APIRouter(tags=["ack"], include_in_schema=False)

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates" / "ack"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)

PREVIEW_AGENTS = (
    "whatsapp",
    "telegrambot",
    "facebookexternalhit",
    "facebot",
    "slackbot",
    "twitterbot",
    "discordbot",
    "linkedinbot",
    "skypeuripreview",
    "googlebot",
    "bingbot",
    "applebot",
    "preview",
)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never hand it to the map site
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}

ACK_STATE_KEYS = {"notified": "ack_state_notified", "en_route": "ack_state_en_route"}
"""States worded for the officer on the way rather than as on the dashboard (`state_<value>`)."""


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def _error(reason: str, language: str = "id") -> HTMLResponse:
    t = Translator(language)
    status, key = {"expired": (410, "ack_expired"), "missing": (404, "ack_missing")}.get(reason, (403, "ack_invalid"))
    return _html(_env.get_template("error.html").render(t=t, message=t(key), lang=language), status)


def _claim(hub: Any, token: str) -> AckClaim:
    links = hub.alerts.links
    if links is None:
        raise HTTPException(503, "hub not started")
    return links.verify(token)


def _is_person(request: Request) -> bool:
    """A browser navigating to the page, not a preview robot or a link scanner (see the module doc)."""
    agent = request.headers.get("user-agent", "").casefold()
    if any(bot in agent for bot in PREVIEW_AGENTS):
        return False
    return request.headers.get("sec-fetch-mode", "").casefold() == "navigate"


def _page(hub: Any, alert: Alert, claim: AckClaim, token: str) -> HTMLResponse:
    t = Translator(claim.language)
    post = hub.registry.get(alert.device)
    zone = hub.settings.timezone
    opened, tz = local_time(alert.opened_at, zone)
    acked = local_time(alert.acknowledged_at, zone)[0] if alert.acknowledged_at else None
    snapshot = any(hub.snapshots.find(event_id, alert.device) for event_id in alert.event_ids)
    body = _env.get_template("alert.html").render(
        t=t,
        lang=claim.language,
        token=token,
        alert=alert,
        officer=claim.officer,
        post_name=post.name if post else alert.device,
        village=(post.village if post else "") or "-",
        map=map_url(post.lat, post.lon) if post else None,
        opened=f"{opened} {tz}",
        acked=f"{acked} {tz}" if acked else None,
        kind=kind_label(alert.kind, claim.language),
        state=t(ACK_STATE_KEYS.get(alert.state.value, f"state_{alert.state.value}")),
        snapshot=snapshot,
        can_ack=alert.awaiting_ack,
        can_en_route=alert.is_open and alert.state.value != "en_route",
    )
    return _html(body)


def _verified(hub: Any, token: str) -> tuple[AckClaim, Alert] | HTMLResponse:
    try:
        claim = _claim(hub, token)
    except LinkError as exc:
        return _error(exc.reason)
    alert = hub.alerts.get(claim.alert_id)
    if alert is None:
        return _error("missing", claim.language)
    return claim, alert


@router.get("/ack/{token}", response_class=HTMLResponse, summary="One-tap acknowledgement from a phone")
def ack_link(token: str, request: Request, hub: HubDep) -> Response:
    checked = _verified(hub, token)
    if isinstance(checked, HTMLResponse):
        return checked
    claim, alert = checked
    if alert.awaiting_ack and _is_person(request):
        try:
            alert = hub.alerts.acknowledge(alert.id, claim.officer, "link")
        except TransitionError:
            alert = hub.alerts.get(alert.id) or alert
    return _page(hub, alert, claim, token)


@router.post("/ack/{token}", summary="Acknowledge (the button on the page)")
def ack_button(token: str, hub: HubDep) -> Response:
    checked = _verified(hub, token)
    if isinstance(checked, HTMLResponse):
        return checked
    claim, alert = checked
    try:
        hub.alerts.acknowledge(alert.id, claim.officer, "link")
    except TransitionError:
        pass  # resolved meanwhile: the page shows it
    return RedirectResponse(f"/ack/{token}", status_code=303, headers=SECURITY_HEADERS)


@router.post("/ack/{token}/en-route", summary="The officer is on the way")
def en_route_button(token: str, hub: HubDep) -> Response:
    checked = _verified(hub, token)
    if isinstance(checked, HTMLResponse):
        return checked
    claim, alert = checked
    try:
        hub.alerts.en_route(alert.id, claim.officer)
    except TransitionError:
        pass
    return RedirectResponse(f"/ack/{token}", status_code=303, headers=SECURITY_HEADERS)


@router.get("/ack/{token}/snapshot", summary="The alert's camera snapshot, for the link holder")
def ack_snapshot(token: str, hub: HubDep) -> Response:
    checked = _verified(hub, token)
    if isinstance(checked, HTMLResponse):
        return checked
    _, alert = checked
    first = at_press(alert)  # the picture at the press (issue 15) before any other of the alert's
    for event_id in ([first] if first else []) + list(alert.event_ids):
        path = hub.snapshots.find(event_id, alert.device)
        if path is not None:
            return FileResponse(path, media_type="image/jpeg", headers=SECURITY_HEADERS)
    raise HTTPException(404, "no snapshot for this alert")
