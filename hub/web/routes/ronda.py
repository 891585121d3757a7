"""Ronda malam: the roster of guards per post, village ronda hours, and tonight per post.

Read with role viewer and up; change as an admin, or as a village-scoped operator (the
village's Bhabinkamtibmas, whose account lists their villages). An account with villages
sees and changes only the posts, guards and hours of those villages; anything else answers
404, as if it did not exist, so a scoped account cannot even learn another village's guards.
"""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.accounts.auth import Principal
from hub.ronda.roster import (
    CARD_ID_PATTERN,
    GUARD_ID_PATTERN,
    PHONE_PATTERN,
    ChangeKind,
    Guard,
    RondaHours,
    RondaRoster,
)
from hub.ronda.rules import Checkin
from hub.ronda.store import RondaError
from hub.ronda.watch import PostTonight
from hub.service import HubService
from hub.settings import PostSettings
from hub.web.deps import HubDep, Viewer, require, scope
from hub.web.routes.dashboard import page_session, render
from hub.web.schemas import GuardChangeOut, GuardOut, Removed, RondaHoursOut, RondaRosterOut, RondaTonightOut
from kamling.protocol import DEVICE_ID_PATTERN

router = APIRouter(tags=["ronda"])

RondaEditor = Annotated[Principal, Depends(require("operator"))]
"""Admins, and operators; an operator without villages is refused in `_may_change`."""


def in_scope(principal: Principal, village: str) -> bool:
    """An account without villages sees every village; a scoped one only its own (hub/web/scope.py)."""
    return scope(principal).covers_village(village)


def post_in_scope(hub: HubService, principal: Principal, device: str) -> bool:
    """Whether `principal` may see what a post did (an unknown post: only an account without villages)."""
    return scope(principal).covers_device(hub.registry, device)


def visible_posts(hub: HubService, principal: Principal) -> list[PostSettings]:
    return scope(principal).posts(hub.registry)


def _may_change(principal: Principal) -> None:
    if principal.role != "admin" and not principal.villages:
        raise HTTPException(403, "needs role admin, or an operator account limited to its villages")


def _post_in_scope(hub: HubService, principal: Principal, device: str) -> PostSettings:
    post = hub.registry.get(device)
    if post is None or not in_scope(principal, post.village):
        raise HTTPException(404, "no such post")
    return post


def _guard_in_scope(hub: HubService, principal: Principal, roster: RondaRoster, guard_id: str) -> Guard:
    guard = roster.guard(guard_id)
    if guard is None:
        raise HTTPException(404, "no such guard")
    post = hub.registry.get(guard.device)
    # a guard of a post that left the registry is an admin's to clean up
    if (post is None and principal.villages) or (post is not None and not in_scope(principal, post.village)):
        raise HTTPException(404, "no such guard")
    return guard


def _invalid(exc: ValidationError) -> HTTPException:
    return HTTPException(422, exc.errors(include_url=False, include_context=False))


# -- JSON API -------------------------------------------------------------------------------------


class GuardBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    device: str = Field(pattern=DEVICE_ID_PATTERN, description="the post the guard watches at")
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    card_id: str | None = Field(default=None, pattern=CARD_ID_PATTERN, description="125 kHz card number")
    nights: list[int] = Field(default_factory=list, max_length=7, description="weekdays the night starts, 0 Monday")
    active: bool = True


class ChangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    guard_id: str = Field(pattern=GUARD_ID_PATTERN)
    night: date = Field(description="local date the night starts")
    kind: ChangeKind
    note: str = Field(default="", max_length=300)


class HoursBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: time = Field(description="local start, e.g. 22:00")
    end: time = Field(description="local end; not after start: the next morning")
    round_minutes: int = Field(default=60, ge=5, le=360)
    grace_minutes: int = Field(default=10, ge=0, le=120)


def checkin_json(checkin: Checkin) -> dict[str, Any]:
    return {
        "at": checkin.at.isoformat(),
        "source": checkin.source,
        "card": checkin.card,
        "guard_id": checkin.guard_id,
        "guard_name": checkin.guard_name,
        "unknown_card": checkin.unknown_card,
        "counted": checkin.counted,
    }


def tonight_json(view: PostTonight) -> dict[str, Any]:
    return {
        "device": view.device,
        "name": view.name,
        "village": view.village,
        "night": view.night,
        "hours": view.hours,
        "expected": list(view.expected),
        "checkins": [checkin_json(c) for c in view.checkins],
        "last_checkin": checkin_json(view.last_checkin) if view.last_checkin else None,
        "missed_rounds": view.missed,
        "unstaffed": view.unstaffed,
    }


@router.get(
    "/api/ronda",
    summary="Tonight per post: guards, check-ins, missed rounds (your villages only)",
    response_model=RondaTonightOut,
)
def tonight(hub: HubDep, principal: Viewer) -> dict[str, Any]:
    views = hub.ronda.tonight(visible_posts(hub, principal))
    return {"timezone": hub.settings.timezone, "posts": [tonight_json(v) for v in views]}


@router.get(
    "/api/ronda/roster",
    summary="Guards, dated changes and village ronda hours (your villages only)",
    response_model=RondaRosterOut,
)
def get_roster(hub: HubDep, principal: Viewer) -> dict[str, Any]:
    roster = hub.ronda.store.roster()
    devices = {p.device_id for p in visible_posts(hub, principal)}
    # an unscoped account also sees guards of posts no longer in the registry (to clean them up)
    orphans = not principal.villages
    guards = [g for g in roster.guards if g.device in devices or (orphans and hub.registry.get(g.device) is None)]
    ids = {g.id for g in guards}
    villages = sorted({p.village for p in visible_posts(hub, principal)})
    return {
        "guards": [g.model_dump(mode="json") for g in guards],
        "changes": [c.model_dump(mode="json") for c in roster.changes if c.guard_id in ids],
        "hours": [roster.hours_for(v).model_dump(mode="json") for v in villages],
        "timezone": hub.settings.timezone,
    }


@router.put("/api/ronda/guards/{guard_id}", summary="Add or replace a guard", response_model=GuardOut)
def put_guard(guard_id: str, body: GuardBody, hub: HubDep, principal: RondaEditor) -> dict[str, Any]:
    _may_change(principal)
    _post_in_scope(hub, principal, body.device)
    roster = hub.ronda.store.roster()
    if roster.guard(guard_id) is not None:
        _guard_in_scope(hub, principal, roster, guard_id)  # moving another village's guard is not yours to do
    try:
        guard = Guard.model_validate({"id": guard_id, **body.model_dump()})
        return hub.ronda.store.put_guard(guard).model_dump(mode="json")
    except ValidationError as exc:
        raise _invalid(exc) from None
    except RondaError as exc:
        raise HTTPException(409, str(exc)) from None


@router.delete("/api/ronda/guards/{guard_id}", summary="Remove a guard and their dated changes", response_model=Removed)
def delete_guard(guard_id: str, hub: HubDep, principal: RondaEditor) -> dict[str, Any]:
    _may_change(principal)
    _guard_in_scope(hub, principal, hub.ronda.store.roster(), guard_id)
    hub.ronda.store.remove_guard(guard_id)
    return {"removed": guard_id}


@router.post(
    "/api/ronda/changes",
    summary="A dated change: a guard on (extra night) or off (away) one night",
    response_model=GuardChangeOut,
)
def add_change(body: ChangeBody, hub: HubDep, principal: RondaEditor) -> dict[str, Any]:
    _may_change(principal)
    _guard_in_scope(hub, principal, hub.ronda.store.roster(), body.guard_id)
    try:
        return hub.ronda.store.add_change(**body.model_dump()).model_dump(mode="json")
    except RondaError as exc:
        raise HTTPException(404, str(exc)) from None


@router.delete("/api/ronda/changes/{change_id}", summary="Remove a dated change", response_model=Removed)
def delete_change(change_id: str, hub: HubDep, principal: RondaEditor) -> dict[str, Any]:
    _may_change(principal)
    roster = hub.ronda.store.roster()
    change = next((c for c in roster.changes if c.id == change_id), None)
    if change is None:
        raise HTTPException(404, "no such change")
    _guard_in_scope(hub, principal, roster, change.guard_id)
    hub.ronda.store.remove_change(change_id)
    return {"removed": change_id}


@router.put(
    "/api/ronda/hours/{village}",
    summary="Set a village's ronda hours, round interval and grace",
    response_model=RondaHoursOut,
)
def put_hours(village: str, body: HoursBody, hub: HubDep, principal: RondaEditor) -> dict[str, Any]:
    _may_change(principal)
    if not in_scope(principal, village):
        raise HTTPException(404, "no such village")
    try:
        hours = RondaHours.model_validate({"village": village, **body.model_dump()})
    except ValidationError as exc:
        raise _invalid(exc) from None
    return hub.ronda.store.set_hours(hours).model_dump(mode="json")


# -- dashboard page ---------------------------------------------------------------------------------


@router.get("/ronda", response_class=HTMLResponse, include_in_schema=False)
def ronda_page(request: Request, hub: HubDep) -> Response:
    session = page_session(request, hub)
    views = hub.ronda.tonight(visible_posts(hub, session.principal))
    return render(request, hub, "dashboard/ronda.html", session, posts=views)
