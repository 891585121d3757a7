"""AlertEvidence: which snapshots alerts reference, and how hard each is held against eviction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.alerting import rules
from hub.alerting.evidence import AlertEvidence
from hub.alerting.rules import Alert, AlertKind, Outcome
from hub.storage.snapshots import Hold
from kamling.protocol import Event, EventKind, new_event_id

T0 = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


class Alerts:
    """The two AlertService queries AlertEvidence uses."""

    def __init__(self) -> None:
        self.by_id: dict[str, Alert] = {}

    def get(self, alert_id: str) -> Alert | None:
        return self.by_id.get(alert_id)

    def all(self) -> list[Alert]:
        return list(self.by_id.values())

    def put(self, alert: Alert) -> Alert:
        self.by_id[alert.id] = alert
        return alert


def motion(device: str, seq: int = 1) -> Event:
    return Event(id=new_event_id(), device=device, seq=seq, kind=EventKind.MOTION, ts=T0, data={})


def test_open_alert_pins_its_events_for_its_own_device_only() -> None:
    alerts, now = Alerts(), [T0]
    first, second = motion("pos-rw01"), motion("pos-rw01", 2)
    alert = alerts.put(rules.open_alert("pos-rw01", AlertKind.MOTION, T0, event=first))
    evidence = AlertEvidence(alerts, keep=timedelta(days=30), clock=lambda: now[0])
    evidence.load()
    assert evidence.hold("pos-rw01", [first.id, second.id]) == {first.id: Hold.PINNED}
    assert evidence.hold("pos-evil", [first.id]) == {}  # the same id on another post's topic is nothing

    joined = alerts.put(rules.join_repeat(alert, second, T0))
    evidence.observe(joined)  # the AlertService listener
    assert evidence.hold("pos-rw01", [second.id]) == {second.id: Hold.PINNED}


def test_a_closed_alert_keeps_its_evidence_pinned_for_the_keep_time_then_last() -> None:
    alerts, now = Alerts(), [T0]
    event = motion("pos-rw01")
    alert = alerts.put(rules.open_alert("pos-rw01", AlertKind.MOTION, T0, event=event))
    evidence = AlertEvidence(alerts, keep=timedelta(days=30), clock=lambda: now[0])
    evidence.observe(alert)
    closed = alerts.put(rules.resolve(alert, "operator", Outcome.FALSE_ALARM, None, T0 + timedelta(hours=1)))
    evidence.observe(closed)
    now[0] = T0 + timedelta(days=29)
    assert evidence.hold("pos-rw01", [event.id]) == {event.id: Hold.PINNED}
    now[0] = T0 + timedelta(days=31)
    assert evidence.hold("pos-rw01", [event.id]) == {event.id: Hold.LAST}
