"""One serialiser per resource (issue 16): a post, an alert and an event as the hub shows them.

The JSON API, the live stream and the dashboard pages all build their posts, alerts and events
here, so the three can never disagree about what a post is, and one fix reaches all of them.
Each view is a plain dict of JSON-safe values (hub/web/render.py `json_safe`): it encodes as
strict JSON and as UTF-8 whatever the store holds (issue 18), and a view that cannot be built
at all becomes a marked stub for that one row instead of a failed page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from hub.alerting.rules import Alert
from hub.service import HubService
from hub.settings import PostSettings
from hub.web.render import BAD_VALUE_JSON, as_text, cut, json_safe

log = logging.getLogger(__name__)

View = dict[str, Any]

EVENT_FIELDS = ("id", "device", "seq", "kind", "ts", "data", "test", "received_at")
"""Keys every event view has (None when the stored record lacks them), so pages never miss one."""


def _value(enum_or_text: Any) -> Any:
    return getattr(enum_or_text, "value", enum_or_text)


def sort_time(moment: Any) -> float:
    """A sort key from a datetime that never raises (a naive or far-out time sorts as 0)."""
    try:
        return float(moment.timestamp())
    except Exception:
        return 0.0


# -- posts ------------------------------------------------------------------------------------------


def camera_state(health: Any) -> str | None:
    """The camera state a post reports in its health telemetry, if any (short, printable text)."""
    if not isinstance(health, Mapping):
        return None
    camera = health.get("camera")
    if isinstance(camera, Mapping):
        camera = camera.get("state") or camera.get("status")
    if camera is None or camera == "" or camera is False:
        return None
    text = as_text(camera)
    return BAD_VALUE_JSON if text is None else cut(text, 100)


def open_alerts_by_device(hub: HubService) -> dict[str, list[Alert]]:
    """Open alerts per device, newest first (one pass over the alerts for a whole page)."""
    result: dict[str, list[Alert]] = {}
    for alert in sorted(hub.alerts.all(), key=lambda a: sort_time(a.opened_at), reverse=True):
        if alert.is_open:
            result.setdefault(alert.device, []).append(alert)
    return result


def post_view(hub: HubService, device: str, open_alerts: Iterable[Alert] | None = None) -> View:
    """A post with its live state: settings (name, village, position), connection, health, open alerts.

    `open_alerts`: this post's open alerts when the caller already has them (`post_views`).
    """
    try:
        post = hub.registry.get(device)
        state = hub.registry.state(device)
        if open_alerts is None:
            open_alerts = open_alerts_by_device(hub).get(device, [])
        alerts = list(open_alerts)
        settings = post.model_dump() if post is not None else {"device_id": device, "name": device, "village": ""}
        view = json_safe(settings) | {
            "online": state.online,
            "last_seen": state.last_seen,
            "status_since": state.status_since,
            "version": state.version,
            "health": state.health,
            "last_seq": state.last_seq,
            "seq_gaps": state.seq_gaps,
            "camera": camera_state(state.health),
            "open_alerts": [a.id for a in alerts],
            "open_alert_summaries": [
                {"id": a.id, "kind": _value(a.kind), "severity": _value(a.severity), "state": _value(a.state)}
                for a in alerts
            ],
        }
        return json_safe(view)
    except Exception:  # one post that cannot be shown must not take the posts page down
        log.exception("views: post %r cannot be shown", device)
        return _post_stub(device)


def _post_stub(device: Any) -> View:
    name = json_safe(device)
    return {
        "device_id": name,
        "name": name,
        "village": "",
        "lat": None,
        "lon": None,
        "online": None,
        "last_seen": None,
        "status_since": None,
        "version": None,
        "health": {},
        "last_seq": None,
        "seq_gaps": None,
        "camera": None,
        "open_alerts": [],
        "open_alert_summaries": [],
        "error": BAD_VALUE_JSON,
    }


def post_views(hub: HubService, posts: Iterable[PostSettings] | None = None) -> list[View]:
    """Every post (or these `posts`, e.g. a village scope's), in the registry's order (by name)."""
    try:
        by_device = open_alerts_by_device(hub)
    except Exception:
        log.exception("views: open alerts cannot be listed")
        by_device = {}
    chosen = hub.registry.all() if posts is None else posts
    return [post_view(hub, post.device_id, by_device.get(post.device_id, [])) for post in chosen]


# -- alerts -----------------------------------------------------------------------------------------


def alert_view(hub: HubService, alert: Alert) -> View:
    """An alert with its timeline, whether it is open, and its post's name and village."""
    try:
        post = hub.registry.get(alert.device)
        view = {
            "id": alert.id,
            "device": alert.device,
            "kind": _value(alert.kind),
            "severity": _value(alert.severity),
            "state": _value(alert.state),
            "opened_at": alert.opened_at,
            "updated_at": alert.updated_at,
            "test": bool(alert.test),
            "event_ids": list(alert.event_ids),
            "evidence": [  # pictures from around the press, in time order (issue 15)
                {"event_id": event_id, "offset_s": offset}
                for event_id, offset in sorted(alert.evidence.items(), key=lambda item: item[1])
            ],
            "timeline": [
                {"ts": entry.ts, "action": entry.action, "actor": entry.actor, "detail": entry.detail}
                for entry in alert.timeline
            ],
            "paged": list(alert.paged),
            "acknowledged_by": alert.acknowledged_by,
            "acknowledged_at": alert.acknowledged_at,
            "ack_channel": alert.ack_channel,
            "resolved_at": alert.resolved_at,
            "outcome": _value(alert.outcome),
            "note": alert.note,
            "details": alert.details,
            "escalation_level": alert.escalation_level,
            "next_due": alert.next_due,
            "assigned_to": alert.assigned_to,  # an operator's assignment (hub/alerting/actions.py)
            "assigned_id": alert.assigned_id,
            "open": bool(alert.is_open),
            "post_name": post.name if post is not None else alert.device,
            "village": post.village if post is not None else "",
        }
        return json_safe(view)
    except Exception:
        log.exception("views: alert %r cannot be shown", getattr(alert, "id", None))
        return _alert_stub(alert)


def _alert_stub(alert: Any) -> View:
    def attr(name: str) -> Any:
        try:
            return json_safe(_value(getattr(alert, name, None)))
        except Exception:
            return None

    return {
        "id": attr("id"),
        "device": attr("device"),
        "kind": attr("kind"),
        "severity": attr("severity"),
        "state": attr("state"),
        "opened_at": None,
        "updated_at": None,
        "test": False,
        "event_ids": [],
        "evidence": [],
        "timeline": [],
        "paged": [],
        "acknowledged_by": None,
        "acknowledged_at": None,
        "ack_channel": None,
        "resolved_at": None,
        "outcome": None,
        "note": None,
        "details": {},
        "escalation_level": 0,
        "next_due": None,
        "assigned_to": None,
        "assigned_id": None,
        "open": False,
        "post_name": attr("device"),
        "village": "",
        "error": BAD_VALUE_JSON,
    }


def alert_views(hub: HubService, alerts: Iterable[Alert], open_first: bool = True) -> list[View]:
    """Alerts newest first; open ones before closed ones when `open_first`."""
    chosen = sorted(alerts, key=lambda a: sort_time(a.opened_at), reverse=True)
    if open_first:
        chosen.sort(key=lambda a: not a.is_open)  # stable: newest first within each group
    return [alert_view(hub, a) for a in chosen]


# -- events -----------------------------------------------------------------------------------------


def event_view(record: Any) -> View:
    """A stored event: every field it holds (JSON-safe), and at least the EVENT_FIELDS keys."""
    if not isinstance(record, Mapping):
        stub = dict.fromkeys(EVENT_FIELDS)
        return stub | {"data": json_safe(record), "error": BAD_VALUE_JSON}
    view: View = json_safe(record)
    for key in EVENT_FIELDS:
        view.setdefault(key, None)
    return view


def event_views(records: Iterable[Any]) -> list[View]:
    return [event_view(record) for record in records]
