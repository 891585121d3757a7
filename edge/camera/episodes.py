"""Turn per-frame motion verdicts into episodes: one START, one END, no alert storm.

Rules (all times from the caller's monotonic clock, in seconds):

* An episode STARTs after `confirm_frames` consecutive motion frames (default 2: a single
  odd frame is not an intruder).
* It stays open while motion keeps coming back within `cooldown_s`: a tree in the wind or a
  person who stops and moves again is ONE episode, not many.
* It ENDs once `cooldown_s` passed without motion (reason "quiet"), when it has lasted
  `max_episode_s` (reason "max_duration"; if motion goes on, a new episode starts, so a
  continuous disturbance reports at most once per `max_episode_s`), or when the caller
  calls `finish` (reason "stopped").

Snapshots: the tracker keeps the frame with the largest moving area (the "peak"), with its
boxes, as an opaque `frame_ref` the caller supplied. The START event carries the best frame
among the confirming frames (so the hub gets a picture at once); the END event carries the
peak frame of the whole episode (usually a better picture, for the record). The caller decides
whether to encode and send both.

`duration_s` is from the first to the last motion frame (the cooldown is not counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

if TYPE_CHECKING:  # types only: the tracker stays free of OpenCV
    from edge.camera.motion import Box, MotionResult

FrameT = TypeVar("FrameT")

EndReason = Literal["quiet", "max_duration", "stopped"]


@dataclass(frozen=True)
class EpisodeEvent(Generic[FrameT]):
    """START or END of a motion episode."""

    phase: Literal["start", "end"]
    started_at: float
    area: float
    """START: area fraction of the confirming frame with most motion. END: the peak area."""
    boxes: tuple[Box, ...]
    """Boxes belonging to `frame_ref`."""
    frame_ref: FrameT | None
    """The snapshot frame: best confirming frame on START, peak frame on END."""
    duration_s: float = 0.0
    peak_area: float = 0.0
    frames: int = 0
    """Number of motion frames in the episode so far."""
    reason: EndReason | None = None


class EpisodeTracker(Generic[FrameT]):
    """Stateful and pure: feed it every analysed frame's result with `update`."""

    def __init__(self, cooldown_s: float, max_episode_s: float, confirm_frames: int = 2) -> None:
        if cooldown_s < 0 or max_episode_s <= 0 or confirm_frames < 1:
            raise ValueError("cooldown_s >= 0, max_episode_s > 0 and confirm_frames >= 1 are required")
        self._cooldown_s = cooldown_s
        self._max_episode_s = max_episode_s
        self._confirm_frames = confirm_frames
        self._streak = 0
        self._active = False
        self._started_at = 0.0
        self._last_motion = 0.0
        self._frames = 0
        self._peak_area = 0.0
        self._peak_boxes: tuple[Box, ...] = ()
        self._peak_frame: FrameT | None = None

    @property
    def active(self) -> bool:
        return self._active

    def update(self, result: MotionResult, now: float, frame_ref: FrameT | None = None) -> list[EpisodeEvent[FrameT]]:
        """Account for one analysed frame at time `now`; returns events that happened."""
        if not result.motion:
            self._streak = 0
            if not self._active:
                self._forget_peak()
            return self.tick(now)

        events: list[EpisodeEvent[FrameT]] = []
        if self._active and now - self._started_at >= self._max_episode_s:
            events.append(self._end("max_duration"))
        self._streak += 1
        self._take_peak(result, frame_ref)
        if not self._active and self._streak == 1:
            self._started_at = now
            self._frames = 0
        self._frames += 1
        self._last_motion = now
        if not self._active and self._streak >= self._confirm_frames:
            self._active = True
            events.append(
                EpisodeEvent(
                    "start",
                    self._started_at,
                    self._peak_area,
                    self._peak_boxes,
                    self._peak_frame,
                    frames=self._frames,
                    peak_area=self._peak_area,
                )
            )
        return events

    def tick(self, now: float) -> list[EpisodeEvent[FrameT]]:
        """Let time pass without a motion frame (also call it when no frame arrives)."""
        if self._active and now - self._last_motion >= self._cooldown_s:
            return [self._end("quiet")]
        return []

    def finish(self) -> list[EpisodeEvent[FrameT]]:
        """End an open episode now (the worker is stopping)."""
        return [self._end("stopped")] if self._active else []

    def _take_peak(self, result: MotionResult, frame_ref: FrameT | None) -> None:
        if self._peak_frame is None or result.area_fraction > self._peak_area:
            self._peak_area = result.area_fraction
            self._peak_boxes = result.boxes
            self._peak_frame = frame_ref

    def _forget_peak(self) -> None:
        self._peak_area = 0.0
        self._peak_boxes = ()
        self._peak_frame = None

    def _end(self, reason: EndReason) -> EpisodeEvent[FrameT]:
        event: EpisodeEvent[FrameT] = EpisodeEvent(
            "end",
            self._started_at,
            self._peak_area,
            self._peak_boxes,
            self._peak_frame,
            duration_s=max(0.0, self._last_motion - self._started_at),
            peak_area=self._peak_area,
            frames=self._frames,
            reason=reason,
        )
        self._active = False
        self._streak = 0
        self._frames = 0
        self._forget_peak()
        return event
