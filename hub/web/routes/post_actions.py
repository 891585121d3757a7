"""A post's page and the commands an operator sends it (issue 15): ping, siren test, silence, take a picture.

* `GET /posts/{device}`: the post (state, health), its command buttons (operators), the results of
  its recent commands (live: the page reloads its fragment on each `command` event of the stream)
  and the pictures taken on command.
* `POST /api/posts/{device}/commands` (operator; a dashboard session also needs its CSRF token):
  sends one command; the result follows on the live stream and `GET /api/commands/{id}`.
* `GET /api/posts/{device}/commands`, `GET /api/commands/{id}` (viewer and up).

Issuing is audited by hub/posts/commands.py (`post.command`), and so is every result.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from hub.accounts.auth import Principal
from hub.posts.commands import MAX_TTL, MIN_TTL, OPERATOR_COMMANDS, CommandRefused, PostCommand
from hub.service import HubService
from hub.storage.events import EventQuery
from hub.web.deps import HubDep, Operator, Viewer, scope
from hub.web.routes.auth import client_address
from hub.web.routes.dashboard import page_session, render
from hub.web.views import post_view
from kamling.protocol import is_valid_device_id

log = logging.getLogger(__name__)

router = APIRouter(tags=["posts"])
PICTURES = 6
"""Pictures taken on command shown on a post's page (newest first)."""
RECENT = 20


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Literal["ping", "test_siren", "silence_siren", "snapshot"]
    ttl_seconds: float | None = Field(default=None, ge=MIN_TTL, le=MAX_TTL, description="default: hub setting")


class CommandOut(BaseModel):
    id: str
    device: str
    name: str
    actor: str
    state: Literal["pending", "done", "failed", "expired", "unknown"]
    issued_at: str
    expires_at: str
    finished_at: str | None
    sends: int
    rtt_ms: float | None = Field(description="ping: the round trip hub -> post -> hub in milliseconds")
    reason: str | None = Field(description="why a command failed or expired, as the post (or the hub) said")
    event_id: str | None = Field(description="snapshot: the `camera` event whose JPEG is the picture")


assert set(OPERATOR_COMMANDS) == {"ping", "test_siren", "silence_siren", "snapshot"}  # CommandIn.name


def known_post(hub: HubService, device: str, who: Principal) -> None:
    """404 for an unknown post and for another village's (an account limited to villages)."""
    if not is_valid_device_id(device) or hub.registry.get(device) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such post")
    scope(who).check_device(hub.registry, device, "no such post")


@router.post(
    "/api/posts/{device}/commands",
    summary="Send a command to a post (operator): ping, test_siren, silence_siren, snapshot",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CommandOut,
    responses={
        404: {"description": "no such post"},
        429: {"description": "too many commands waiting for this post"},
        503: {"description": "the audit log is unavailable: nothing is sent unaudited"},
    },
)
def send_command(device: str, body: CommandIn, request: Request, hub: HubDep, principal: Operator) -> dict[str, Any]:
    known_post(hub, device, principal)
    try:
        command = hub.commands.issue(
            device, body.name, principal.name, ttl=body.ttl_seconds, client=client_address(request)
        )
    except CommandRefused as exc:
        codes = {
            "too_many_pending": status.HTTP_429_TOO_MANY_REQUESTS,
            "audit_unavailable": status.HTTP_503_SERVICE_UNAVAILABLE,
        }
        code = codes.get(exc.reason, status.HTTP_400_BAD_REQUEST)
        raise HTTPException(code, exc.reason) from None
    return command.view()


@router.get(
    "/api/posts/{device}/commands", summary="A post's recent commands, newest first", response_model=list[CommandOut]
)
def list_commands(device: str, hub: HubDep, who: Viewer) -> list[dict[str, Any]]:
    known_post(hub, device, who)
    return [c.view() for c in hub.commands.recent(device, RECENT)]


@router.get("/api/commands/{command_id}", summary="One command and its result", response_model=CommandOut)
def get_command(command_id: str, hub: HubDep, who: Viewer) -> dict[str, Any]:
    command = hub.commands.get(command_id)
    if command is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such command")
    scope(who).check_device(hub.registry, command.device, "no such command")
    return command.view()


def command_pictures(hub: HubService, device: str, commands: list[PostCommand]) -> list[str]:
    """Event ids of pictures taken on command: from the event log (they outlive a hub restart), newest first."""
    found: list[str] = [c.event_id for c in commands if c.event_id]
    try:
        page = hub.store.query(EventQuery(device=device, kind="camera", limit=200))
        for record in page.items:
            data = record.get("data")
            if isinstance(data, dict) and data.get("source") == "command" and isinstance(record.get("id"), str):
                found.append(record["id"])
    except Exception:  # the event log is down: the page still shows the commands
        log.exception("post page: pictures of %s cannot be listed", device)
    unique = list(dict.fromkeys(found))
    unique.sort(reverse=True)  # ULIDs: newest first
    return [event_id for event_id in unique if hub.snapshots.find(event_id, device) is not None][:PICTURES]


@router.get("/posts/{device}", response_class=HTMLResponse, include_in_schema=False)
def post_page(request: Request, device: str, hub: HubDep, fragment: bool = False) -> Response:
    session = page_session(request, hub)
    hidden = not is_valid_device_id(device) or hub.registry.get(device) is None
    if hidden or not scope(session.principal).covers_device(hub.registry, device):
        return render(request, hub, "dashboard/not_found.html", session, status.HTTP_404_NOT_FOUND)
    commands = hub.commands.recent(device, RECENT)
    template = "dashboard/_post_commands.html" if fragment else "dashboard/post.html"
    return render(
        request,
        hub,
        template,
        session,
        post=post_view(hub, device),
        commands=[c.view() for c in commands],
        pictures=command_pictures(hub, device, commands),
        command_names=OPERATOR_COMMANDS,
    )
