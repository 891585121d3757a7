"""The JSON API of events, posts and alerts under /api (health needs no login; the rest a role)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from hub.alerting.rules import AlertKind, Outcome, TransitionError
from hub.alerting.sql_store import MAX_PAGE, AlertQuery
from hub.service import HubService
from hub.storage.events import EventQuery
from hub.storage.sql.database import StoreUnavailable
from hub.storage.sql.events import decode_cursor
from hub.web.alert_history import alert_page, find_alert
from hub.web.deps import HubDep, Operator, Viewer, alert_in_scope, scope
from hub.web.render import SafeJSONResponse
from hub.web.schemas import AlertOut, EventPage, HealthOut, PostOut
from hub.web.views import alert_view, event_views, post_views
from kamling.protocol import AlertState

MAX_OFFSET = 10_000
"""`offset` past this is refused: a deep offset costs a scan of every row before it; the cursor does not."""
AlertStateFilter = Literal["open", "closed", "all", "new", "notified", "acknowledged", "en_route", "resolved"]
assert {s.value for s in AlertState} <= set(get_args(AlertStateFilter))  # a new state must be filterable


def invalid(field: str, message: str, value: Any) -> RequestValidationError:
    """A 422 shaped like FastAPI's own, naming the query field."""
    return RequestValidationError([{"type": "value_error", "loc": ("query", field), "msg": message, "input": value}])


def database_block(hub: HubService) -> dict[str, Any] | None:
    """The SQL store as the writers last found it (no probe here: /api/health must answer at once,
    even when a database host does not answer at all). `error` is why the last write or read failed."""
    database = getattr(hub.store, "database", None)
    if database is None:
        return None  # a hub built on another event store (some tests)
    error = getattr(hub.store, "unavailable", None)
    return {
        "url": database.url.redacted(),
        "available": error is None,
        "error": error,
        "alerts_unsaved": getattr(hub.alerts.repository, "pending", 0),  # kept and retried by the alert writer
    }


class AckRequest(BaseModel):
    note: str | None = Field(default=None, max_length=500)


class ResolveRequest(BaseModel):
    outcome: Outcome
    note: str | None = Field(default=None, max_length=2000)


router = APIRouter(prefix="/api")


@router.get("/health", summary="Liveness and ingest counters (no authentication)", response_model=HealthOut)
def health(hub: HubDep) -> dict[str, Any]:
    """`status` is "degraded" while ingest is not keeping up: a message has waited longer than
    `ingest_degraded_after` seconds for its PUBACK, or the ingest worker or log writer stopped."""
    states = [hub.registry.state(p.device_id) for p in hub.registry.all()]
    oldest = hub.ingest.oldest_unacked_age()
    alive = hub.ingest.alive()
    database = database_block(hub)
    database_away = database is not None and not database["available"]
    degraded = oldest > hub.settings.ingest_degraded_after or not alive or database_away
    return {
        "status": "degraded" if degraded else "ok",
        "ingest": {
            "oldest_unacked_seconds": round(oldest, 3),
            "queue_depth": hub.inbox.qsize(),
            "log_backlog": hub.ingest.writer.backlog(),
            "workers_alive": alive,
            "dead_letters": hub.ingest.dead_letters.count(),  # held in the store (data_dir/deadletters.sqlite)
            "dead_lettered": hub.ingest.dead_lettered,  # new dead letters since start
            "dead_letter_resends": hub.ingest.dead_letter_resends,  # copies PUBACKed and dropped since start
            "dead_letter_write_failures": hub.ingest.dead_letters.write_failures,
        },
        "version": hub.version,
        "mqtt_connected": hub.mqtt.connected,
        "brokers": hub.mqtt.brokers,  # each broker ("host:port") and whether the hub's session to it is up
        "posts": len(states),
        "posts_online": sum(1 for s in states if s.online),
        "events_accepted": hub.ingest.accepted,
        "events_duplicate": hub.ingest.duplicates,
        "rejected": dict(hub.ingest.rejected),
        "seq_gaps": dict(hub.ingest.seq_gaps),  # per post: seq numbers never received (lost events)
        "clock_skewed": dict(hub.ingest.clock_skewed),  # per post: events stored with a far-off post clock
        "log_backlog": hub.ingest.writer.backlog(),
        "store_damaged": hub.damaged_files(),  # every store: events, alerts, users, officers, devices
        "database": database,  # the SQL store: away means no acks (posts keep their events), paging goes on
        "hub_id": hub.settings.hub_id,
        "hubs": {
            hub_id: {"state": p.state, "since": p.since, "version": p.version}
            for hub_id, p in dict(hub.mqtt.hubs).items()
        },
    }


@router.get("/posts", summary="Every post with its live state", response_model=list[PostOut])
def posts(hub: HubDep, who: Viewer) -> list[dict[str, Any]]:
    # hub/web/views.py: the one serialiser of a post (also the live stream's and the pages'); only the caller's villages
    return post_views(hub, scope(who).posts(hub.registry))


@router.get("/events", summary="The event log, newest first, filtered, paged by cursor", response_model=EventPage)
def events(
    hub: HubDep,
    who: Viewer,
    device: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_tests: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="kept for old clients; use cursor")] = 0,
    cursor: Annotated[str | None, Query(max_length=200, description="the previous page's next_cursor")] = None,
) -> dict[str, Any]:
    """Newest first (by the hub's receive time). Page on with `cursor=<next_cursor>` until it is null.
    An account limited to villages gets only its villages' posts' events (filtered in the query)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} needs a timezone, e.g. 2026-11-22T22:00:00+07:00")
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except ValueError:
            raise invalid("cursor", "not a cursor this API gave (next_cursor)", cursor) from None
        if offset:
            raise invalid("offset", "offset and cursor do not go together: the cursor says where to go on", offset)
    try:
        devices = scope(who).devices(hub.registry)
        query = EventQuery(device, kind, since, until, include_tests, limit, offset, cursor=cursor, devices=devices)
        page = hub.store.query(query)
    except StoreUnavailable:
        raise HTTPException(503, "the event log's database is unavailable; see /api/health") from None
    return {
        "items": event_views(page.items),
        "total": page.total,
        "total_capped": page.total_capped,
        "limit": limit,
        "offset": offset,
        "next_cursor": page.next_cursor,
    }


@router.get("/events/{event_id}/snapshot", summary="The JPEG snapshot of a motion event", response_class=FileResponse)
def event_snapshot(event_id: str, hub: HubDep, who: Viewer) -> FileResponse:
    record = hub.store.get(event_id) if len(event_id) == 26 else None
    # only the picture sent by the event's own device (the snapshot store is keyed by device)
    device = record.get("device") if record else None
    scope(who).check_device(hub.registry, device, "no snapshot for this event")
    path = hub.snapshots.find(event_id, device=device) if isinstance(device, str) else None
    if path is None:
        raise HTTPException(404, "no snapshot for this event")
    return FileResponse(path, media_type="image/jpeg")


@router.get(
    "/alerts", summary="Alerts, newest first, from the whole history; paged by cursor", response_model=list[AlertOut]
)
def alerts(
    hub: HubDep,
    who: Viewer,
    state: AlertStateFilter = "all",
    device: str | None = None,
    kind: AlertKind | None = None,
    include_tests: bool = True,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=200, description="the X-Next-Cursor of the previous page")] = None,
) -> Response:
    """Newest first (by opened_at). The body stays a list (the console, the CLI and scripts read it so);
    the next page's cursor is in the `X-Next-Cursor` header (and a `Link: rel="next"`), absent on the last page.
    `state`: open, closed, all, or one state. Open alerts are shown in the alert service's copy, the newest
    (hub/web/alert_history.py says how the SQL history and memory are merged). With the database away the
    list is memory's (every open alert, the recently closed ones) and `X-Alerts-Source: memory` says so."""
    query = AlertQuery(
        None if state == "all" else state,
        device,
        kind.value if kind else None,
        include_tests=include_tests,
        limit=limit,
        cursor=cursor,
        devices=scope(who).devices(hub.registry),  # a village account: its villages' alerts only
    )
    try:
        page = alert_page(hub.alerts.all(), hub.alerts.repository, query)
    except ValueError:
        raise invalid("cursor", "not a cursor this API gave (X-Next-Cursor)", cursor) from None
    headers: dict[str, str] = {}
    if page.next_cursor is not None:
        headers["X-Next-Cursor"] = page.next_cursor
        params = {
            "state": state,
            "device": device,
            "kind": kind.value if kind else None,
            "include_tests": None if include_tests else "false",
            "limit": limit,
            "cursor": page.next_cursor,
        }
        link = "/api/alerts?" + urlencode({k: v for k, v in params.items() if v is not None})
        headers["Link"] = f'<{link}>; rel="next"'
    if page.from_memory_only:
        headers["X-Alerts-Source"] = "memory"
    # The views are JSON-safe already (hub/web/views.py): answered as they are, not validated again
    # against AlertOut, which only describes them for /openapi.json (a page of 500 alerts spent about
    # a third of its time in that validation).
    return SafeJSONResponse([alert_view(hub, a) for a in page.items], headers=headers)


@router.get("/alerts/{alert_id}", summary="One alert with its timeline", response_model=AlertOut)
def alert_detail(alert_id: str, hub: HubDep, who: Viewer) -> dict[str, Any]:
    """Any alert of the history; an alert the service holds (open or recently closed) in its newest state."""
    try:
        alert = find_alert(hub.alerts.get, hub.alerts.repository, alert_id)
    except StoreUnavailable:
        raise HTTPException(503, "the alert history's database is unavailable; see /api/health") from None
    if alert is None:
        raise HTTPException(404, "no such alert")
    scope(who).check_device(hub.registry, alert.device, "no such alert")  # another village's: as if absent
    return alert_view(hub, alert)


@router.post(
    "/alerts/{alert_id}/ack", summary="Acknowledge an alert (the post is told help is coming)", response_model=AlertOut
)
def acknowledge(alert_id: str, hub: HubDep, who: Operator, body: AckRequest | None = None) -> dict[str, Any]:
    alert_in_scope(hub, who, alert_id)
    try:
        return alert_view(hub, hub.alerts.acknowledge(alert_id, who.name, "api"))
    except KeyError:
        raise HTTPException(404, "no such alert") from None
    except TransitionError as exc:
        raise HTTPException(409, str(exc)) from None


@router.post(
    "/alerts/{alert_id}/resolve", summary="Resolve an alert with an outcome and a note", response_model=AlertOut
)
def resolve(alert_id: str, body: ResolveRequest, hub: HubDep, who: Operator) -> dict[str, Any]:
    alert_in_scope(hub, who, alert_id)
    try:
        return alert_view(hub, hub.alerts.resolve(alert_id, who.name, body.outcome, body.note))
    except KeyError:
        raise HTTPException(404, "no such alert") from None
    except TransitionError as exc:
        raise HTTPException(409, str(exc)) from None


@router.post(
    "/alerts/{alert_id}/en-route",
    summary="Mark that an officer is on the way (the post is told)",
    response_model=AlertOut,
)
def en_route(alert_id: str, hub: HubDep, who: Operator) -> dict[str, Any]:
    alert_in_scope(hub, who, alert_id)
    try:
        return alert_view(hub, hub.alerts.en_route(alert_id, who.name))
    except KeyError:
        raise HTTPException(404, "no such alert") from None
    except TransitionError as exc:
        raise HTTPException(409, str(exc)) from None
