"""MotionDetector on synthetic clips: what must and must not count as motion."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.camera.config import CameraConfig
from edge.camera.motion import MotionDetector, MotionResult, MotionSettings
from edge.camera.synthetic import Clip, make_clip


def run(clip: Clip, **overrides: object) -> list[MotionResult]:
    settings = MotionSettings(masks=clip.masks, **overrides)  # type: ignore[arg-type]
    detector = MotionDetector(settings)
    return [detector.process(frame) for frame in clip.frames()]


def motion_frames(results: list[MotionResult]) -> list[int]:
    return [index for index, result in enumerate(results) if result.motion]


@pytest.mark.parametrize(("width", "height"), [(640, 480), (1280, 720)])
def test_person_crossing_a_noisy_scene_is_detected(width: int, height: int) -> None:
    clip = make_clip("crossing", width, height, seed=3)
    results = run(clip)
    assert clip.event_frames is not None
    enter, leave = clip.event_frames
    hits = motion_frames(results)
    assert hits, "no motion detected"
    assert all(enter <= index < leave + 2 for index in hits), "motion outside the crossing"
    in_view = range(enter + 3, leave - 3)  # object fully in the picture
    assert sum(results[i].motion for i in in_view) >= 0.9 * len(in_view)


def test_boxes_are_in_source_pixels_around_the_object() -> None:
    clip = make_clip("crossing", 640, 480, seed=1)
    results = run(clip)
    assert clip.event_frames is not None
    middle = (clip.event_frames[0] + clip.event_frames[1]) // 2
    result = results[middle]
    assert result.motion and result.boxes
    for x, y, w, h in result.boxes:
        assert 0 <= x < 640 and 0 <= y < 480 and x + w <= 640 and y + h <= 480
    # union of the boxes (a body can split where it matches the background)
    x = min(b[0] for b in result.boxes)
    y = min(b[1] for b in result.boxes)
    w = max(b[0] + b[2] for b in result.boxes) - x
    h = max(b[1] + b[3] for b in result.boxes) - y
    # the person is drawn in the lower part of the frame, 1/12 of the width wide, 1/3 high
    assert h >= 480 // 3 * 0.8 and y + h > 300
    assert w >= 640 // 12 * 0.8
    assert 0 < result.area_fraction < 0.2


@pytest.mark.parametrize("scenario", ["static", "noise", "brightness_jump", "drift", "small_object", "masked_motion"])
def test_no_false_motion(scenario: str) -> None:
    results = run(make_clip(scenario, 640, 480, seed=2))
    assert motion_frames(results) == []


def test_small_object_is_seen_with_a_lower_min_area() -> None:
    """The negative above holds because of min_area, not because the object is invisible."""
    assert motion_frames(run(make_clip("small_object", 640, 480, seed=2), min_area=0.0005))


def test_masked_motion_is_seen_without_the_mask() -> None:
    clip = make_clip("masked_motion", 640, 480, seed=2)
    detector = MotionDetector(MotionSettings())
    assert any(detector.process(frame).motion for frame in clip.frames())


def test_brightness_jump_is_a_global_change_with_recalibration() -> None:
    clip = make_clip("brightness_jump", 640, 480)
    results = run(clip)
    assert clip.event_frames is not None
    at = clip.event_frames[0]
    assert results[at].global_change and results[at].calibrating
    assert all(r.calibrating for r in results[at : at + 5])
    assert not results[-1].calibrating


def test_calibration_after_start() -> None:
    results = run(make_clip("static", 320, 240, length=20))
    assert results[0].calibrating and not results[0].motion
    assert not results[-1].calibrating


def test_grey_and_bgr_frames_give_the_same_verdict() -> None:
    clip = make_clip("crossing", 320, 240, length=40, seed=4)
    colour = MotionDetector(MotionSettings())
    grey = MotionDetector(MotionSettings())
    verdicts = [
        (colour.process(frame).motion, grey.process(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)).motion)
        for frame in clip.frames()
    ]
    assert sum(a for a, _ in verdicts) > 5
    assert sum(a == b for a, b in verdicts) >= len(verdicts) - 2


def test_input_frame_is_not_modified() -> None:
    frame = make_clip("static", 320, 240, length=2).frame(1)
    before = frame.copy()
    MotionDetector(MotionSettings()).process(frame)
    assert np.array_equal(frame, before)


def test_rejects_non_image_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        MotionDetector(MotionSettings()).process(np.zeros((10, 10), np.float32))


def test_settings_from_config_and_runtime_sensitivity() -> None:
    config = CameraConfig(name="gate", source=0, threshold=40, min_area=0.01, masks=[[[0, 0], [50, 0], [50, 50]]])
    settings = MotionSettings.from_config(config)
    assert (settings.threshold, settings.min_area, settings.masks) == (40, 0.01, (((0, 0), (50, 0), (50, 50)),))
    detector = MotionDetector(MotionSettings())
    clip = make_clip("crossing", 320, 240, length=40, seed=5)
    detector.set_sensitivity(25, 0.4)  # nothing person-sized is that big
    assert not any(detector.process(frame).motion for frame in clip.frames())
