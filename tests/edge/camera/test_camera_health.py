"""CameraHealthMonitor: lost/restored, frozen and covered tamper, with restore events."""

from __future__ import annotations

import numpy as np
import pytest

from edge.camera.config import HealthConfig
from edge.camera.health import CameraHealthMonitor, HealthChange
from edge.camera.synthetic import Clip, make_clip
from kamling.protocol import EventKind

STEP = 0.2  # 5 analysed frames per second


def play(monitor: CameraHealthMonitor, clip: Clip, start: float = 0.0) -> list[tuple[float, HealthChange]]:
    changes: list[tuple[float, HealthChange]] = []
    for index, frame in enumerate(clip.frames()):
        now = start + index * STEP
        changes += [(now, change) for change in monitor.update(now, frame)]
    return changes


def summary(changes: list[tuple[float, HealthChange]]) -> list[tuple[str, str, str]]:
    return [(c.kind.value, c.state, c.reason) for _, c in changes]


@pytest.mark.parametrize("scenario", ["static", "noise", "crossing", "drift", "brightness_jump"])
def test_healthy_pictures_raise_nothing(scenario: str) -> None:
    monitor = CameraHealthMonitor(HealthConfig(frozen_after_s=5, blank_after_s=5))
    assert play(monitor, make_clip(scenario, 640, 480)) == []


def test_covered_lens_is_tamper_then_restored() -> None:
    monitor = CameraHealthMonitor(HealthConfig())
    clip = make_clip("covered", 640, 480)  # covered from frame 20 (4 s) to the end (24 s)
    changes = play(monitor, clip)
    assert summary(changes) == [("tamper", "detected", "covered")]
    detected_at, change = changes[0]
    assert change.kind is EventKind.TAMPER
    assert detected_at == pytest.approx(4.0 + 10.0)
    assert monitor.tampered == ("covered",)
    # the cover comes off: restored after clear_after_s (3 s) of normal pictures
    later = play(monitor, make_clip("static", 640, 480, length=30), start=clip.length * STEP)
    assert summary(later) == [("tamper", "restored", "covered")]
    assert later[0][0] == pytest.approx(clip.length * STEP + 3.0)
    assert monitor.tampered == ()


def test_dark_and_blinded_pictures_count_as_covered() -> None:
    monitor = CameraHealthMonitor(HealthConfig(blank_after_s=1, blank_stddev=0.5))
    rng = np.random.default_rng(0)
    black = [np.clip(rng.normal(4, 3, (240, 320)), 0, 255).astype(np.uint8) for _ in range(8)]
    changes = [c for i, f in enumerate(black) for c in monitor.update(i * STEP, f)]
    assert [(c.state, c.reason) for c in changes] == [("detected", "covered")]
    monitor = CameraHealthMonitor(HealthConfig(blank_after_s=1, blank_stddev=0.5))
    white = [np.clip(rng.normal(252, 3, (240, 320, 3)), 0, 255).astype(np.uint8) for _ in range(8)]
    changes = [c for i, f in enumerate(white) for c in monitor.update(i * STEP, f)]
    assert [(c.state, c.reason) for c in changes] == [("detected", "covered")]


def test_frozen_picture_is_tamper_then_restored() -> None:
    monitor = CameraHealthMonitor(HealthConfig())
    clip = make_clip("frozen", 640, 480)  # the frame at 5 s repeats until 30 s
    changes = play(monitor, clip)
    assert summary(changes) == [("tamper", "detected", "frozen")]
    detected_at, change = changes[0]
    assert detected_at == pytest.approx(5.0 + 20.0)
    assert change.duration_s == pytest.approx(20.0)
    later = play(monitor, make_clip("static", 640, 480, length=30, seed=9), start=clip.length * STEP)
    assert summary(later) == [("tamper", "restored", "frozen")]


def test_a_short_freeze_is_not_tamper() -> None:
    monitor = CameraHealthMonitor(HealthConfig(frozen_after_s=20))
    frame = make_clip("static", 320, 240, length=1).frame(0)
    assert [c for i in range(50) for c in monitor.update(i * STEP, frame)] == []  # 10 s
    assert play(monitor, make_clip("static", 320, 240, length=10), start=10.0) == []


def test_stream_lost_then_restored() -> None:
    monitor = CameraHealthMonitor(HealthConfig(lost_after_s=10))
    clip = make_clip("static", 320, 240, length=20)
    assert play(monitor, clip) == []  # frames until 3.8 s
    silence = [(t, c) for t in np.arange(4.0, 20.0, 0.5) for c in monitor.update(float(t), None)]
    assert summary(silence) == [("camera", "lost", "lost")]
    assert silence[0][0] == pytest.approx(14.0)  # 10 s after the last frame at 3.8 s
    assert monitor.lost
    (restored,) = monitor.update(20.0, clip.frame(0))
    assert (restored.kind, restored.state) == (EventKind.CAMERA, "restored")
    assert restored.duration_s == pytest.approx(20.0 - 3.8)
    assert not monitor.lost


def test_a_camera_that_never_delivers_is_lost() -> None:
    monitor = CameraHealthMonitor(HealthConfig(lost_after_s=10))
    changes = [c for t in range(12) for c in monitor.update(float(t), None)]
    assert [(c.kind, c.state) for c in changes] == [(EventKind.CAMERA, "lost")]


def test_a_long_gap_between_frames_is_reported() -> None:
    monitor = CameraHealthMonitor(HealthConfig(lost_after_s=10))
    frame = make_clip("static", 320, 240, length=2)
    monitor.update(0.0, frame.frame(0))
    changes = monitor.update(15.0, frame.frame(1))
    assert [c.state for c in changes] == ["lost", "restored"]
