"""The JSON API of events, posts and alerts under /api (health needs no login; the rest a role)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from hub.alerting.rules import Outcome, TransitionError
from hub.storage.events import EventQuery
from hub.web.deps import HubDep, Operator, Viewer
from hub.web.views import alert_view, alert_views, event_views, post_views


class AckRequest(BaseModel):
    note: str | None = Field(default=None, max_length=500)


class ResolveRequest(BaseModel):
    outcome: Outcome
    note: str | None = Field(default=None, max_length=2000)


router = APIRouter(prefix="/api")


@router.get("/health", summary="Liveness and ingest counters (no authentication)")
def health(hub: HubDep) -> dict[str, Any]:
    """`status` is "degraded" while ingest is not keeping up: a message has waited longer than
    `ingest_degraded_after` seconds for its PUBACK, or the ingest worker or log writer stopped."""
    states = [hub.registry.state(p.device_id) for p in hub.registry.all()]
    oldest = hub.ingest.oldest_unacked_age()
    alive = hub.ingest.alive()
    degraded = oldest > hub.settings.ingest_degraded_after or not alive
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
        "posts": len(states),
        "posts_online": sum(1 for s in states if s.online),
        "events_accepted": hub.ingest.accepted,
        "events_duplicate": hub.ingest.duplicates,
        "rejected": dict(hub.ingest.rejected),
        "seq_gaps": dict(hub.ingest.seq_gaps),  # per post: seq numbers never received (lost events)
        "clock_skewed": dict(hub.ingest.clock_skewed),  # per post: events stored with a far-off post clock
        "log_backlog": hub.ingest.writer.backlog(),
        "store_damaged": hub.damaged_files(),  # every store: events, alerts, users, officers, devices
    }


@router.get("/posts", summary="Every post with its live state")
def posts(hub: HubDep, _: Viewer) -> list[dict[str, Any]]:
    return post_views(hub)  # hub/web/views.py: the one serialiser of a post (also the live stream's and the pages')


@router.get("/events", summary="The event log, newest first, filtered and paginated")
def events(
    hub: HubDep,
    _: Viewer,
    device: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_tests: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} needs a timezone, e.g. 2026-11-22T22:00:00+07:00")
    page = hub.store.query(EventQuery(device, kind, since, until, include_tests, limit, offset))
    return {"items": event_views(page.items), "total": page.total, "limit": limit, "offset": offset}


@router.get("/events/{event_id}/snapshot", summary="The JPEG snapshot of a motion event", response_class=FileResponse)
def event_snapshot(event_id: str, hub: HubDep, _: Viewer) -> FileResponse:
    record = hub.store.get(event_id) if len(event_id) == 26 else None
    # only the picture sent by the event's own device (the snapshot store is keyed by device)
    device = record.get("device") if record else None
    path = hub.snapshots.find(event_id, device=device) if isinstance(device, str) else None
    if path is None:
        raise HTTPException(404, "no snapshot for this event")
    return FileResponse(path, media_type="image/jpeg")


@router.get("/alerts", summary="Alerts, open ones first")
def alerts(hub: HubDep, _: Viewer, state: Literal["open", "all"] = "all") -> list[dict[str, Any]]:
    return alert_views(hub, [a for a in hub.alerts.all() if state == "all" or a.is_open])


@router.get("/alerts/{alert_id}", summary="One alert with its timeline")
def alert_detail(alert_id: str, hub: HubDep, _: Viewer) -> dict[str, Any]:
    alert = hub.alerts.get(alert_id)
    if alert is None:
        raise HTTPException(404, "no such alert")
    return alert_view(hub, alert)


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert (the post is told help is coming)")
def acknowledge(alert_id: str, hub: HubDep, who: Operator, body: AckRequest | None = None) -> dict[str, Any]:
    try:
        return alert_view(hub, hub.alerts.acknowledge(alert_id, who.name, "api"))
    except KeyError:
        raise HTTPException(404, "no such alert") from None
    except TransitionError as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/alerts/{alert_id}/resolve", summary="Resolve an alert with an outcome and a note")
def resolve(alert_id: str, body: ResolveRequest, hub: HubDep, who: Operator) -> dict[str, Any]:
    try:
        return alert_view(hub, hub.alerts.resolve(alert_id, who.name, body.outcome, body.note))
    except KeyError:
        raise HTTPException(404, "no such alert") from None
    except TransitionError as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/alerts/{alert_id}/en-route", summary="Mark that an officer is on the way (the post is told)")
def en_route(alert_id: str, hub: HubDep, who: Operator) -> dict[str, Any]:
    try:
        return alert_view(hub, hub.alerts.en_route(alert_id, who.name))
    except KeyError:
        raise HTTPException(404, "no such alert") from None
    except TransitionError as exc:
        raise HTTPException(409, str(exc)) from None
