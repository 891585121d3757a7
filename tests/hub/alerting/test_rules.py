"""Pure alert rules: severity by kind, repeats join, lifecycle transitions, escalation fields persist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.alerting import rules
from hub.alerting.rules import Alert, AlertKind, Outcome, Severity, TransitionError
from kamling.protocol import AlertState, Event, EventKind, new_event_id

T0 = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def event(kind: EventKind = EventKind.PANIC, seq: int = 1, **data) -> Event:
    return Event(id=new_event_id(), device="pos-a", seq=seq, kind=kind, ts=T0, data=data)


@pytest.mark.parametrize(
    ("kind", "data", "alert_kind", "severity"),
    [
        (EventKind.PANIC, {}, AlertKind.PANIC, Severity.CRITICAL),
        (EventKind.TAMPER, {"state": "open"}, AlertKind.TAMPER, Severity.MAJOR),
        (EventKind.CAMERA, {"state": "lost"}, AlertKind.CAMERA, Severity.MINOR),
        (EventKind.MOTION, {"phase": "start", "armed": True}, AlertKind.MOTION, Severity.WARNING),
    ],
)
def test_severity_by_kind(kind, data, alert_kind, severity) -> None:
    assert rules.alert_kind_for(event(kind, **data)) is alert_kind
    assert rules.open_alert("pos-a", alert_kind, T0).severity is severity
    assert rules.SEVERITY[AlertKind.OFFLINE] is Severity.MAJOR


def test_unarmed_motion_and_restored_tamper_raise_nothing() -> None:
    assert rules.alert_kind_for(event(EventKind.MOTION, phase="start", armed=False)) is None
    assert rules.alert_kind_for(event(EventKind.TAMPER, state="closed")) is None


def test_lifecycle_records_actor_time_and_channel() -> None:
    first = event()
    alert = rules.open_alert("pos-a", AlertKind.PANIC, T0, event=first)
    alert = rules.join_repeat(alert, event(seq=2), T0 + timedelta(seconds=5))
    alert = rules.escalation_step(alert, 1, T0 + timedelta(seconds=60), T0, "level 1")
    alert = rules.mark_notified(alert, ["Agus"], T0 + timedelta(seconds=1))
    assert alert.state is AlertState.NOTIFIED and alert.awaiting_ack and alert.next_due is not None
    alert = rules.acknowledge(alert, "Agus", "link", T0 + timedelta(seconds=30))
    assert (alert.state, alert.acknowledged_by, alert.ack_channel) == (AlertState.ACKNOWLEDGED, "Agus", "link")
    assert alert.next_due is None and not alert.awaiting_ack
    assert rules.acknowledge(alert, "Kanit", "api", T0 + timedelta(seconds=40)).acknowledged_by == "Agus"
    alert = rules.en_route(alert, "Agus", T0 + timedelta(seconds=45))
    assert rules.en_route(alert, "Agus", T0 + timedelta(seconds=46)) is alert  # a second tap is a no-op
    alert = rules.resolve(alert, "operator", Outcome.REAL, "pencurian motor", T0 + timedelta(minutes=20))
    assert alert.state is AlertState.RESOLVED and alert.outcome is Outcome.REAL
    assert [(e.action, e.actor) for e in alert.timeline] == [
        ("opened", "pos-a"),
        ("repeat", "pos-a"),
        ("paging", "system"),
        ("notified", None),
        ("acknowledged", "Agus"),
        ("en_route", "Agus"),
        ("resolved", "operator"),
    ]
    for action in (
        lambda a: rules.acknowledge(a, "x", "api", T0),
        lambda a: rules.en_route(a, "x", T0),
        lambda a: rules.resolve(a, "x", Outcome.TEST, None, T0),
    ):
        with pytest.raises(TransitionError):
            action(alert)


def test_en_route_without_ack_acknowledges_first() -> None:
    alert = rules.en_route(rules.open_alert("pos-a", AlertKind.PANIC, T0), "Agus", T0)
    assert alert.state is AlertState.EN_ROUTE and alert.acknowledged_by == "Agus"


def test_escalation_actions_and_record_round_trip() -> None:
    alert = rules.open_alert("pos-a", AlertKind.PANIC, T0, test=True)
    alert = rules.escalation_step(alert, 1, T0 + timedelta(seconds=60), T0, None)
    alert = rules.escalation_step(alert, 2, T0 + timedelta(seconds=120), T0, None)
    alert = rules.escalation_step(alert, 2, T0 + timedelta(seconds=180), T0, None)
    assert [e.action for e in alert.timeline][1:] == ["paging", "escalated", "reminder"]
    again = Alert.from_record(alert.to_record())
    assert again == alert and again.next_due == T0 + timedelta(seconds=180) and again.test
    # records written before escalation existed still load
    old = {k: v for k, v in alert.to_record().items() if k not in ("escalation_level", "next_due")}
    assert Alert.from_record(old).escalation_level == 0
