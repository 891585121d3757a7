"""The evidence data of a camera event (issue 15): strict where it matters, open to newer posts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kamling.protocol import EVIDENCE_STATE, Event, EventKind, ProtocolError, decode_event, evidence_of

PRESS = "01JD2X3Y4Z5A6B7C8D9E0F1G2H"


def event(data: dict[str, Any], kind: EventKind = EventKind.CAMERA) -> Event:
    return Event(id="01JD2X3Y4Z5A6B7C8D9E0F1G2J", device="pos-a", seq=2, kind=kind, ts=datetime.now(UTC), data=data)


def good(**changes: Any) -> dict[str, Any]:
    return {"camera": "gate", "state": EVIDENCE_STATE, "evidence_for": PRESS, "offset_s": -2.0} | changes


def test_evidence_round_trips_on_the_wire_and_keeps_fields_a_newer_post_adds() -> None:
    sent = event(good(severity="info", lens="wide"))
    received = decode_event("pos-a", sent.to_payload())
    evidence = evidence_of(received)
    assert evidence is not None and evidence.evidence_for == PRESS and evidence.offset_s == -2.0
    assert evidence_of(event(good(offset_s=3))) is not None  # an integer offset is a number too


def test_other_events_are_no_evidence() -> None:
    assert evidence_of(event({"camera": "gate", "state": "lost"})) is None
    assert evidence_of(event(good(), kind=EventKind.MOTION)) is None


@pytest.mark.parametrize(
    "data",
    [
        good(offset_s="-2"),
        good(offset_s=True),
        good(offset_s=61),
        good(evidence_for="01jd2x3y4z5a6b7c8d9e0f1g2h"),
        good(evidence_for=7),
        good(camera=""),
        {k: v for k, v in good().items() if k != "evidence_for"},
    ],
)
def test_malformed_evidence_is_a_protocol_error(data: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as caught:
        evidence_of(event(data))
    assert caught.value.reason == "schema"
