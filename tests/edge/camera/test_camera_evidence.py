"""The evidence ring (issue 15): bounded memory, frames chosen by time, and the worker sending them."""

from __future__ import annotations

import pytest

from edge.camera.config import CameraConfig, EvidenceConfig
from edge.camera.evidence import GIVE_UP_AFTER_S, EvidencePlanner, Frame, FrameRing, raw_frame_budget
from edge.camera.worker import open_source
from kamling.protocol import EVIDENCE_STATE, EventKind, check_snapshot
from tests.edge.camera.test_camera_worker import Recorder, run_worker, wait_until
from tests.support import VirtualClock

PRESS = "01JD2X3Y4Z5A6B7C8D9E0F1G2H"


def jpeg(size: int, tag: int = 0) -> bytes:
    """A synthetic frame's bytes: only the size and identity matter to the ring."""
    return b"\xff\xd8\xff" + bytes([tag % 256]) * (size - 3)


def filled(ring: FrameRing, until: float, every: float = 0.5, size: int = 1000) -> None:
    steps = round(until / every)
    for step in range(steps + 1):
        ring.add(Frame(step * every, jpeg(size, step)))


def test_ring_keeps_only_the_newest_frames_by_count() -> None:
    ring = FrameRing(max_frames=20, max_bytes=10**6)
    filled(ring, until=30.0)  # 61 frames
    assert len(ring) == 20 and ring.dropped == 41
    assert ring.frames()[0].at == 20.5 and ring.newest is not None and ring.newest.at == 30.0
    assert ring.bytes_held == 20 * 1000


def test_ring_never_holds_more_bytes_than_its_bound() -> None:
    ring = FrameRing(max_frames=100, max_bytes=35_000)
    for step in range(50):
        ring.add(Frame(step * 0.5, jpeg(8_000 + 100 * (step % 7), step)))
        assert ring.bytes_held <= 35_000
        assert ring.bytes_held == sum(len(f.jpeg) for f in ring.frames())
    assert len(ring) == 4  # four frames of ~8 KB fit; a fifth pushes the oldest out
    assert ring.newest is not None and ring.newest.at == 49 * 0.5


def test_a_frame_larger_than_the_whole_ring_is_refused_and_the_ring_kept() -> None:
    ring = FrameRing(max_frames=5, max_bytes=10_000)
    filled(ring, until=1.0, size=2_000)
    assert ring.add(Frame(2.0, jpeg(10_001))) is False
    assert len(ring) == 3 and ring.bytes_held == 6_000


def test_frames_must_come_in_time_order() -> None:
    ring = FrameRing(max_frames=5, max_bytes=10_000)
    ring.add(Frame(2.0, jpeg(100)))
    with pytest.raises(ValueError):
        ring.add(Frame(1.0, jpeg(100)))


def test_nearest_frame_within_tolerance_ties_go_to_the_later_one() -> None:
    ring = FrameRing(max_frames=50, max_bytes=10**6)
    filled(ring, until=10.0)
    found = ring.nearest(4.2, tolerance=1.0)
    assert found is not None and found.at == 4.0
    tie = ring.nearest(4.25, tolerance=1.0)
    assert tie is not None and tie.at == 4.5
    assert ring.nearest(-3.0, tolerance=1.0) is None  # before the ring reaches back
    assert ring.nearest(12.5, tolerance=1.0) is None


def test_before_at_and_after_frames_are_chosen_by_time() -> None:
    ring = FrameRing(max_frames=20, max_bytes=10**6)
    planner = EvidencePlanner(ring, interval_s=0.5, offsets_s=(3.0, -2.0, 0.0))
    filled(ring, until=10.0)
    planner.request(PRESS, at=10.2)
    planner.request(PRESS, at=10.2)  # asked twice: answered once

    before = planner.due(10.2)
    assert [(s.event_id, s.offset_s) for s in before] == [(PRESS, -2.2)]  # the frame at 8.0
    assert planner.wants_frame(10.2)  # nothing at or after the press yet: take a fresh frame now

    ring.add(Frame(10.25, jpeg(1000, 99)))
    at_press = planner.due(10.25)
    assert [s.offset_s for s in at_press] == [0.1] and at_press[0].jpeg == jpeg(1000, 99)
    assert not planner.wants_frame(10.25) and planner.pending == 1

    for step, at in enumerate((10.75, 11.25, 11.75, 12.25, 12.75, 13.0)):
        ring.add(Frame(at, jpeg(1000, step)))
        assert planner.due(at) == []  # +3 s is 13.2: not yet
    ring.add(Frame(13.25, jpeg(1000, 42)))
    after = planner.due(13.25)
    assert [s.offset_s for s in after] == [3.1] and after[0].jpeg == jpeg(1000, 42)
    assert planner.pending == 0


def test_an_offset_without_frames_is_given_up_and_one_frame_is_sent_once() -> None:
    ring = FrameRing(max_frames=20, max_bytes=10**6)
    planner = EvidencePlanner(ring, interval_s=0.5, offsets_s=(-0.1, 0.0, 3.0))
    ring.add(Frame(5.0, jpeg(1000)))
    planner.request(PRESS, at=5.0)
    shots = planner.due(5.0)
    assert len(shots) == 1  # -0.1 and 0 both pick the frame at 5.0: it is sent once
    assert planner.due(8.0 + GIVE_UP_AFTER_S - 0.1) == [] and planner.pending == 1  # camera silent, still waiting
    assert planner.due(8.0 + GIVE_UP_AFTER_S + 0.1) == [] and planner.pending == 0  # given up


def test_a_press_right_after_start_sends_only_the_frames_that_exist() -> None:
    ring = FrameRing(max_frames=20, max_bytes=10**6)
    planner = EvidencePlanner(ring, interval_s=0.5, offsets_s=(-5.0, 0.0))
    ring.add(Frame(0.0, jpeg(1000)))
    planner.request(PRESS, at=0.0)
    assert [s.offset_s for s in planner.due(0.0)] == [0.0]  # nothing reaches 5 s back: no "-5 s" frame
    assert planner.pending == 0


def test_a_camera_jpeg_in_the_ring_is_answered_with_its_width_for_shrinking() -> None:
    ring = FrameRing(20, 512 * 1024)
    planner = EvidencePlanner(ring, 0.5, (-2.0, 0.0))
    filled(ring, until=10.0)
    ring.add(Frame(10.5, jpeg(30_000, 1), source_width=640))
    planner.request(PRESS, at=10.5)
    shots = planner.due(10.5)
    assert [(s.offset_s, s.source_width) for s in shots] == [(-2.0, 0), (0.0, 640)]


def test_raw_frame_budget_keeps_the_earliest_offset_within_the_byte_bound() -> None:
    # -2 s plus 1 s of tolerance at 2 frames a second: 7 frames must fit in 512 KiB
    assert raw_frame_budget(512 * 1024, 0.5, (-2.0, 0.0, 3.0), 1.0) == 512 * 1024 // 7
    assert raw_frame_budget(512 * 1024, 0.5, (0.0, 3.0), 1.0) == 512 * 1024 // 3


def test_evidence_config_rejects_offsets_the_ring_cannot_reach() -> None:
    with pytest.raises(ValueError, match="offsets_s"):
        EvidenceConfig(history_s=5, offsets_s=[-6.0, 0.0])
    with pytest.raises(ValueError, match="offsets_s"):
        EvidenceConfig(offsets_s=[0.0, 11.0])


def test_worker_sends_before_at_and_after_frames_with_a_bounded_ring() -> None:
    config = CameraConfig(name="gate", source="synthetic:crossing:640x480", detect_fps=5)
    clock, recorder = VirtualClock(), Recorder()
    worker = run_worker(config, open_source(config, clock=clock, sleep=clock.sleep), clock, recorder)
    try:
        wait_until(lambda: worker.stats().evidence_frames >= 10)  # 5 s of history in virtual time
        pressed = clock()
        worker.request_evidence(PRESS, pressed)

        def evidence() -> list[dict[str, object]]:
            return [d for k, d, _ in recorder.of(EventKind.CAMERA) if d.get("state") == EVIDENCE_STATE]

        recorder.wait_for(lambda _events: len(evidence()) == 3)
        stats = worker.stats()
    finally:
        worker.stop()
    shots = [(d, s) for k, d, s in recorder.of(EventKind.CAMERA) if d.get("state") == EVIDENCE_STATE]
    offsets = [d["offset_s"] for d, _ in shots]
    assert offsets == sorted(offsets)  # sent in time order: before, at, after
    before, at, after = offsets
    assert isinstance(before, float) and isinstance(at, float) and isinstance(after, float)
    assert -3.0 <= before <= -1.0 and -0.6 <= at <= 0.6 and 2.0 <= after <= 4.0
    for data, snapshot in shots:
        assert data["camera"] == "gate" and data["evidence_for"] == PRESS and data["severity"] == "info"
        assert snapshot is not None and check_snapshot(snapshot)  # a JPEG the hub accepts
        assert len(snapshot) < 60_000  # downscaled to 320 px wide, not the 640 px source
    # bounded memory: at most history_s / interval_s frames and max_bytes bytes
    assert 0 < stats.evidence_frames <= 20 and 0 < stats.evidence_bytes <= config.evidence.max_bytes


def test_disabled_evidence_keeps_no_ring_and_sends_nothing() -> None:
    config = CameraConfig(name="gate", source="synthetic:crossing:320x240", evidence={"enabled": False})
    clock, recorder = VirtualClock(), Recorder()
    worker = run_worker(config, open_source(config, clock=clock, sleep=clock.sleep), clock, recorder)
    try:
        wait_until(lambda: worker.stats().frames_analysed >= 50)
        worker.request_evidence(PRESS, clock())
        wait_until(lambda: worker.stats().frames_analysed >= 100)
        stats = worker.stats()
    finally:
        worker.stop()
    assert stats.evidence_frames == 0 and stats.evidence_bytes == 0
    assert not [d for k, d, _ in recorder.of(EventKind.CAMERA) if d.get("state") == EVIDENCE_STATE]
