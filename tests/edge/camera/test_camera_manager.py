"""CameraManager: one worker per camera, emits become agent events with their snapshot attached."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge.camera.config import CameraConfig
from edge.camera.manager import WARMUP_SECONDS, CameraManager
from edge.camera.sources import SourceError, SyntheticSource
from edge.camera.synthetic import make_clip
from edge.config import EdgeConfig
from kamling.protocol import EventKind
from tests.support import VirtualClock, wait_for

NOON = datetime(2026, 5, 1, 12, 0)


class Events:
    """Stands in for EdgeAgent.raise_event (same signature), records what the cameras raise."""

    def __init__(self) -> None:
        self.items: list[tuple[EventKind, dict[str, Any], bytes | None]] = []
        self.cond = threading.Condition()

    def __call__(
        self,
        kind: EventKind,
        data: dict[str, Any] | None = None,
        *,
        test: bool = False,
        attachment: bytes | None = None,
    ) -> None:
        assert test is False
        with self.cond:
            self.items.append((kind, data or {}, attachment))
            self.cond.notify_all()

    def wait(self, predicate, timeout: float = 30.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self.items), timeout), f"timed out; got {self.summary()}"

    def summary(self) -> list[tuple[str, Any]]:
        return [(k.value, d.get("phase") or d.get("state")) for k, d, _ in self.items]


class FailingSource:
    """A camera that never answers (unplugged, wrong address)."""

    def open(self) -> None:
        raise SourceError("no route to camera")

    def grab(self) -> bool:
        return False

    def retrieve(self) -> None:
        return None

    def close(self) -> None:
        pass


def test_motion_from_a_camera_becomes_an_event_with_its_snapshot() -> None:
    clock, events = VirtualClock(), Events()
    config = CameraConfig(name="gate", source="synthetic:crossing:320x240", cooldown_s=1)
    clip = make_clip("crossing", 320, 240, fps=10, length=60, seed=3)
    manager = CameraManager(
        [config],
        events,
        source_factory=lambda c: SyntheticSource(clip, clock=clock, sleep=clock.sleep),
        worker_options={"clock": clock, "wallclock": lambda: NOON, "sleep": clock.sleep},
    )
    manager.start()
    try:
        events.wait(lambda items: any(k is EventKind.MOTION and d["phase"] == "end" for k, d, _ in items))
        fps = manager.fps()
    finally:
        manager.stop()
    assert manager.workers == {}
    kind, start, jpeg = events.items[0]
    assert kind is EventKind.MOTION and start["phase"] == "start" and start["camera"] == "gate"
    assert start["armed"] is True
    assert jpeg is not None and jpeg.startswith(b"\xff\xd8\xff")
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (240, 320, 3)
    assert set(fps) == {"gate"} and fps["gate"] == pytest.approx(5.0, rel=0.2)


def test_a_camera_that_never_answers_is_reported_lost() -> None:
    clock, events = VirtualClock(), Events()
    config = CameraConfig(name="gate", source="rtsp://10.0.0.9/sub", health={"lost_after_s": 2})
    manager = CameraManager(
        [config],
        events,
        source_factory=lambda c: FailingSource(),
        worker_options={"clock": clock, "sleep": clock.sleep},
    )
    manager.start()
    try:
        events.wait(lambda items: any(k is EventKind.CAMERA for k, _, _ in items))
        assert manager.fps() == {"gate": None}
    finally:
        manager.stop()
    _kind, data, jpeg = events.items[0]
    assert data["camera"] == "gate" and data["state"] == "lost" and data["severity"] == "warning"
    assert jpeg is None


def test_one_broken_camera_does_not_stop_the_others() -> None:
    events = Events()
    configs = [
        CameraConfig(name="gate", source="synthetic:static:160x120", detect_fps=2),
        CameraConfig(name="yard", source="synthetic:static:160x120", detect_fps=2),
    ]

    def factory(config: CameraConfig) -> Any:
        if config.name == "gate":
            raise RuntimeError("driver exploded")
        return SyntheticSource(make_clip("static", 160, 120, fps=4, length=8))

    manager = CameraManager(configs, events, source_factory=factory)
    manager.start()
    try:
        assert set(manager.workers) == {"yard"}
        assert manager.fps()["gate"] is None
    finally:
        manager.stop()


def test_oversized_snapshot_is_dropped_but_the_event_kept() -> None:
    events = Events()
    manager = CameraManager([], events)
    emit = manager._emitter("gate")
    emit(EventKind.TAMPER, {"camera": "gate", "state": "detected"}, b"\xff\xd8\xff" + b"x" * (1024 * 1024))
    assert events.items == [(EventKind.TAMPER, {"camera": "gate", "state": "detected"}, None)]


def test_camera_names_must_be_unique() -> None:
    cameras = [{"name": "gate", "source": "synthetic:static"}, {"name": "gate", "source": "v4l2:/dev/video0"}]
    base = {"device_id": "pos-rw01", "mqtt": {"host": "h", "password": "p"}, "panic_button": {"pin": 17}}
    with pytest.raises(ValidationError, match="camera names must be unique; repeated: gate"):
        EdgeConfig.model_validate(base | {"cameras": cameras})
    assert EdgeConfig.model_validate(base).cameras == []
    with pytest.raises(ValueError, match="unique"):
        CameraManager([CameraConfig.model_validate(c) for c in cameras], Events())


class SlowToConnectSource(FailingSource):
    """An RTSP camera still connecting: open() waits until released, without failing."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def open(self) -> None:
        self.release.wait(30)


def test_a_camera_still_starting_is_left_out_of_telemetry_until_the_warm_up_ends() -> None:
    clock = VirtualClock()
    source = SlowToConnectSource()
    config = CameraConfig(name="gate", source="rtsp://10.0.0.9/sub")
    manager = CameraManager(
        [config], Events(), source_factory=lambda c: source, worker_options={"clock": clock, "sleep": clock.sleep}
    )
    manager.start()
    try:
        assert manager.fps() == {}  # starting: the hub must not call it stalled yet
        clock.now += WARMUP_SECONDS + 1
        assert manager.fps() == {"gate": None}  # still no frames after the warm-up: reported
    finally:
        source.release.set()
        manager.stop()


def test_a_picture_on_command_is_a_fresh_frame_of_the_first_camera_that_has_one() -> None:
    """edge/commands.py `snapshot` (issue 15): the last analysed frame, never a stalled camera's old one."""
    clock = VirtualClock()
    configs = [
        CameraConfig(name="dead", source="rtsp://10.0.0.9/sub"),
        CameraConfig(name="yard", source="synthetic:static:160x120", detect_fps=2),
    ]
    clip = make_clip("static", 160, 120, fps=4, length=8)
    starting = SlowToConnectSource()  # no frames yet, and no sleeps on the shared virtual clock

    def factory(config: CameraConfig) -> Any:
        return starting if config.name == "dead" else SyntheticSource(clip, clock=clock, sleep=clock.sleep)

    manager = CameraManager(
        configs, Events(), source_factory=factory, worker_options={"clock": clock, "sleep": clock.sleep}
    )
    assert manager.snapshot() is None  # not started
    manager.start()
    try:
        yard = manager.workers["yard"]
        wait_for(lambda: yard.stats().frames_analysed > 0, what="a frame analysed")
        taken = manager.snapshot()
    finally:
        starting.release.set()
        manager.stop()
    assert taken is not None and taken[0] == "yard"
    assert cv2.imdecode(np.frombuffer(taken[1], np.uint8), cv2.IMREAD_COLOR).shape == (120, 160, 3)
    assert yard.snapshot(max_age=5.0) is not None
    clock.now += 6.0  # the camera stopped delivering: its last frame is too old to be "now"
    assert yard.snapshot(max_age=5.0) is None
