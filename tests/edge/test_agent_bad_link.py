"""The agent on a slow link (issue 17 item 3): panic and tamper first, a bounded send window, pictures in
parts that yield to events. The fake link PUBACKs only when the test says (`puback_all`), like a broker
at the far end of a GSM link."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kamling.protocol import Channel, EventKind, parse_snapshot_suffix
from tests.edge.test_agent import Post
from tests.support import wait_for

JPEG = b"\xff\xd8\xff" + bytes(range(256)) * 4  # 1027 bytes


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[Post]:
    instance = Post(tmp_path)
    instance.agent.send_window = 600  # about two events, or two parts of 250 bytes
    instance.agent.part_bytes = 250
    instance.agent.start()
    instance.link.auto_puback = False
    yield instance
    instance.agent.stop()


def pump(post: Post, done: Callable[[], bool]) -> None:
    """PUBACK what the agent handed to the link, again and again, until `done`."""
    while not done():
        post.link.puback_all()
        wait_for(lambda: done() or bool(post.link.unacked), what="the agent sends more after PUBACKs")


def kinds(post: Post) -> list[str]:
    return [e["kind"] for e in post.link.events()]


def test_a_panic_jumps_the_backlog_and_the_rest_stays_in_seq_order(slow: Post) -> None:
    for n in range(10):
        slow.agent.raise_event(EventKind.MOTION, {"n": n})
    wait_for(lambda: slow.agent.outbox.last_seq() == 10, what="a backlog stored offline")
    slow.link.up()
    wait_for(lambda: len(slow.link.events()) >= 1, what="the backlog starts")
    sent_before = len(slow.link.events())
    assert sent_before < 10  # the send window holds the rest back
    slow.press()
    wait_for(lambda: "panic" in kinds(slow), what="the panic, while the window is full")
    assert kinds(slow) == ["motion"] * sent_before + ["panic"]  # nothing else left before it
    assert any(c is Channel.ALARM for c, _, _ in slow.link.published())  # its copy for the alarm session
    pump(slow, lambda: len(slow.link.events()) == 11)
    motions = [e["seq"] for e in slow.link.events() if e["kind"] == "motion"]
    assert motions == list(range(1, 11))  # non-alarm events in seq order
    assert [e["seq"] for e in slow.link.events() if e["kind"] == "panic"] == [11]


def test_the_send_window_bounds_what_waits_in_the_link(slow: Post) -> None:
    slow.link.up()
    for n in range(30):
        slow.agent.raise_event(EventKind.MOTION, {"n": n})
    wait_for(lambda: slow.agent.outbox.last_seq() == 30, what="thirty stored")
    wait_for(lambda: len(slow.link.events()) >= 1, what="the first published")
    in_link = sum(len(p) for c, _, p in slow.link.published() if c is Channel.EVENT)
    assert in_link < slow.agent.send_window + 300  # the window, plus the one event that crossed it
    pump(slow, lambda: len(slow.link.events()) == 30)
    assert slow.link.seqs() == list(range(1, 31))


def _parts(post: Post) -> list[tuple[str, int, int, bytes]]:
    out = []
    for channel, suffix, payload in post.link.published():
        if channel is Channel.SNAPSHOT:
            assert suffix is not None
            out.append((*parse_snapshot_suffix(suffix), payload))
    return out


def test_a_picture_goes_after_its_events_ack_in_parts_and_yields_to_events(slow: Post) -> None:
    slow.link.up()
    slow.agent.raise_event(EventKind.MOTION, {"camera": "gate"}, attachment=JPEG)
    wait_for(lambda: len(slow.link.events()) == 1, what="the motion event")
    slow.link.puback_all()
    assert _parts(slow) == []  # not before the hub has the event
    event_id = slow.link.events()[0]["id"]
    slow.ack([event_id])
    wait_for(lambda: len(_parts(slow)) >= 1, what="the first parts")
    assert len(_parts(slow)) <= 3  # the window: not the whole picture at once
    slow.agent.raise_event(EventKind.CHECKIN, {"source": "button"})  # an event while the picture is on its way
    wait_for(lambda: slow.agent.outbox.last_seq() == 2, what="the check-in stored")
    parts_before_checkin = len(_parts(slow))
    slow.link.puback_all()  # room in the window: the check-in takes it before the next part
    wait_for(lambda: len(slow.link.events()) == 2, what="the check-in")
    sent = [(c, s) for c, s, _ in slow.link.published() if c in (Channel.EVENT, Channel.SNAPSHOT)]
    assert sent[1 + parts_before_checkin][0] is Channel.EVENT
    pump(slow, lambda: slow.agent.stats["snapshots"] == 1)
    parts = _parts(slow)
    assert parts_before_checkin < len(parts) == 5  # the check-in went out between parts
    assert [(e, p, n) for e, p, n, _ in parts] == [(event_id, i, 5) for i in range(1, 6)]
    assert b"".join(data for *_, data in parts) == JPEG
    assert slow.agent.outbox.snapshots_waiting() == 0  # forgotten once its last part was PUBACKed


def test_a_reconnect_starts_the_picture_again_from_its_first_part(slow: Post) -> None:
    slow.link.up()
    slow.agent.raise_event(EventKind.MOTION, {}, attachment=JPEG)
    wait_for(lambda: len(slow.link.events()) == 1, what="the event")
    slow.ack([slow.link.events()[0]["id"]])
    wait_for(lambda: len(_parts(slow)) >= 2, what="parts 1 and 2")
    slow.link.unacked.clear()  # the session dies with them
    slow.link.down()
    slow.link.up()
    wait_for(lambda: len(_parts(slow)) >= 3, what="the picture again")
    assert [p for _, p, _, _ in _parts(slow)][:3] == [1, 2, 1]
    pump(slow, lambda: slow.agent.stats["snapshots"] == 1)
    assert slow.agent.outbox.snapshots_waiting() == 0


def test_a_small_picture_goes_whole(tmp_path: Path) -> None:
    post = Post(tmp_path)
    post.agent.start()
    try:
        post.link.up()
        post.agent.raise_event(EventKind.CAMERA, {"camera": "gate"}, attachment=JPEG)
        wait_for(lambda: len(post.link.events()) == 1, what="the event")
        event_id = post.link.events()[0]["id"]
        post.ack([event_id])
        wait_for(lambda: post.agent.stats["snapshots"] == 1, what="the picture")
        (snapshot,) = [(s, p) for c, s, p in post.link.published() if c is Channel.SNAPSHOT]
        assert snapshot == (event_id, JPEG)
    finally:
        post.agent.stop()
