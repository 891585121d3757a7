"""The wire contract: topics, ids and payload validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from kamling.protocol import (
    MAX_EVENT_BYTES,
    Channel,
    Event,
    EventKind,
    ProtocolError,
    check_snapshot,
    decode_ack,
    decode_event,
    new_event_id,
    parse_topic,
    subscription,
    topic,
)


def event_payload(**overrides: object) -> bytes:
    body = {
        "id": new_event_id(),
        "device": "pos-1",
        "seq": 1,
        "kind": "panic",
        "ts": "2026-11-22T15:00:00Z",
        "data": {"source": "button"},
        "test": False,
    }
    body.update(overrides)
    return json.dumps(body).encode()


def test_topics_round_trip() -> None:
    assert topic("pos-1", Channel.EVENT) == "kamling/v1/pos-1/event"
    assert parse_topic("kamling/v1/pos-1/event").channel is Channel.EVENT
    snap = parse_topic(topic("pos-1", Channel.SNAPSHOT, "01J0000000000000000000000A"))
    assert (snap.device, snap.channel, snap.suffix) == ("pos-1", Channel.SNAPSHOT, "01J0000000000000000000000A")
    assert subscription(Channel.SNAPSHOT) == "kamling/v1/+/snapshot/+"


@pytest.mark.parametrize(
    "bad",
    [
        "kamling/v2/pos-1/event",  # other protocol version
        "kamling/v1/pos-1/unknown",
        "kamling/v1/POS 1/event",
        "kamling/v1/pos-1/event/extra",
        "kamling/v1/pos-1/snapshot",
        "other/v1/pos-1/event",
        "kamling/v1",
    ],
)
def test_bad_topics_are_rejected(bad: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_topic(bad)
    assert err.value.reason == "bad_topic"


def test_topic_refuses_invalid_device_id() -> None:
    with pytest.raises(ValueError):
        topic("a/b", Channel.EVENT)


def test_event_ids_are_unique_and_time_sortable() -> None:
    ids = [new_event_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert ids[0][:6] <= ids[-1][:6]  # the leading characters encode milliseconds


def test_valid_event_decodes_to_utc() -> None:
    event = decode_event("pos-1", event_payload(ts="2026-11-22T22:00:00+07:00"))
    assert event.kind is EventKind.PANIC
    assert event.ts == datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
    assert Event.model_validate_json(event.to_payload()) == event


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[]", "schema"),
        (event_payload(kind="explosion"), "schema"),
        (event_payload(seq=0), "schema"),
        (event_payload(seq="one"), "schema"),
        (event_payload(id="not-a-ulid"), "schema"),
        (event_payload(ts="2026-11-22T15:00:00"), "schema"),  # no timezone
        (event_payload(extra_field=1), "schema"),
        (event_payload(device="pos-2"), "device_mismatch"),
        (b" " * (MAX_EVENT_BYTES + 1), "too_large"),
    ],
)
def test_bad_events_are_rejected_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError) as err:
        decode_event("pos-1", payload)
    assert err.value.reason == reason


def test_schema_errors_name_the_field() -> None:
    with pytest.raises(ProtocolError) as err:
        decode_event("pos-1", event_payload(seq=-5))
    assert "seq" in str(err.value)


def test_ack_needs_ids() -> None:
    assert decode_ack(b'{"ids": ["a"]}').ids == ["a"]
    with pytest.raises(ProtocolError):
        decode_ack(b'{"ids": []}')


def test_snapshot_must_be_a_jpeg() -> None:
    assert check_snapshot(b"\xff\xd8\xff\xe0rest") == b"\xff\xd8\xff\xe0rest"
    with pytest.raises(ProtocolError) as err:
        check_snapshot(b"\x89PNG....")
    assert err.value.reason == "not_jpeg"
