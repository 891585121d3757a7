"""CameraWorker end to end on file-backed and synthetic clips, in virtual time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.camera.config import CameraConfig
from edge.camera.sources import SourceError, SyntheticSource
from edge.camera.synthetic import Clip, make_clip, write_clip
from edge.camera.worker import CameraWorker, open_source
from kamling.protocol import EventKind, check_snapshot
from tests.support import VirtualClock

NOON = datetime(2026, 5, 1, 12, 0)
Event = tuple[EventKind, dict[str, Any], bytes | None]


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._cond = threading.Condition()

    def emit(self, kind: EventKind, data: dict[str, Any], snapshot: bytes | None) -> None:
        with self._cond:
            self.events.append((kind, data, snapshot))
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Event]], bool], timeout: float = 30.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.events), timeout), f"timed out; got {self.summary()}"

    def summary(self) -> list[tuple[str, str]]:
        return [(kind.value, data.get("phase") or data.get("state")) for kind, data, _ in self.events]

    def of(self, kind: EventKind) -> list[Event]:
        return [event for event in self.events if event[0] is kind]


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll a condition with a deadline (for state that has no event to wait on)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        pause.wait(0.01)


def run_worker(config: CameraConfig, source: Any, clock: VirtualClock, recorder: Recorder) -> CameraWorker:
    worker = CameraWorker(config, source, recorder.emit, clock=clock, wallclock=lambda: NOON, sleep=clock.sleep)
    worker.start()
    return worker


def has_motion(phase: str) -> Callable[[list[Event]], bool]:
    return lambda events: any(k is EventKind.MOTION and d["phase"] == phase for k, d, _ in events)


def test_file_backed_clip_emits_start_and_end_with_snapshots(tmp_path: Path) -> None:
    clip = make_clip("crossing", 640, 480, fps=10, length=100, seed=7)
    path = write_clip(clip, tmp_path / "gate.avi")
    config = CameraConfig(name="gate", source=f"file:{path}", cooldown_s=2)
    clock, recorder = VirtualClock(), Recorder()
    worker = run_worker(config, open_source(config, clock=clock, sleep=clock.sleep), clock, recorder)
    try:
        recorder.wait_for(has_motion("end"))
        stats = worker.stats()
    finally:
        worker.stop()
    assert not worker.running

    motion = recorder.of(EventKind.MOTION)
    (_, start, start_jpeg), (_, end, end_jpeg) = motion[:2]
    assert start["phase"] == "start" and end["phase"] == "end"
    assert start["camera"] == "gate" and start["armed"] is True and start["severity"] == "warning"
    assert start["episode"] == end["episode"]
    assert 0 < start["area"] < 0.2
    for x, y, w, h in start["boxes"]:
        assert x >= 0 and x + w <= 640 and y >= 0 and y + h <= 480
    assert end["reason"] == "quiet" and end["frames"] >= 10
    assert 2.0 <= end["duration_s"] <= 6.0  # the walk takes ~5 s of the clip
    assert end["peak_area"] >= start["area"]
    for jpeg in (start_jpeg, end_jpeg):
        assert jpeg is not None and check_snapshot(jpeg) == jpeg
        assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)
    assert recorder.of(EventKind.CAMERA) == [] and recorder.of(EventKind.TAMPER) == []

    # a 10 fps file analysed at 5 fps: every other frame is grabbed but not decoded
    assert stats.frames_analysed > 0
    assert 1.8 <= stats.frames_read / stats.frames_analysed <= 2.2
    assert stats.fps_analysed == pytest.approx(5.0, rel=0.1)
    assert stats.detect_ms > 0 and stats.decode_ms > 0 and stats.connected


def test_outside_armed_hours_log_low() -> None:
    config = CameraConfig(
        name="gate", source="synthetic:crossing:320x240", cooldown_s=1, armed=[{"start": "22:00", "end": "05:00"}]
    )
    clock, recorder = VirtualClock(), Recorder()
    worker = run_worker(config, open_source(config, clock=clock, sleep=clock.sleep), clock, recorder)
    try:
        recorder.wait_for(has_motion("end"))
    finally:
        worker.stop()
    start, end = (data for _, data, _ in recorder.of(EventKind.MOTION)[:2])
    assert start["armed"] is False and start["severity"] == "low"
    assert end["severity"] == "low"


def test_outside_armed_hours_ignore_emits_nothing() -> None:
    config = CameraConfig(
        name="gate",
        source="synthetic:crossing:320x240",
        cooldown_s=1,
        armed=[{"start": "22:00", "end": "05:00"}],
        outside_armed="ignore",
    )
    clock, recorder = VirtualClock(), Recorder()
    worker = run_worker(config, open_source(config, clock=clock, sleep=clock.sleep), clock, recorder)
    try:
        wait_until(lambda: worker.stats().episodes >= 2)  # two crossings seen (so one ended)
    finally:
        worker.stop()
    assert recorder.of(EventKind.MOTION) == []


def test_covered_lens_emits_tamper_then_restore() -> None:
    config = CameraConfig(
        name="gate", source="synthetic:covered:320x240", health={"blank_after_s": 5, "clear_after_s": 1}
    )
    clock, recorder = VirtualClock(), Recorder()
    worker = run_worker(config, open_source(config, clock=clock, sleep=clock.sleep), clock, recorder)
    try:
        recorder.wait_for(lambda events: len([e for e in events if e[0] is EventKind.TAMPER]) >= 2)
    finally:
        worker.stop()
    (_, detected, jpeg), (_, restored, none) = recorder.of(EventKind.TAMPER)[:2]
    assert (detected["state"], detected["reason"], detected["severity"]) == ("detected", "covered", "warning")
    assert jpeg is not None and jpeg[:3] == b"\xff\xd8\xff"
    assert (restored["state"], restored["reason"], none) == ("restored", "covered", None)


class ScriptedSource:
    """Frames of a clip at 10 fps in virtual time; the camera is unreachable in [down_from, down_until)."""

    def __init__(self, clip: Clip, clock: VirtualClock, down_from: float, down_until: float) -> None:
        self._clip = clip
        self._clock = clock
        self._window = (down_from, down_until)
        self._index = 0

    def _down(self) -> bool:
        return self._window[0] <= self._clock.now < self._window[1]

    def open(self) -> None:
        if self._down():
            raise SourceError("no route to host")

    def grab(self) -> bool:
        self._clock.sleep(0.1)
        if self._down():
            return False
        self._index = (self._index + 1) % self._clip.length
        return True

    def retrieve(self) -> np.ndarray | None:
        return self._clip.frame(self._index)

    def close(self) -> None:
        pass


def test_stream_lost_then_restored() -> None:
    config = CameraConfig(name="gate", source="rtsp://10.0.0.5/stream2")
    clock, recorder = VirtualClock(), Recorder()
    source = ScriptedSource(make_clip("static", 320, 240, length=50), clock, down_from=3.0, down_until=30.0)
    worker = run_worker(config, source, clock, recorder)
    try:
        recorder.wait_for(lambda events: len(events) >= 2)
        stats = worker.stats()
    finally:
        worker.stop()
    (kind1, lost, _), (kind2, restored, _) = recorder.events[:2]
    assert (kind1, lost["state"]) == (EventKind.CAMERA, "lost")
    assert (kind2, restored["state"]) == (EventKind.CAMERA, "restored")
    assert restored["duration_s"] >= 27.0
    assert stats.reconnect_attempts >= 3


def test_stop_is_prompt_while_the_camera_is_unreachable() -> None:
    """Real clock: the back-off sleep is interrupted by stop()."""

    class Unreachable:
        def open(self) -> None:
            raise SourceError("connection refused")

        def grab(self) -> bool:
            return False

        def retrieve(self) -> np.ndarray | None:
            return None

        def close(self) -> None:
            pass

    config = CameraConfig(name="gate", source="rtsp://10.0.0.5/stream2")
    worker = CameraWorker(config, Unreachable(), Recorder().emit)
    worker.start()
    wait_until(lambda: worker.stats().reconnect_attempts >= 1)
    worker.stop(timeout=5)
    assert not worker.running


def test_start_twice_is_an_error() -> None:
    config = CameraConfig(name="gate", source="synthetic:static:64x48")
    worker = CameraWorker(config, open_source(config), Recorder().emit)
    worker.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            worker.start()
    finally:
        worker.stop()


@pytest.mark.parametrize(("source_fps", "ratio"), [(25.0, 5.0), (6.0, 1.2), (3.0, 1.0)])
def test_analysis_is_capped_at_detect_fps(source_fps: float, ratio: float) -> None:
    config = CameraConfig(name="gate", source="synthetic:static", detect_fps=5)
    clock, recorder = VirtualClock(), Recorder()
    clip = make_clip("static", 160, 120, length=50, fps=source_fps)
    worker = run_worker(config, SyntheticSource(clip, clock=clock, sleep=clock.sleep), clock, recorder)
    try:
        wait_until(lambda: worker.stats().frames_analysed >= 200)
        stats = worker.stats()
    finally:
        worker.stop()
    # never more than detect_fps, and not much less (a 6 fps source cannot be split evenly)
    assert ratio * 0.99 <= stats.frames_read / stats.frames_analysed <= ratio * 1.1
    assert stats.fps_analysed <= 5.0 * 1.01
