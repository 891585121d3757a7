"""Operators act on alerts (issue 15): notes, assigning an officer, incidents reported by phone or in
person, and the per-kind procedures. JSON API under /api and two dashboard pages.

Operators (and admins) add notes, assign officers and enter incidents; only admins change a
procedure; viewers, technicians and API tokens of those roles read. A dashboard session's unsafe
requests carry its CSRF token (hub/web/deps.py). Every change is an alert change: saved with the
alert's timeline (SQL), audited by hub.storage.audit.AlertAuditor and pushed to every dashboard by
the live stream (hub/web/live.py), like an acknowledgement. An account limited to villages acts
only on its villages' posts (another village's alert: 404, as if absent; its post: refused).

Text people type is checked in one place (hub/alerting/actions.py `clean_text`); what it refuses
answers 422 shaped like FastAPI's own errors, naming the field (`loc: ["body", "<field>"]`).
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from hub.accounts.auth import Principal
from hub.alerting.actions import (
    MANUAL_CATEGORIES,
    SOURCES,
    InvalidText,
    UnknownOfficer,
    UnknownPost,
    manual_report,
)
from hub.alerting.procedures import Procedure, parse_kind
from hub.alerting.rules import AlertKind, TransitionError
from hub.service import HubService
from hub.web.deps import HubDep, Operator, Viewer, require
from hub.web.routes.auth import client_address
from hub.web.routes.dashboard import can_operate, language_of, page_session, render
from hub.web.routes.ronda import in_scope, post_in_scope
from hub.web.schemas import AlertOut
from hub.web.views import alert_view

router = APIRouter(tags=["alert actions"])

Admin = Annotated[Principal, Depends(require("admin"))]


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    officer_id: str


class IncidentBody(BaseModel):
    """An incident reported by phone or in person. `kind`: what happened (theft, disturbance, fire,
    accident, medical, suspicious, other); `source`: phone or in_person."""

    model_config = ConfigDict(extra="forbid", strict=True)
    post: str
    kind: str
    source: str
    description: str
    reporter: str
    reporter_phone: str = ""


class ProcedureBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str


class ProcedureOut(BaseModel):
    """One alert kind's procedure: an admin's text (`custom`) or the default in the asked language."""

    kind: str
    text: str
    custom: bool
    updated_by: str | None = None
    updated_at: str | None = None


def invalid(field: str, message: str, reason: str = "unknown") -> NoReturn:
    """A 422 shaped like FastAPI's own, naming the body field (never echoing the text sent); `type`
    is the reason (empty, too_long, control_chars, unknown, format), which the dashboard translates."""
    raise RequestValidationError([{"type": reason, "loc": ("body", field), "msg": message}])


def _scoped_alert(hub: HubService, who: Principal, alert_id: str) -> None:
    """A village account acts only on its villages' alerts (another village's: 404, as if absent)."""
    alert = hub.alerts.get(alert_id)
    if alert is None or not post_in_scope(hub, who, alert.device):
        raise HTTPException(404, "no such alert")


def _act(hub: HubService, action: Any, *args: Any) -> dict[str, Any]:
    try:
        return alert_view(hub, action(*args))
    except KeyError:
        raise HTTPException(404, "no such alert") from None
    except TransitionError as exc:
        raise HTTPException(409, str(exc)) from None
    except InvalidText as exc:
        invalid(exc.field, exc.message, exc.reason)


@router.post(
    "/api/alerts/{alert_id}/notes",
    summary="Add an operator's note to an open alert (timeline, audit, live)",
    response_model=AlertOut,
)
def add_note(alert_id: str, body: NoteBody, hub: HubDep, who: Operator) -> dict[str, Any]:
    _scoped_alert(hub, who, alert_id)
    return _act(hub, hub.alerts.add_note, alert_id, who.name, body.text)


@router.post(
    "/api/alerts/{alert_id}/assign",
    summary="Assign an officer to an open alert; they are paged “you are assigned” with their ack link",
    response_model=AlertOut,
)
def assign(alert_id: str, body: AssignBody, hub: HubDep, who: Operator) -> dict[str, Any]:
    _scoped_alert(hub, who, alert_id)
    try:
        return _act(hub, hub.alerts.assign, alert_id, who.name, body.officer_id)
    except UnknownOfficer:
        invalid("officer_id", "not an active officer of the roster (GET /api/officers)")


@router.post(
    "/api/incidents",
    summary="Enter an incident reported by phone or in person for a post: a `manual` alert, paged like any",
    response_model=AlertOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "joined the post's open reported incident (no second page)"}},
)
def report_incident(body: IncidentBody, hub: HubDep, who: Operator, response: Response) -> dict[str, Any]:
    post = hub.registry.get(body.post)
    if post is None or not in_scope(who, post.village):
        invalid("post", "no such post")
    try:
        report = manual_report(body.kind, body.source, body.description, body.reporter, body.reporter_phone)
        alert, opened = hub.alerts.report_incident(post.device_id, report, who.name)
    except InvalidText as exc:
        invalid(exc.field, exc.message, exc.reason)
    except UnknownPost:
        invalid("post", "no such post")
    except TransitionError as exc:  # the open incident closed meanwhile: the operator sends it again
        raise HTTPException(409, str(exc)) from None
    if not opened:
        response.status_code = status.HTTP_200_OK
    return alert_view(hub, alert)


# -- procedures -------------------------------------------------------------------------------------


def _procedure_json(procedure: Procedure) -> dict[str, Any]:
    return {
        "kind": procedure.kind.value,
        "text": procedure.text,
        "custom": procedure.custom,
        "updated_by": procedure.updated_by,
        "updated_at": procedure.updated_at,
    }


def _kind(kind: str) -> AlertKind:
    try:
        return parse_kind(kind)
    except InvalidText:
        raise HTTPException(404, "no such alert kind") from None


@router.get("/api/procedures", summary="Every alert kind's procedure", response_model=list[ProcedureOut])
def procedures(request: Request, hub: HubDep, _: Viewer) -> list[dict[str, Any]]:
    lang = language_of(request, hub)
    return [_procedure_json(p) for p in hub.alerts.procedures.all(lang)]


@router.get("/api/procedures/{kind}", summary="One alert kind's procedure", response_model=ProcedureOut)
def procedure(kind: str, request: Request, hub: HubDep, _: Viewer) -> dict[str, Any]:
    return _procedure_json(hub.alerts.procedures.get(_kind(kind), language_of(request, hub)))


@router.put("/api/procedures/{kind}", summary="Replace an alert kind's procedure (admins)", response_model=ProcedureOut)
def put_procedure(kind: str, body: ProcedureBody, request: Request, hub: HubDep, who: Admin) -> dict[str, Any]:
    chosen = _kind(kind)
    try:
        saved = hub.alerts.procedures.put(chosen, body.text, who.name, hub.alerts.clock())
    except InvalidText as exc:
        invalid(exc.field, exc.message, exc.reason)
    hub.audit.record(who.name, "procedure.update", chosen.value, client=client_address(request), chars=len(saved.text))
    return _procedure_json(saved)


@router.delete(
    "/api/procedures/{kind}",
    summary="Put an alert kind's procedure back to the default (admins)",
    response_model=ProcedureOut,
)
def reset_procedure(kind: str, request: Request, hub: HubDep, who: Admin) -> dict[str, Any]:
    chosen = _kind(kind)
    if hub.alerts.procedures.reset(chosen):
        hub.audit.record(who.name, "procedure.reset", chosen.value, client=client_address(request))
    return _procedure_json(hub.alerts.procedures.get(chosen, language_of(request, hub)))


# -- dashboard pages --------------------------------------------------------------------------------


@router.get("/incidents/new", response_class=HTMLResponse, include_in_schema=False)
def incident_form(request: Request, hub: HubDep, post: str = "") -> Response:
    """The form an operator fills in while on the phone; the page script posts it to /api/incidents."""
    session = page_session(request, hub)
    if not can_operate(session.principal):
        return render(request, hub, "dashboard/not_found.html", session, status.HTTP_403_FORBIDDEN)
    posts = [p for p in hub.registry.all() if in_scope(session.principal, p.village)]
    return render(
        request,
        hub,
        "dashboard/incident_new.html",
        session,
        posts=posts,
        chosen=post,
        categories=MANUAL_CATEGORIES,
        sources=SOURCES,
    )


@router.get("/procedures", response_class=HTMLResponse, include_in_schema=False)
def procedures_page(request: Request, hub: HubDep) -> Response:
    """Every kind's procedure; admins edit them here (the page script calls PUT/DELETE /api/procedures)."""
    session = page_session(request, hub)
    lang = language_of(request, hub)
    return render(
        request,
        hub,
        "dashboard/procedures.html",
        session,
        procedures=hub.alerts.procedures.all(lang),
        can_edit=session.principal.role == "admin",
    )
