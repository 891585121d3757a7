"""Frame sources: synthetic, looping file, pacing and reconnect back-off in virtual time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.camera.config import CameraConfig
from edge.camera.sources import (
    FileSource,
    FrameSource,
    Pacer,
    ReconnectingSource,
    SourceError,
    StreamSource,
    SyntheticSource,
    V4l2Source,
)
from edge.camera.synthetic import make_clip, write_clip
from edge.camera.worker import open_source
from kamling.backoff import Backoff
from tests.support import VirtualClock


class FlakySource:
    """open() fails while `down` is set; grab() fails after `frames_left` frames."""

    def __init__(self) -> None:
        self.down = False
        self.frames_left = 1_000_000
        self.opens = 0
        self.closes = 0

    def open(self) -> None:
        self.opens += 1
        if self.down:
            raise SourceError("connection refused")

    def grab(self) -> bool:
        if self.down or self.frames_left <= 0:
            return False
        self.frames_left -= 1
        return True

    def retrieve(self) -> np.ndarray | None:
        return np.zeros((4, 4), np.uint8)

    def close(self) -> None:
        self.closes += 1


def test_adapters_follow_the_protocol() -> None:
    clip = make_clip("static", 64, 48, length=3)
    for source in (
        SyntheticSource(clip),
        FileSource("x.avi"),
        StreamSource("rtsp://h/s"),
        V4l2Source("0"),
        FlakySource(),
    ):
        assert isinstance(source, FrameSource)


def test_synthetic_source_grabs_without_rendering_and_loops() -> None:
    clip = make_clip("crossing", 160, 120, length=5)
    source = SyntheticSource(clip, realtime=False)
    assert not source.grab()  # not open yet
    source.open()
    indices = []
    for _ in range(7):
        assert source.grab()
        indices.append(source.index)
    assert indices == [0, 1, 2, 3, 4, 0, 1]
    frame = source.retrieve()
    assert frame is not None and np.array_equal(frame, clip.frame(1))
    source.close()
    assert not source.grab()


def test_file_source_loops_and_skips_without_decoding(tmp_path: Path) -> None:
    clip = make_clip("crossing", 160, 120, length=6, fps=10)
    path = write_clip(clip, tmp_path / "clip.avi")
    source = FileSource(path, realtime=False)
    source.open()
    assert source.fps == pytest.approx(10)
    grabbed = sum(source.grab() for _ in range(15))  # two and a half passes
    assert grabbed == 15 and source.loops == 2
    frame = source.retrieve()
    assert frame is not None and frame.shape == (120, 160, 3)
    source.close()


def test_file_source_without_loop_ends(tmp_path: Path) -> None:
    path = write_clip(make_clip("static", 64, 48, length=3), tmp_path / "short.avi")
    source = FileSource(path, loop=False, realtime=False)
    source.open()
    assert [source.grab() for _ in range(4)] == [True, True, True, False]
    source.close()


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        FileSource(tmp_path / "none.mp4").open()


def test_pacer_keeps_the_frame_rate_in_virtual_time() -> None:
    clock = VirtualClock()
    pacer = Pacer(10, clock, clock.sleep)
    times = []
    for _ in range(5):
        pacer.wait()
        times.append(round(clock.now, 6))
    assert times == [0.0, 0.1, 0.2, 0.3, 0.4]


def test_realtime_file_source_is_paced(tmp_path: Path) -> None:
    clock = VirtualClock()
    path = write_clip(make_clip("static", 64, 48, length=4, fps=5), tmp_path / "paced.avi")
    source = FileSource(path, realtime=True, clock=clock, sleep=clock.sleep)
    source.open()
    for _ in range(6):
        assert source.grab()
    assert clock.now == pytest.approx(1.0)


def test_reconnect_with_exponential_backoff() -> None:
    clock = VirtualClock()
    inner = FlakySource()
    source = ReconnectingSource(inner, backoff=Backoff(0.5, 8.0), clock=clock, sleep=clock.sleep, poll_s=0.25)
    source.open()
    assert source.connected and source.grab()

    inner.down = True
    attempts_at: list[float] = []
    while clock.now < 20.0:
        before = inner.opens
        assert not source.grab()
        if inner.opens > before:
            attempts_at.append(clock.now)
    # first grab fails at t=0; retries 0.5, 1, 2, 4, 8, 8 s apart
    gaps = [round(b - a, 6) for a, b in zip([0.0, *attempts_at], attempts_at, strict=False)]  # each with the one before
    assert gaps[:5] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert max(clock.sleeps) <= 0.25  # never blocks longer than poll_s

    inner.down = False
    while not source.grab():
        pass
    assert source.connected
    frame = source.retrieve()
    assert frame is not None
    # after a good frame the back-off starts again from the initial delay
    inner.frames_left = 0
    assert not source.grab()
    started, opens = clock.now, inner.opens
    while inner.opens == opens and clock.now - started < 5:
        source.grab()
    assert clock.now - started == pytest.approx(0.5)


def test_open_failure_does_not_raise() -> None:
    clock = VirtualClock()
    inner = FlakySource()
    inner.down = True
    source = ReconnectingSource(inner, clock=clock, sleep=clock.sleep)
    source.open()
    assert not source.connected and source.retrieve() is None
    assert not source.grab()


def test_open_source_factory(tmp_path: Path) -> None:
    assert isinstance(open_source(CameraConfig(name="a", source="rtsp://10.0.0.9/stream")), StreamSource)
    assert isinstance(open_source(CameraConfig(name="a", source="v4l2:/dev/video0")), V4l2Source)
    assert isinstance(open_source(CameraConfig(name="a", source=f"file:{tmp_path}/x.mp4")), FileSource)
    synthetic = open_source(CameraConfig(name="a", source="synthetic:noise:320x240"))
    assert isinstance(synthetic, SyntheticSource) and synthetic.clip.width == 320


def test_unreachable_stream_fails_to_open() -> None:
    source = StreamSource("rtsp://127.0.0.1:9/none")
    with pytest.raises(SourceError, match="cannot open"):
        source.open()
