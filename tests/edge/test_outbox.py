"""The edge outbox: durable ids and seqs, ack removal, order, disk budget with priorities."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

from edge.outbox import Outbox
from kamling.protocol import EventKind


def _open(path: Path, max_bytes: int = 64 * 1024 * 1024) -> Outbox:
    box = Outbox(path / "outbox.sqlite", "pos-rw01", max_bytes=max_bytes)
    box.open()
    return box


def test_seq_is_monotonic_across_reopen(tmp_path: Path) -> None:
    box = _open(tmp_path)
    first = [box.add(EventKind.MOTION).seq for _ in range(3)]
    box.remove([p.event.id for p in box.pending()])
    box.close()
    box = _open(tmp_path)
    assert first == [1, 2, 3]
    assert box.add(EventKind.PANIC).seq == 4  # seq survives a restart even with an empty outbox
    assert box.last_seq() == 4


def test_pending_in_seq_order_and_after_seq(tmp_path: Path) -> None:
    box = _open(tmp_path)
    events = [box.add(EventKind.MOTION, {"n": i}) for i in range(10)]
    assert [p.event.seq for p in box.pending(limit=100)] == list(range(1, 11))
    assert [p.event.seq for p in box.pending(limit=3, after_seq=4)] == [5, 6, 7]
    assert box.remove([events[0].id, events[5].id, "01HZZZZZZZZZZZZZZZZZZZZZZZ"]) == 2
    assert [p.event.seq for p in box.pending()] == [2, 3, 4, 5, 7, 8, 9, 10]
    assert box.remove([]) == 0


def test_budget_drops_oldest_motion_first_never_panic_or_tamper(tmp_path: Path) -> None:
    box = _open(tmp_path, max_bytes=4000)
    panic = box.add(EventKind.PANIC, {"pad": "x" * 500})
    tamper = box.add(EventKind.TAMPER, {"pad": "x" * 500})
    motions = [box.add(EventKind.MOTION, {"pad": "x" * 500}) for _ in range(10)]
    kept = {p.event.id for p in box.pending(limit=1000)}
    assert panic.id in kept and tamper.id in kept
    assert box.dropped() > 0
    assert motions[-1].id in kept and motions[0].id not in kept  # oldest motion went first
    assert box.bytes_held() <= 4000
    # Over budget with only never-dropped kinds: they are all kept anyway.
    panics = [box.add(EventKind.PANIC, {"pad": "y" * 800}) for _ in range(10)]
    kept = {p.event.id for p in box.pending(limit=1000)}
    assert all(p.id in kept for p in panics) and panic.id in kept
    assert not any(m.id in kept for m in motions)


def test_bytes_held_is_recomputed_at_open(tmp_path: Path) -> None:
    box = _open(tmp_path)
    for _ in range(5):
        box.add(EventKind.MOTION, attachment=b"\xff\xd8\xff" + b"j" * 100)
    held = box.bytes_held()
    assert held > 500
    box.db.execute("UPDATE meta SET value=0 WHERE key='bytes'")  # as if the counter were stale
    box.close()
    assert _open(tmp_path).bytes_held() == held


def _writer(path: str, count: int) -> None:
    box = Outbox(Path(path), "pos-rw01")
    box.open()
    for i in range(count):
        box.add(EventKind.MOTION, {"i": i})
        print(i, flush=True)


def test_sigkill_while_writing_loses_nothing_committed(tmp_path: Path) -> None:
    """A power cut mid-write: the outbox opens, seqs are contiguous, nothing half-written."""
    path = tmp_path / "outbox.sqlite"
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_writer, args=(str(path), 100_000))
    proc.start()
    box = None
    try:
        from tests.support import wait_for

        def some_written() -> bool:
            if not path.exists():
                return False
            probe = Outbox(path, "pos-rw01")
            try:
                probe.open()
                return probe.depth() > 200
            except Exception:
                return False
            finally:
                probe.close()

        wait_for(some_written, timeout=30, what="writer committed some events")
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        box = Outbox(path, "pos-rw01")
        box.open()
        seqs = [p.event.seq for p in box.pending(limit=1_000_000)]
        assert seqs == list(range(1, box.last_seq() + 1))
        assert box.add(EventKind.PANIC).seq == box.last_seq() == len(seqs) + 1
    finally:
        if proc.is_alive():
            proc.kill()
        if box:
            box.close()


def test_a_picture_outlives_its_events_ack_until_it_has_left(tmp_path: Path) -> None:
    box = _open(tmp_path)
    motion = box.add(EventKind.MOTION, attachment=b"\xff\xd8\xff-a")
    plain = box.add(EventKind.CHECKIN)
    assert [p.has_attachment for p in box.pending()] == [True, False]
    assert box.next_snapshot() is None  # not before the hub has the event
    assert box.remove([motion.id, plain.id]) == 2
    assert box.pending() == [] and box.depth() == 0  # no event waits
    waiting = box.next_snapshot()
    assert waiting is not None and (waiting.event_id, waiting.jpeg) == (motion.id, b"\xff\xd8\xff-a")
    assert box.remove([motion.id]) == 0  # a repeated ack
    box.snapshot_sent(motion.id)
    assert box.next_snapshot() is None and box.snapshots_waiting() == 0
    assert box.bytes_held() == 0


def test_panic_and_tamper_are_listed_first(tmp_path: Path) -> None:
    box = _open(tmp_path)
    box.add(EventKind.MOTION)
    panic = box.add(EventKind.PANIC)
    box.add(EventKind.MOTION)
    tamper = box.add(EventKind.TAMPER)
    assert [p.event.id for p in box.pending_alarms()] == [panic.id, tamper.id]
    box.remove([panic.id])
    assert [p.event.id for p in box.pending_alarms()] == [tamper.id]


def test_over_budget_pictures_of_delivered_events_go_before_any_event(tmp_path: Path) -> None:
    box = _open(tmp_path, max_bytes=6000)
    shown = box.add(EventKind.MOTION, attachment=b"\xff\xd8\xff" + b"p" * 3000)
    box.remove([shown.id])  # the event is at the hub; its picture waits
    motions = [box.add(EventKind.MOTION, {"pad": "x" * 500}) for _ in range(5)]
    assert box.next_snapshot() is None  # the picture went to make room
    assert {p.event.id for p in box.pending()} == {m.id for m in motions}  # every event kept
    assert box.dropped() == 0 and box.dropped_pictures() == 1  # the count the post's health reports


def test_an_outbox_from_before_pictures_were_kept_opens(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "outbox.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,"
        " payload BLOB NOT NULL, attachment BLOB, size INTEGER NOT NULL);"
    )
    db.close()
    box = _open(tmp_path)
    event = box.add(EventKind.MOTION, attachment=b"\xff\xd8\xff-b")
    box.remove([event.id])
    assert box.snapshots_waiting() == 1
