"""Officers, duty roster and who is on duty: read with role viewer, change with role admin."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.accounts.auth import Principal
from hub.duty.officers import FALLBACK_ID, RosterError
from hub.duty.roster import OFFICER_ID_PATTERN, Officer, OverrideKind, duty_chain, is_on_duty
from hub.web.deps import HubDep, Viewer, require, scope
from hub.web.schemas import OfficerOut, OnDutyOut, OverrideOut, Removed, RosterOut, ShiftOut
from kamling.redact import redact_url

Admin = Annotated[Principal, Depends(require("admin"))]

router = APIRouter(prefix="/api", tags=["roster"])


class OfficerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    rank: str = Field(default="", max_length=60)
    villages: list[str] = Field(default_factory=list, max_length=200)
    urls: list[str] = Field(min_length=1, max_length=10, description="apprise URLs (kept secret: never listed back)")
    language: str = Field(default="id", pattern=r"^(id|en)$")
    level: int = Field(default=1, ge=1, le=9)
    always_on_duty: bool = False
    active: bool = True


class ShiftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer_id: str = Field(pattern=OFFICER_ID_PATTERN)
    weekday: int = Field(ge=0, le=6, description="0 Monday .. 6 Sunday (day the shift starts)")
    start: time
    end: time


class OverrideBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer_id: str = Field(pattern=OFFICER_ID_PATTERN)
    kind: OverrideKind
    start: datetime
    end: datetime
    note: str = Field(default="", max_length=300)


def officer_json(officer: Officer) -> dict[str, Any]:
    return officer.model_dump(mode="json") | {"urls": [redact_url(u) for u in officer.urls]}


def _officer(officer_id: str, body: OfficerBody) -> Officer:
    try:
        return Officer.model_validate({"id": officer_id, **body.model_dump()})
    except ValidationError as exc:
        raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from None


@router.get("/officers", summary="Officers (contact URLs redacted)", response_model=list[OfficerOut])
def list_officers(hub: HubDep, _: Viewer) -> list[dict[str, Any]]:
    return [officer_json(o) for o in hub.alerts.officers.roster().officers]


@router.put("/officers/{officer_id}", summary="Add or replace an officer", response_model=OfficerOut)
def put_officer(officer_id: str, body: OfficerBody, hub: HubDep, _: Admin) -> dict[str, Any]:
    return officer_json(hub.alerts.officers.put_officer(_officer(officer_id, body)))


@router.delete(
    "/officers/{officer_id}", summary="Remove an officer with their shifts and overrides", response_model=Removed
)
def delete_officer(officer_id: str, hub: HubDep, _: Admin) -> dict[str, Any]:
    if not hub.alerts.officers.remove_officer(officer_id):
        raise HTTPException(404, "no such officer")
    return {"removed": officer_id}


@router.get(
    "/roster", summary="The stored roster: officers, weekly shifts, overrides, fallback", response_model=RosterOut
)
def get_roster(hub: HubDep, _: Viewer) -> dict[str, Any]:
    roster = hub.alerts.officers.roster()
    return {
        "officers": [officer_json(o) for o in roster.officers],
        "shifts": [s.model_dump(mode="json") for s in roster.shifts],
        "overrides": [o.model_dump(mode="json") for o in roster.overrides],
        "fallback": officer_json(roster.fallback) if roster.fallback else None,
        "timezone": hub.settings.timezone,
    }


@router.post(
    "/roster/shifts", summary="Add a weekly shift (local time; end not after start: next day)", response_model=ShiftOut
)
def add_shift(body: ShiftBody, hub: HubDep, _: Admin) -> dict[str, Any]:
    try:
        return hub.alerts.officers.add_shift(**body.model_dump()).model_dump(mode="json")
    except RosterError as exc:
        raise HTTPException(404, str(exc)) from None


@router.post(
    "/roster/overrides", summary="Add a dated override: off (leave) or on (extra duty)", response_model=OverrideOut
)
def add_override(body: OverrideBody, hub: HubDep, _: Admin) -> dict[str, Any]:
    try:
        return hub.alerts.officers.add_override(**body.model_dump()).model_dump(mode="json")
    except ValidationError as exc:
        raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from None
    except RosterError as exc:
        raise HTTPException(422 if "after" in str(exc) else 404, str(exc)) from None


@router.delete("/roster/{table}/{entry_id}", summary="Remove a shift or an override", response_model=Removed)
def delete_entry(table: str, entry_id: str, hub: HubDep, _: Admin) -> dict[str, Any]:
    if table not in ("shifts", "overrides"):
        raise HTTPException(404, "no such roster table")
    if not hub.alerts.officers.remove_entry(table, entry_id):
        raise HTTPException(404, "no such entry")
    return {"removed": entry_id}


@router.put("/roster/fallback", summary="Set the fallback contact (Polsek duty desk)", response_model=OfficerOut)
def put_fallback(body: OfficerBody, hub: HubDep, _: Admin) -> dict[str, Any]:
    officer = _officer(FALLBACK_ID, body).model_copy(update={"always_on_duty": True})
    hub.alerts.officers.set_fallback(officer)
    return officer_json(officer)


@router.get(
    "/roster/on-duty", summary="Who would be paged for a post at a time: the escalation chain", response_model=OnDutyOut
)
def on_duty(hub: HubDep, who: Viewer, device: str, at: datetime | None = None) -> dict[str, Any]:
    post = hub.registry.get(device)
    if post is None or not scope(who).covers_post(post):  # another village's post: as if absent
        raise HTTPException(404, "no such post")
    if at is not None and at.tzinfo is None:
        raise HTTPException(422, "at needs a timezone, e.g. 2026-11-22T22:00:00+07:00")
    moment = at or hub.alerts.clock()
    roster = hub.alerts.resolver.roster() if hasattr(hub.alerts.resolver, "roster") else hub.alerts.officers.roster()
    chain = duty_chain(roster, post.village, moment, hub.settings.timezone)
    return {
        "device": device,
        "village": post.village,
        "at": moment.isoformat(),
        "chain": [
            [
                {
                    "id": o.id,
                    "name": o.name,
                    "rank": o.rank,
                    "level": o.level,
                    "rostered": is_on_duty(roster, o, moment, hub.settings.timezone),
                }
                for o in level
            ]
            for level in chain
        ],
    }
