"""All routes of the alert lifecycle in one router: roster, reports, en route, the ack-link page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from hub.ack_page import router as ack_router
from hub.alerts import TransitionError
from hub.api import HubDep, Operator, alert_json
from hub.api_reports import router as reports_router
from hub.api_roster import router as roster_router

lifecycle = APIRouter(prefix="/api", tags=["alerts"])


@lifecycle.post("/alerts/{alert_id}/en-route", summary="Mark that an officer is on the way (the post is told)")
def en_route(alert_id: str, hub: HubDep, who: Operator) -> dict[str, Any]:
    try:
        return alert_json(hub.alerts.en_route(alert_id, who.name))
    except KeyError:
        raise HTTPException(404, "no such alert") from None
    except TransitionError as exc:
        raise HTTPException(409, str(exc)) from None


router = APIRouter()
router.include_router(lifecycle)
router.include_router(roster_router)
router.include_router(reports_router)
router.include_router(ack_router)
