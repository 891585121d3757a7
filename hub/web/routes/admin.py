"""Admin API: the audit log, user accounts and provisioned devices. Every route needs a role."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.accounts.auth import Principal
from hub.accounts.users import UserError
from hub.provisioning.provisioner import Provisioner, ProvisionError
from hub.settings import Role
from hub.web.deps import HubDep, require
from hub.web.routes.auth import client_address
from hub.web.schemas import (
    AuditEntryOut,
    DeadLetterPage,
    DeviceOut,
    DevicesReloaded,
    DeviceUnblocked,
    UserCreated,
    UserOut,
    UserState,
)

router = APIRouter(prefix="/api/admin", tags=["admin"])

Admin = Annotated[Principal, Depends(require("admin"))]
Technician = Annotated[Principal, Depends(require("technician"))]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=2, max_length=32)
    password: str = Field(min_length=1, max_length=256)
    role: Role


# Entries as stored: a record missing a field is shown without it, not given a null it never had.
@router.get(
    "/audit",
    summary="The audit log, newest first (admins only)",
    response_model=list[AuditEntryOut],
    response_model_exclude_unset=True,
)
def audit(
    hub: HubDep,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    return hub.audit.read(limit, action, actor)


@router.get(
    "/deadletters",
    summary="Dead letters: messages that failed in the hub, newest first (admins only)",
    response_model=DeadLetterPage,
)
def dead_letters(
    hub: HubDep,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Each letter: time, sender device, topic, event id, reason, exception class and message, and the raw
    payload (at most 16 KiB; base64 when it is not UTF-8 text). JSON only: nothing here is rendered as HTML."""
    store = hub.ingest.dead_letters
    items, total = store.page(limit, offset)
    return {
        "items": [letter.to_json() for letter in items],
        "total": total,
        "limit": limit,
        "offset": offset,
        "evicted": store.evicted,  # oldest letters dropped to stay within dead_letter_max
        "resends": store.resends(),
    }


@router.get("/users", summary="User accounts and their roles", response_model=list[UserOut])
def users(hub: HubDep, _: Admin) -> list[dict[str, Any]]:
    return [
        {"username": u.username, "role": u.role, "created_at": u.created_at, "disabled": u.disabled}
        for u in hub.users.all()
    ]


@router.post(
    "/users",
    summary="Create a user (strong password required; no defaults)",
    status_code=201,
    response_model=UserCreated,
)
def create_user(body: NewUser, request: Request, hub: HubDep, who: Admin) -> dict[str, Any]:
    try:
        user = hub.users.create(body.username, body.password, body.role)
    except UserError as exc:
        raise HTTPException(422, str(exc)) from None
    hub.audit.record(who.name, "user.create", user.username, client=client_address(request), role=user.role)
    return {"username": user.username, "role": user.role}


@router.post("/users/{username}/disable", summary="Disable a user and end their sessions", response_model=UserState)
def disable_user(username: str, request: Request, hub: HubDep, who: Admin) -> dict[str, Any]:
    try:
        hub.users.set_disabled(username, True)
    except UserError as exc:
        raise HTTPException(404, str(exc)) from None
    hub.sessions.destroy_user(username)
    hub.audit.record(who.name, "user.disable", username, client=client_address(request))
    return {"username": username, "disabled": True}


@router.post("/users/{username}/enable", summary="Enable a disabled user", response_model=UserState)
def enable_user(username: str, request: Request, hub: HubDep, who: Admin) -> dict[str, Any]:
    try:
        hub.users.set_disabled(username, False)
    except UserError as exc:
        raise HTTPException(404, str(exc)) from None
    hub.audit.record(who.name, "user.enable", username, client=client_address(request))
    return {"username": username, "disabled": False}


@router.get(
    "/devices", summary="Provisioned devices (active and decommissioned); no secrets", response_model=list[DeviceOut]
)
def devices(hub: HubDep, _: Technician) -> list[dict[str, Any]]:
    return [d.model_dump(mode="json") for d in hub.devices.store.all()]


@router.post(
    "/devices/{device_id}/unblock",
    summary="Lift a flood quarantine: the device may connect again",
    response_model=DeviceUnblocked,
)
def unblock_device(device_id: str, hub: HubDep, who: Admin) -> dict[str, Any]:
    try:
        Provisioner(hub.settings, actor=who.name).unblock(device_id)  # audited as device.unblock
    except ProvisionError as exc:
        raise HTTPException(404, str(exc)) from None
    hub.quarantine.released(device_id, who.name)
    return {"device_id": device_id, "blocked": False}


@router.post(
    "/devices/reload",
    summary="Re-read the devices file now (after `poskamling device ...`)",
    response_model=DevicesReloaded,
)
def reload_devices(request: Request, hub: HubDep, who: Technician) -> dict[str, Any]:
    result = hub.devices.sync(force=True)
    hub.audit.record(
        who.name, "devices.reload", client=client_address(request), added=len(result.added), removed=len(result.removed)
    )
    return {"added": result.added, "removed": result.removed}
