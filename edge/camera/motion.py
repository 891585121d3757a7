"""Cheap motion detection on a small grey frame (the Frigate approach, written afresh).

Per analysed frame:

1. downscale the source frame to `detect_height` (bilinear, before the grey conversion, so
   the colour conversion runs on the small frame), convert to grey, Gaussian blur. The frame
   may already be a reduced picture of the source (a JPEG decoded at 1/2 size, say): then
   `process(frame, source_size)` names the source's size, and masks and boxes stay in source
   pixels;
2. compare with a running average of the background (`cv2.accumulateWeighted`), threshold the
   absolute difference at `threshold` grey levels, dilate to join fragments, apply the masks;
3. if more than `lighting_change` of the unmasked picture changed at once, it is a lighting
   change (lights on, IR cut filter switching, auto-exposure jump): report no motion, reset
   the background to this frame and recalibrate for `calibration_frames`;
4. otherwise external contours whose area is at least `min_area` (fraction of the frame) are
   motion; their bounding boxes are scaled back to SOURCE pixel coordinates.

During calibration (after the first frame, after a size change, after a lighting change) the
background follows the picture quickly and no motion is reported.

The detector is pure apart from its own state: it takes arrays and returns a `MotionResult`.
It never modifies the frame it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edge.camera.config import CameraConfig

Box = tuple[int, int, int, int]
"""(x, y, width, height) in source pixels."""


@dataclass(frozen=True)
class MotionSettings:
    """What the detector needs; `from_config` builds it from a CameraConfig."""

    detect_height: int = 120
    threshold: int = 25
    min_area: float = 0.003
    masks: tuple[tuple[tuple[int, int], ...], ...] = ()
    lighting_change: float = 0.5
    alpha: float = 0.02
    calibration_frames: int = 10
    calibration_alpha: float = 0.5
    blur_kernel: int = 5
    dilate_iterations: int = 2
    max_boxes: int = 16

    @classmethod
    def from_config(cls, config: CameraConfig) -> MotionSettings:
        return cls(
            detect_height=config.detect_height,
            threshold=config.threshold,
            min_area=config.min_area,
            masks=tuple(tuple((int(x), int(y)) for x, y in polygon) for polygon in config.masks),
            lighting_change=config.lighting_change,
            alpha=config.background_alpha,
        )


@dataclass(frozen=True)
class MotionResult:
    """The verdict on one frame."""

    motion: bool
    area_fraction: float
    """Area of the qualifying moving regions as a fraction of the frame."""
    boxes: tuple[Box, ...]
    """Bounding boxes (x, y, w, h) of the moving regions in SOURCE pixels, largest first."""
    global_change: bool
    """The whole picture changed at once (lighting/IR switch): suppressed, recalibrating."""
    calibrating: bool
    """The background is still being learnt; motion is not reported."""


_NO_MOTION = MotionResult(False, 0.0, (), False, False)


class MotionDetector:
    """Running-average motion detector. Feed it frames with `process`."""

    def __init__(self, settings: MotionSettings) -> None:
        self._settings = settings
        self._threshold = settings.threshold
        self._min_area = settings.min_area
        self._source_size: tuple[int, int] | None = None  # (width, height)
        self._detect_size: tuple[int, int] = (0, 0)
        self._keep: np.ndarray | None = None  # 255 where motion counts, None when nothing is masked
        self._keep_pixels = 0
        self._average: np.ndarray | None = None
        self._calibration_left = 0
        self._kernel = np.ones((3, 3), np.uint8)

    @property
    def settings(self) -> MotionSettings:
        return self._settings

    def set_sensitivity(self, threshold: int, min_area: float) -> None:
        """Change threshold and min_area (e.g. when a night profile starts); keeps the background."""
        self._threshold = threshold
        self._min_area = min_area

    def reset(self) -> None:
        """Forget the background (e.g. after the stream reconnects); the next frame recalibrates."""
        self._average = None

    def process(self, frame: np.ndarray, source_size: tuple[int, int] | None = None) -> MotionResult:
        """Analyse one BGR (h, w, 3), BGRA (h, w, 4) or grey (h, w) uint8 frame.

        `source_size` (width, height): the frame is a reduced picture of a source this large;
        masks are read and boxes returned in the source's pixels. None: the frame's own size.
        """
        small = self._prepare(frame, source_size)
        if self._average is None:
            self._average = small.astype(np.float32)
            self._calibration_left = self._settings.calibration_frames
            return MotionResult(False, 0.0, (), False, True)

        reference = cv2.convertScaleAbs(self._average)
        delta = cv2.absdiff(small, reference)
        _, moving = cv2.threshold(delta, self._threshold, 255, cv2.THRESH_BINARY)
        if cv2.countNonZero(moving) == 0:
            changed = 0.0  # a still picture (most frames): nothing to dilate or mask
        else:
            moving = cv2.dilate(moving, self._kernel, iterations=self._settings.dilate_iterations)
            if self._keep is not None:
                moving = cv2.bitwise_and(moving, self._keep)
            changed = cv2.countNonZero(moving) / max(self._keep_pixels, 1)

        if changed > self._settings.lighting_change:
            self._average = small.astype(np.float32)
            self._calibration_left = self._settings.calibration_frames
            return MotionResult(False, 0.0, (), True, True)

        calibrating = self._calibration_left > 0
        alpha = self._settings.calibration_alpha if calibrating else self._settings.alpha
        cv2.accumulateWeighted(small, self._average, alpha)
        if calibrating:
            self._calibration_left -= 1
            return MotionResult(False, 0.0, (), False, True)
        if changed == 0.0:
            return _NO_MOTION
        return self._regions(moving)

    def _prepare(self, frame: np.ndarray, source_size: tuple[int, int] | None) -> np.ndarray:
        if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4)):
            raise ValueError(f"expected a uint8 grey, BGR or BGRA frame, got {frame.dtype} {frame.shape}")
        height, width = frame.shape[:2]
        source = source_size if source_size is not None else (width, height)
        if self._source_size != source:
            self._configure(source[0], source[1], height)
        if (width, height) == self._detect_size:
            small = frame  # already at the detector's size (a JPEG decoded small): nothing to resize
        else:
            small = cv2.resize(frame, self._detect_size, interpolation=cv2.INTER_LINEAR)
        if small.ndim == 3:
            channels = small.shape[2]
            if channels == 3:
                small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
            elif channels == 4:
                small = cv2.cvtColor(small, cv2.COLOR_BGRA2GRAY)
            else:
                small = small[:, :, 0]
        kernel = self._settings.blur_kernel
        return cv2.GaussianBlur(small, (kernel, kernel), 0)

    def _configure(self, width: int, height: int, frame_height: int) -> None:
        detect_height = min(self._settings.detect_height, height, frame_height)
        detect_width = max(8, round(width * detect_height / height))
        self._source_size = (width, height)
        self._detect_size = (detect_width, detect_height)
        self._average = None
        self._keep = _keep_mask(self._settings.masks, (width, height), self._detect_size)
        self._keep_pixels = detect_width * detect_height if self._keep is None else int(cv2.countNonZero(self._keep))

    def _regions(self, moving: np.ndarray) -> MotionResult:
        detect_width, detect_height = self._detect_size
        total = detect_width * detect_height
        min_pixels = self._min_area * total
        contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        found: list[tuple[float, Box]] = []
        for contour in contours:
            area = cv2.contourArea(contour)
            if area >= min_pixels:
                x, y, w, h = cv2.boundingRect(contour)
                found.append((area, (x, y, w, h)))
        if not found:
            return _NO_MOTION
        found.sort(key=lambda item: item[0], reverse=True)
        assert self._source_size is not None
        scale_x = self._source_size[0] / detect_width
        scale_y = self._source_size[1] / detect_height
        boxes = tuple(
            _scale_box(box, scale_x, scale_y, self._source_size) for _, box in found[: self._settings.max_boxes]
        )
        area_fraction = min(1.0, sum(area for area, _ in found) / total)
        return MotionResult(True, area_fraction, boxes, False, False)


def _scale_box(box: Sequence[int], scale_x: float, scale_y: float, limit: tuple[int, int]) -> Box:
    x, y, w, h = box
    left = max(0, int(x * scale_x))
    top = max(0, int(y * scale_y))
    right = min(limit[0], round((x + w) * scale_x))
    bottom = min(limit[1], round((y + h) * scale_y))
    return (left, top, max(1, right - left), max(1, bottom - top))


def _keep_mask(
    masks: Sequence[Sequence[tuple[int, int]]], source: tuple[int, int], detect: tuple[int, int]
) -> np.ndarray | None:
    """255 where motion counts, 0 under the mask polygons (scaled to the detect frame)."""
    if not masks:
        return None
    scale_x = detect[0] / source[0]
    scale_y = detect[1] / source[1]
    keep = np.full((detect[1], detect[0]), 255, np.uint8)
    polygons = [np.array([[round(x * scale_x), round(y * scale_y)] for x, y in polygon], np.int32) for polygon in masks]
    cv2.fillPoly(keep, polygons, 0)
    return keep
