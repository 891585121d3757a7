"""Evidence pictures (issue 15): linked to their alert by the triggering event's id, and paged with it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hub.alerting.rules import MAX_EVIDENCE, Alert, AlertKind, at_press, attach_evidence, open_alert
from hub.paging.notify import RecordingNotifier
from kamling.protocol import EVIDENCE_STATE, Event, EventKind, new_event_id
from tests.hub.alerting.test_escalation import T0, Clock, build
from tests.support import wait_for


def press(device: str = "pos-a", seq: int = 1) -> Event:
    return Event(id=new_event_id(), device=device, seq=seq, kind=EventKind.PANIC, ts=T0)


def picture(of: Event, offset: Any, device: str | None = None, seq: int = 2, **extra: Any) -> Event:
    data = {"camera": "gate", "state": EVIDENCE_STATE, "evidence_for": of.id, "offset_s": offset, "severity": "info"}
    return Event(
        id=new_event_id(), device=device or of.device, seq=seq, kind=EventKind.CAMERA, ts=T0, data=data | extra
    )


# -- pure rules ------------------------------------------------------------------------------
def test_attach_evidence_lists_the_picture_once_with_its_offset_and_is_bounded() -> None:
    alert = open_alert("pos-a", AlertKind.PANIC, T0, event=press())
    linked = attach_evidence(alert, "E1", -2.0, T0)
    assert linked.evidence == {"E1": -2.0} and linked.event_ids == (*alert.event_ids, "E1")
    assert attach_evidence(linked, "E1", -2.0, T0) is linked  # a resend changes nothing
    full = alert
    for n in range(MAX_EVIDENCE + 5):
        full = attach_evidence(full, f"E{n}", float(n), T0)
    assert len(full.evidence) == MAX_EVIDENCE


def test_the_picture_at_the_press_is_the_one_nearest_zero() -> None:
    alert = open_alert("pos-a", AlertKind.PANIC, T0, event=press())
    assert at_press(alert) is None
    alert = replace(alert, evidence={"before": -2.2, "at": 0.1, "after": 3.0, "just-before": -0.1})
    assert at_press(alert) == "at"  # |0.1| ties |-0.1|: the later one, taken after the press
    assert at_press(replace(alert, evidence={"before": -2.0, "after": 3.0})) is None  # neither is the press
    assert at_press(replace(alert, evidence={"before": -2.0, "near": -0.9})) == "near"


def test_evidence_survives_the_alert_record_and_bad_stored_values_are_dropped() -> None:
    alert = replace(open_alert("pos-a", AlertKind.PANIC, T0, event=press()), evidence={"E1": -2.0, "E2": 0.0})
    assert Alert.from_record(alert.to_record()).evidence == {"E1": -2.0, "E2": 0.0}
    record = alert.to_record() | {"evidence": {"E1": "x", "E2": True, "E3": 3}}
    assert Alert.from_record(record).evidence == {"E3": 3.0}
    assert Alert.from_record({k: v for k, v in alert.to_record().items() if k != "evidence"}).evidence == {}


# -- the service -----------------------------------------------------------------------------
@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def test_pictures_join_their_alert_only_from_the_same_post(tmp_path: Path, clock: Clock) -> None:
    service, _ = build(tmp_path, clock, RecordingNotifier())
    try:
        pressed = press()
        alert = service.handle_event(pressed)
        assert alert is not None
        for offset in (-2.0, 0.0, 3.1):
            assert service.handle_event(picture(pressed, offset)) is not None
        linked = service.get(alert.id)
        assert linked is not None and sorted(linked.evidence.values()) == [-2.0, 0.0, 3.1]
        assert set(linked.evidence) <= set(linked.event_ids)  # evidence for retention (AlertEvidence)

        assert service.handle_event(picture(pressed, 1.0, device="pos-b")) is None  # another post's alert
        assert service.handle_event(picture(press(), 0.0)) is None  # an event no alert lists
        for bad in ("1", 61, None):  # malformed: stored as a plain camera event by ingest, linked to nothing
            assert service.handle_event(picture(pressed, bad)) is None
        assert service.handle_event(picture(pressed, 0.5, evidence_for="not-an-id")) is None
        after = service.get(alert.id)
        assert after is not None and len(after.evidence) == 3 and len(service.all()) == 1
    finally:
        service.stop()


def test_the_first_page_waits_for_the_picture_at_the_press_and_carries_it(tmp_path: Path, clock: Clock) -> None:
    notifier = RecordingNotifier()
    service, _ = build(tmp_path, clock, notifier, page_picture_wait_s=5)
    stored: dict[str, Path] = {}
    service.find_snapshot = lambda event_id, device: stored.get(f"{device}/{event_id}")
    try:
        pressed = press()
        alert = service.handle_event(pressed)
        assert alert is not None
        assert service.picture_wait.pending() == 1 and notifier.sent == []  # held for its picture
        at, before = picture(pressed, 0.0), picture(pressed, -2.0, seq=3)
        service.handle_event(before)
        earlier = tmp_path / f"{before.id}.jpg"
        earlier.write_bytes(b"\xff\xd8\xff\xe0 before")
        stored[f"pos-a/{before.id}"] = earlier
        service.picture_stored("pos-a", before.id)  # 2 s before the press: not the page's picture, keep waiting
        wait_for(lambda: service.picture_wait.pending() == 1 and notifier.sent == [], what="still held")
        service.handle_event(at)
        jpeg = tmp_path / f"{at.id}.jpg"
        jpeg.write_bytes(b"\xff\xd8\xff\xe0 test")
        stored[f"pos-a/{at.id}"] = jpeg
        shown: list[Alert] = []
        service.picture_listeners.append(shown.append)
        service.picture_stored("pos-a", pressed.id)  # the panic's own id is no evidence picture: nobody told
        assert shown == []
        service.picture_stored("pos-a", at.id)  # the snapshot store saved it: the page goes, browsers refresh
        assert [a.id for a in shown] == [alert.id]
        wait_for(lambda: notifier.sent, what="the first page, once its picture is stored")
        assert notifier.attachments == [str(jpeg)]

        clock.advance(61)  # escalation to level 2: no wait, the picture goes along
        service.escalate_due()
        wait_for(lambda: len(notifier.sent) >= 3, what="the escalation pages")
        assert notifier.attachments[1:] == [str(jpeg)] * (len(notifier.attachments) - 1)
    finally:
        service.stop()


def test_a_post_without_a_camera_and_other_kinds_never_wait(tmp_path: Path, clock: Clock) -> None:
    notifier = RecordingNotifier()
    service, _ = build(tmp_path, clock, notifier, page_picture_wait_s=5)
    service.find_snapshot = lambda event_id, device: None
    service.has_camera = lambda device: False
    try:
        assert service.handle_event(press()) is not None
        assert service.picture_wait.pending() == 0
        wait_for(lambda: notifier.sent, what="the page, at once")
        assert notifier.attachments == [None]
    finally:
        service.stop()
