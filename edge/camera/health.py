"""Camera health: lost stream, frozen picture, covered/blank lens. Pure (arrays in, changes out).

Feed `update(now, frame)` with every analysed frame and `update(now, None)` whenever a read
fails or nothing arrived; it returns the state changes that happened:

* `camera` lost / restored: no frame for `lost_after_s` (counted from the last frame, or from
  the first call if no frame ever came). Restored on the next frame. A gap longer than
  `lost_after_s` between two frames without `None` calls in between is reported too (lost,
  then restored at once), so an outage is never silent.
* `tamper` frozen / restored: consecutive frames identical (no sampled grey pixel differs by
  more than `frozen_max_delta`) for `frozen_after_s`. Real sensors always add some noise and
  most cameras burn in a running clock, so a picture that stops changing means a stuck
  encoder or a replayed still. A blank picture does not count as frozen (it is "covered").
* `tamper` covered / restored: picture uniform (grey stddev < `blank_stddev`), black
  (mean < `dark_mean`) or blinded (mean > `bright_mean`) for `blank_after_s`.

A tamper is reported restored only after its condition has been gone for `clear_after_s`,
so a hand hovering over the lens does not flap. Statistics use a grid sample of about 80
columns of the frame (every n-th pixel, no averaging, so sensor noise is kept intact). The
statistics are one OpenCV call each (mean and deviation; the largest pixel difference): the NumPy
forms made temporary arrays and cost about 0.13 ms more a frame (issue 17 item 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from edge.camera.config import HealthConfig
from kamling.protocol import EventKind

SAMPLE_COLUMNS = 80

HealthState = Literal["lost", "restored", "detected"]
HealthReason = Literal["lost", "frozen", "covered"]


@dataclass(frozen=True)
class HealthChange:
    """One change of camera health."""

    kind: EventKind
    """EventKind.CAMERA for lost/restored, EventKind.TAMPER for frozen/covered."""
    state: HealthState
    """camera: 'lost' | 'restored'; tamper: 'detected' | 'restored'."""
    reason: HealthReason
    duration_s: float
    """How long the condition had lasted when detected, or in total when restored."""


@dataclass(frozen=True)
class PictureStats:
    mean: float
    stddev: float


def sample_grey(frame: np.ndarray) -> np.ndarray:
    """A small grey grid sample (uint8) of a grey, BGR or BGRA frame."""
    step = max(1, frame.shape[1] // SAMPLE_COLUMNS)
    grid = frame[::step, ::step]
    if grid.ndim == 2:
        return np.ascontiguousarray(grid)
    if grid.shape[2] == 1:
        return np.ascontiguousarray(grid[:, :, 0])
    bgr = grid[:, :, :3].astype(np.uint16)
    grey = (bgr[:, :, 0] * 29 + bgr[:, :, 1] * 150 + bgr[:, :, 2] * 77) >> 8
    return grey.astype(np.uint8)


def picture_stats(sample: np.ndarray) -> PictureStats:
    mean, stddev = cv2.meanStdDev(sample)
    return PictureStats(float(mean[0, 0]), float(stddev[0, 0]))


class _Condition:
    """A tamper condition with onset delay and clear delay."""

    def __init__(self, reason: HealthReason, after_s: float, clear_after_s: float) -> None:
        self.reason: HealthReason = reason
        self._after_s = after_s
        self._clear_after_s = clear_after_s
        self.since: float | None = None
        self.active = False
        self._detected_at = 0.0
        self._clear_since: float | None = None

    def observe(self, present: bool, now: float, onset: float | None = None) -> HealthChange | None:
        if present:
            self._clear_since = None
            if self.since is None:
                self.since = now if onset is None else onset
            if not self.active and now - self.since >= self._after_s:
                self.active = True
                self._detected_at = self.since
                return HealthChange(EventKind.TAMPER, "detected", self.reason, now - self.since)
            return None
        self.since = None
        if not self.active:
            return None
        if self._clear_since is None:
            self._clear_since = now
        if now - self._clear_since >= self._clear_after_s:
            self.active = False
            self._clear_since = None
            return HealthChange(EventKind.TAMPER, "restored", self.reason, now - self._detected_at)
        return None

    def pause(self) -> None:
        """The stream is gone: the onset timer restarts when frames come back."""
        self.since = None
        self._clear_since = None


class CameraHealthMonitor:
    """Stateful, pure health judge for one camera."""

    def __init__(self, settings: HealthConfig) -> None:
        self._settings = settings
        self._first_call: float | None = None
        self._last_frame_at: float | None = None
        self._lost = False
        self._previous: np.ndarray | None = None
        self._previous_at = 0.0
        self._frozen = _Condition("frozen", settings.frozen_after_s, settings.clear_after_s)
        self._covered = _Condition("covered", settings.blank_after_s, settings.clear_after_s)
        self._stats: PictureStats | None = None

    @property
    def lost(self) -> bool:
        return self._lost

    @property
    def tampered(self) -> tuple[HealthReason, ...]:
        return tuple(c.reason for c in (self._frozen, self._covered) if c.active)

    @property
    def last_stats(self) -> PictureStats | None:
        return self._stats

    def update(self, now: float, frame: np.ndarray | None) -> list[HealthChange]:
        if self._first_call is None:
            self._first_call = now
        reference = self._last_frame_at if self._last_frame_at is not None else self._first_call
        if frame is None:
            if not self._lost and now - reference >= self._settings.lost_after_s:
                self._lost = True
                self._frozen.pause()
                self._covered.pause()
                return [HealthChange(EventKind.CAMERA, "lost", "lost", now - reference)]
            return []

        changes: list[HealthChange] = []
        gap = now - reference
        if not self._lost and self._last_frame_at is not None and gap >= self._settings.lost_after_s:
            changes.append(HealthChange(EventKind.CAMERA, "lost", "lost", gap))
            self._lost = True
        if self._lost:
            changes.append(HealthChange(EventKind.CAMERA, "restored", "lost", gap))
            self._lost = False
            self._previous = None  # a new stream: do not compare across the gap
            self._frozen.pause()
            self._covered.pause()
        self._last_frame_at = now

        sample = sample_grey(frame)
        stats = picture_stats(sample)
        self._stats = stats
        settings = self._settings
        blank = (
            stats.stddev < settings.blank_stddev or stats.mean < settings.dark_mean or stats.mean > settings.bright_mean
        )
        change = self._covered.observe(blank, now)
        if change:
            changes.append(change)

        still = (
            not blank
            and self._previous is not None
            and self._previous.shape == sample.shape
            and cv2.norm(sample, self._previous, cv2.NORM_INF) <= settings.frozen_max_delta
        )
        change = self._frozen.observe(still, now, onset=self._previous_at)
        if change:
            changes.append(change)
        self._previous = sample
        self._previous_at = now
        return changes
