"""Joining a snapshot sent in parts (hub/ingest/snapshot_parts.py), with an injected clock."""

from __future__ import annotations

import pytest

from hub.ingest.ratelimit import PART_COST, message_cost
from hub.ingest.snapshot_parts import SnapshotParts
from kamling.protocol import ProtocolError, parse_snapshot_suffix, snapshot_suffix

EVENT = "01HZX5Q4W8E2J6K9M3N7P1R5T0"
OTHER = "01HZX5Q4W8E2J6K9M3N7P1R5T1"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make() -> tuple[SnapshotParts, list[tuple[str, str]], Clock]:
    rejected: list[tuple[str, str]] = []
    clock = Clock()
    parts = SnapshotParts(lambda reason, topic, _d: rejected.append((reason, topic)), window=60, clock=clock)
    return parts, rejected, clock


def test_parts_in_order_join_into_the_picture() -> None:
    parts, rejected, _ = make()
    assert parts.add("pos-a", EVENT, 1, 3, b"\xff\xd8") is None
    assert parts.add("pos-a", EVENT, 2, 3, b"\xffab") is None
    assert parts.add("pos-a", EVENT, 2, 3, b"\xffab") is None  # sent again after a reconnect: ignored
    assert parts.add("pos-a", EVENT, 3, 3, b"cd") == b"\xff\xd8\xffabcd"
    assert parts.open_bytes() == 0 and rejected == [] and parts.joined == 1


def test_a_gap_or_a_part_without_its_first_is_rejected() -> None:
    parts, _, _ = make()
    with pytest.raises(ProtocolError) as orphan:
        parts.add("pos-a", EVENT, 2, 3, b"x")
    assert orphan.value.reason == "snapshot_part_orphan"
    parts.add("pos-a", EVENT, 1, 3, b"x")
    with pytest.raises(ProtocolError) as gap:
        parts.add("pos-a", EVENT, 3, 3, b"z")
    assert gap.value.reason == "snapshot_part_missing"
    assert parts.open_bytes() == 0  # the picture was dropped


def test_a_first_part_starts_again_and_an_abandoned_picture_is_counted() -> None:
    parts, rejected, _ = make()
    parts.add("pos-a", EVENT, 1, 2, b"a")
    parts.add("pos-a", EVENT, 1, 2, b"A")  # the post reconnected: the same picture from its start
    parts.add("pos-b", OTHER, 1, 2, b"b")  # another post's picture is its own
    assert rejected == []
    parts.add("pos-a", OTHER, 1, 2, b"c")  # pos-a gave up on EVENT
    assert [reason for reason, _ in rejected] == ["snapshot_parts_incomplete"]
    assert parts.add("pos-b", OTHER, 2, 2, b"B") == b"bB"


def test_a_picture_without_its_next_part_expires() -> None:
    parts, rejected, clock = make()
    parts.add("pos-a", EVENT, 1, 2, b"a")
    clock.now += 59
    parts.run_due()
    assert rejected == []
    clock.now += 2
    parts.run_due()
    assert rejected == [("snapshot_parts_incomplete", f"kamling/v1/pos-a/snapshot/{EVENT}")]
    assert parts.open_bytes() == 0


def test_limits() -> None:
    parts, _, _ = make()
    parts.max_bytes = 10
    parts.add("pos-a", EVENT, 1, 2, b"12345678")
    with pytest.raises(ProtocolError) as full:
        parts.add("pos-b", OTHER, 1, 2, b"12345")
    assert full.value.reason == "snapshot_pending_full"


def test_the_suffix_and_its_rate_limit_cost() -> None:
    assert snapshot_suffix(EVENT) == EVENT and parse_snapshot_suffix(EVENT) == (EVENT, 1, 1)
    assert parse_snapshot_suffix(snapshot_suffix(EVENT, 2, 7)) == (EVENT, 2, 7)
    for bad in (f"{EVENT}.0.2", f"{EVENT}.3.2", f"{EVENT}.1", f"{EVENT}.a.2", f"{EVENT}.1.99999", f"{EVENT}.1.2.3"):
        with pytest.raises(ProtocolError):
            parse_snapshot_suffix(bad)
    assert message_cost(f"kamling/v1/pos-a/snapshot/{EVENT}.1.5") == 1.0
    assert message_cost(f"kamling/v1/pos-a/snapshot/{EVENT}.2.5") == PART_COST
    assert message_cost(f"kamling/v1/pos-a/snapshot/{EVENT}") == 1.0
    assert message_cost("kamling/v1/pos-a/event") == 1.0
