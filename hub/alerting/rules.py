"""Pure alert rules: which events raise alerts, how repeats join, how states change.

Functions take values and return new values; nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from kamling.protocol import AlertState, Event, EventKind, new_event_id


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"


class AlertKind(StrEnum):
    PANIC = "panic"
    TAMPER = "tamper"
    CAMERA = "camera"
    MOTION = "motion"
    OFFLINE = "offline"
    HEALTH = "health"  # a post's health telemetry crossed a threshold (hub/alerting/health_rules.py)
    FLOOD = "flood"  # a post kept exceeding its rate limit; quarantined (hub/ingest/quarantine.py)
    POISON = "poison"  # a post's messages keep failing in the hub: dead-lettered (hub/ingest/poison.py)
    INGEST_STUCK = "ingest_stuck"  # the hub's ingest stopped settling messages (hub/ingest/watchdog.py)
    BROKER_LOST = "broker_lost"  # the hub lost a broker of the sector for a while (hub/alerting/sector_watch.py)
    PEER_HUB_LOST = "peer_hub_lost"  # another hub of the sector says it is offline (hub/alerting/sector_watch.py)
    UNSTAFFED = "unstaffed"  # "Pos kosong": a ronda round passed without a check-in (hub/ronda/rules.py)
    REPORT = "report"  # a resident's quick report from the post's poster (hub/community): the operators' queue
    INCIDENT = "incident"  # an operator escalated a resident's report: paged like a panic (hub/community)
    MANUAL = "manual"  # an operator entered an incident reported by phone or in person (hub/alerting/actions.py)


HUB_DEVICE = "_hub"
"""The pseudo-device of alerts about the hub itself; never a post's id (ids start with [a-z0-9])."""
HUB_KINDS = frozenset({AlertKind.INGEST_STUCK, AlertKind.BROKER_LOST, AlertKind.PEER_HUB_LOST})
"""Kinds about the hub, not a post: they page the duty desk (the roster's fallback) and no post is told."""
POLSEK_ONLY = frozenset(
    {
        AlertKind.OFFLINE,
        AlertKind.HEALTH,
        AlertKind.FLOOD,
        AlertKind.POISON,
        AlertKind.INGEST_STUCK,
        AlertKind.BROKER_LOST,
        AlertKind.PEER_HUB_LOST,
        AlertKind.UNSTAFFED,
        AlertKind.REPORT,
        AlertKind.INCIDENT,
        AlertKind.MANUAL,
    }
)
"""Kinds never told to the post (no `alert` message): for the Polsek only."""


SEVERITY = {
    AlertKind.PANIC: Severity.CRITICAL,
    AlertKind.TAMPER: Severity.MAJOR,
    AlertKind.OFFLINE: Severity.MAJOR,
    AlertKind.CAMERA: Severity.MINOR,
    AlertKind.MOTION: Severity.WARNING,
    AlertKind.HEALTH: Severity.WARNING,
    AlertKind.FLOOD: Severity.MAJOR,
    AlertKind.POISON: Severity.MAJOR,
    AlertKind.INGEST_STUCK: Severity.CRITICAL,  # no post's panic reaches the hub while it lasts
    AlertKind.BROKER_LOST: Severity.MAJOR,  # posts on it fail over to another broker; no spare left meanwhile
    AlertKind.PEER_HUB_LOST: Severity.MAJOR,  # this hub still serves the sector, with no spare
    AlertKind.UNSTAFFED: Severity.WARNING,  # low: nobody is in danger because a round was missed
    AlertKind.REPORT: Severity.WARNING,  # low until an operator has looked at it
    AlertKind.INCIDENT: Severity.MAJOR,  # an operator judged a resident's report real
    AlertKind.MANUAL: Severity.MAJOR,  # a person called or came to the Polsek: an operator took it down
}

MAX_EVIDENCE = 24
"""Evidence pictures (issue 15) one alert links at most: a post cannot grow an alert without bound."""
AT_PRESS_S = 1.0
"""A picture this close to the press (seconds) is the picture "at the press" that pages carry."""

OPEN_STATES = frozenset({AlertState.NEW, AlertState.NOTIFIED, AlertState.ACKNOWLEDGED, AlertState.EN_ROUTE})


class Outcome(StrEnum):
    REAL = "real"
    FALSE_ALARM = "false_alarm"
    TEST = "test"
    RESTORED = "restored"  # the condition cleared by itself (post back online, camera back)


class TransitionError(ValueError):
    """A state change that the alert's current state does not allow."""


@dataclass(frozen=True)
class TimelineEntry:
    ts: datetime
    action: str  # opened, repeat, notified, acknowledged, en_route, resolved, ...
    actor: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Alert:
    id: str
    device: str
    kind: AlertKind
    severity: Severity
    state: AlertState
    opened_at: datetime
    updated_at: datetime
    test: bool = False
    event_ids: tuple[str, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    paged: tuple[str, ...] = ()
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    ack_channel: str | None = None
    resolved_at: datetime | None = None
    outcome: Outcome | None = None
    note: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    escalation_level: int = 0  # how many steps of the duty chain have been paged
    next_due: datetime | None = None  # when the next escalation step or reminder is due
    assigned_to: str | None = None  # the officer an operator assigned (name), hub/alerting/actions.py
    assigned_id: str | None = None  # that officer's roster id
    evidence: dict[str, float] = field(default_factory=dict)  # picture event id -> seconds from the press

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        for key in ("opened_at", "updated_at", "acknowledged_at", "resolved_at", "next_due"):
            record[key] = record[key].isoformat() if record[key] else None
        record["timeline"] = [{**entry, "ts": entry["ts"].isoformat()} for entry in record["timeline"]]
        record["event_ids"] = list(self.event_ids)
        record["paged"] = list(self.paged)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Alert:
        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            id=record["id"],
            device=record["device"],
            kind=AlertKind(record["kind"]),
            severity=Severity(record["severity"]),
            state=AlertState(record["state"]),
            opened_at=datetime.fromisoformat(record["opened_at"]),
            updated_at=datetime.fromisoformat(record["updated_at"]),
            test=bool(record.get("test")),
            event_ids=tuple(record.get("event_ids", ())),
            timeline=tuple(
                TimelineEntry(datetime.fromisoformat(e["ts"]), e["action"], e.get("actor"), e.get("detail"))
                for e in record.get("timeline", ())
            ),
            paged=tuple(record.get("paged", ())),
            acknowledged_by=record.get("acknowledged_by"),
            acknowledged_at=when(record.get("acknowledged_at")),
            ack_channel=record.get("ack_channel"),
            resolved_at=when(record.get("resolved_at")),
            outcome=Outcome(record["outcome"]) if record.get("outcome") else None,
            note=record.get("note"),
            details=dict(record.get("details") or {}),
            escalation_level=int(record.get("escalation_level") or 0),
            next_due=when(record.get("next_due")),
            assigned_to=record.get("assigned_to"),
            assigned_id=record.get("assigned_id"),
            evidence=_evidence_of(record.get("evidence")),
        )

    @property
    def awaiting_ack(self) -> bool:
        """Open and nobody has answered yet: escalation keeps running."""
        return self.state in (AlertState.NEW, AlertState.NOTIFIED)


def _evidence_of(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def attach_evidence(alert: Alert, event_id: str, offset_s: float, now: datetime) -> Alert:
    """A picture from around the alert's event joins it: listed with its offset (and in event_ids, so
    its snapshot is alert evidence for retention). A repeat, or one over MAX_EVIDENCE, changes nothing."""
    if event_id in alert.evidence or len(alert.evidence) >= MAX_EVIDENCE:
        return alert
    return replace(
        alert,
        updated_at=now,
        event_ids=(*alert.event_ids, event_id),
        evidence={**alert.evidence, event_id: float(offset_s)},
    )


def at_press(alert: Alert) -> str | None:
    """The evidence picture nearest the press (the page's attachment), if one is within AT_PRESS_S of it.

    A picture from 2 s before is not "the press": a page waiting for its picture keeps waiting for the
    one at the press, which usually arrives a frame later.
    """
    near = [(event_id, offset) for event_id, offset in alert.evidence.items() if abs(offset) <= AT_PRESS_S]
    if not near:
        return None
    return min(near, key=lambda item: (abs(item[1]), -item[1]))[0]


def alert_kind_for(event: Event) -> AlertKind | None:
    """The alert an event raises, or None for events that are only logged."""
    if event.kind is EventKind.PANIC:
        return AlertKind.PANIC
    if event.kind is EventKind.TAMPER and event.data.get("state", "open") not in ("closed", "restored"):
        return AlertKind.TAMPER
    if event.kind is EventKind.CAMERA and event.data.get("state") == "lost":
        return AlertKind.CAMERA
    if event.kind is EventKind.MOTION and event.data.get("phase") == "start" and event.data.get("armed"):
        return AlertKind.MOTION
    return None


def open_alert(device: str, kind: AlertKind, now: datetime, *, event: Event | None = None, test: bool = False) -> Alert:
    detail = None if event is None else f"event {event.id} seq {event.seq}"
    return Alert(
        id=new_event_id(),
        device=device,
        kind=kind,
        severity=SEVERITY[kind],
        state=AlertState.NEW,
        opened_at=now,
        updated_at=now,
        test=test,
        event_ids=(event.id,) if event else (),
        timeline=(TimelineEntry(now, "opened", device, detail),),
        details=dict(event.data) if event else {},
    )


def join_repeat(alert: Alert, event: Event, now: datetime) -> Alert:
    """A repeated press while the alert is open joins it: logged, no new page storm."""
    return replace(
        alert,
        updated_at=now,
        event_ids=(*alert.event_ids, event.id),
        timeline=(*alert.timeline, TimelineEntry(now, "repeat", alert.device, f"event {event.id} seq {event.seq}")),
    )


def _step(
    alert: Alert, now: datetime, action: str, actor: str | None, detail: str | None = None, **changes: Any
) -> Alert:
    return replace(
        alert, updated_at=now, timeline=(*alert.timeline, TimelineEntry(now, action, actor, detail)), **changes
    )


def mark_notified(alert: Alert, recipients: list[str], now: datetime, detail: str | None = None) -> Alert:
    """Record who was paged; the state moves to notified unless someone already answered."""
    state = AlertState.NOTIFIED if alert.state is AlertState.NEW else alert.state
    paged = tuple(dict.fromkeys((*alert.paged, *recipients)))
    return _step(alert, now, "notified", None, detail or ", ".join(recipients), state=state, paged=paged)


def record_note(alert: Alert, now: datetime, action: str, actor: str | None, detail: str | None) -> Alert:
    """A timeline entry that does not change state (a failed page, a reminder, ...)."""
    return _step(alert, now, action, actor, detail)


def acknowledge(alert: Alert, actor: str, channel: str, now: datetime) -> Alert:
    if not alert.is_open:
        raise TransitionError(f"alert {alert.id} is {alert.state}; it cannot be acknowledged")
    if alert.state in (AlertState.ACKNOWLEDGED, AlertState.EN_ROUTE):
        return alert  # the first acknowledgement stands; pressing again changes nothing
    return _step(
        alert,
        now,
        "acknowledged",
        actor,
        f"via {channel}",
        state=AlertState.ACKNOWLEDGED,
        acknowledged_by=actor,
        acknowledged_at=now,
        ack_channel=channel,
        next_due=None,
    )


def en_route(alert: Alert, actor: str, now: datetime) -> Alert:
    if not alert.is_open:
        raise TransitionError(f"alert {alert.id} is {alert.state}; nobody can be en route")
    acked = alert if alert.acknowledged_by else acknowledge(alert, actor, "en_route", now)
    if alert.state is AlertState.EN_ROUTE:
        return alert  # already on the way; a second tap changes nothing
    return _step(acked, now, "en_route", actor, None, state=AlertState.EN_ROUTE, next_due=None)


def resolve(alert: Alert, actor: str, outcome: Outcome, note: str | None, now: datetime) -> Alert:
    if not alert.is_open:
        raise TransitionError(f"alert {alert.id} is already {alert.state}")
    return _step(
        alert,
        now,
        "resolved",
        actor,
        f"{outcome.value}: {note}" if note else outcome.value,
        state=AlertState.RESOLVED,
        resolved_at=now,
        outcome=outcome,
        note=note,
        next_due=None,
    )


def escalation_step(alert: Alert, level: int, next_due: datetime | None, now: datetime, detail: str | None) -> Alert:
    """Record an escalation step (a new level paged, or reminders) and when the next one is due."""
    if alert.escalation_level == 0:
        action = "paging"
    elif level > alert.escalation_level:
        action = "escalated"
    else:
        action = "reminder"
    return _step(alert, now, action, "system", detail, escalation_level=level, next_due=next_due)


def mark_not_paged(alert: Alert, now: datetime, reason: str) -> Alert:
    """Nobody is paged for this alert (a walk test, or a kind the rules do not page)."""
    return _step(alert, now, "not_paged", None, reason, next_due=None)
