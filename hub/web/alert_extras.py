"""What the alert page shows besides the alert itself (issue 15): the kind's procedure, the officers
an operator may assign, and how a reported incident came in. Built for hub/web/routes/dashboard.py's
alert page and rendered by templates/dashboard/_alert_actions.html."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.alerting.procedures import Procedure, default_procedure
from hub.alerting.rules import Alert, AlertKind
from hub.duty.roster import is_on_duty
from hub.service import HubService

log = logging.getLogger(__name__)


def procedure_for(hub: HubService, kind: AlertKind, lang: str) -> Procedure:
    """The admins' procedure for `kind`, or the default; a store that cannot be read shows the default."""
    try:
        return hub.alerts.procedures.get(kind, lang)
    except Exception:
        log.exception("procedures: cannot read %s; showing the default", hub.alerts.procedures.path)
        return Procedure(kind, default_procedure(kind, lang), custom=False)


def assignable_officers(hub: HubService, village: str) -> list[dict[str, Any]]:
    """Active officers, those covering the post's village first, then by level and name; who is on duty now."""
    try:
        officers = hub.alerts.assignable()
        roster_of = getattr(hub.alerts.resolver, "roster", None)
        roster = roster_of() if callable(roster_of) else None
    except Exception:
        log.exception("officers cannot be listed for assignment")
        return []
    now = datetime.now(ZoneInfo(hub.settings.timezone))
    rows = []
    for officer in officers:
        try:
            on_duty = roster is not None and is_on_duty(roster, officer, now, hub.settings.timezone)
        except Exception:
            on_duty = False
        rows.append(
            {
                "id": officer.id,
                "name": officer.name,
                "rank": officer.rank,
                "covers": officer.covers(village) if village else True,
                "on_duty": on_duty,
                "level": officer.level,
            }
        )
    return sorted(rows, key=lambda r: (not r["covers"], not r["on_duty"], r["level"], r["name"]))


def alert_extras(hub: HubService, alert: Alert, lang: str) -> dict[str, Any]:
    """Template values for the alert page's actions and procedure panel."""
    post = hub.registry.get(alert.device)
    return {
        "procedure": procedure_for(hub, alert.kind, lang),
        "officers": assignable_officers(hub, post.village if post is not None else ""),
    }
