"""Camera configuration: one `CameraConfig` per CCTV camera a post watches.

Pure pydantic (no OpenCV here), validated at start-up like the rest of `edge.config`.
Units and conventions, decided once:

* `min_area` is a FRACTION of the frame area (0.003 = 0.3 % of the picture), so it does not
  change meaning when `detect_height` or the camera's resolution changes.
* `masks` are polygons in SOURCE pixel coordinates (what you see in a snapshot of the
  camera's stream); the detector scales them to its small detect frame.
* Times of day are local wall-clock times written as quoted strings "HH:MM". A window whose
  end is earlier than its start crosses midnight ("22:00" to "05:00").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SYNTHETIC_SCENARIOS: Final = (
    "static",
    "noise",
    "crossing",
    "brightness_jump",
    "drift",
    "small_object",
    "masked_motion",
    "covered",
    "frozen",
)
"""Scenario names accepted by `synthetic:<scenario>` (edge.camera.synthetic implements them)."""

CAMERA_NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,31}$"

_HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_URL_RE = re.compile(r"^(rtsp|rtsps|http|https)://[^\s/]+(/\S*)?$")
_V4L2_RE = re.compile(r"^v4l2:(/dev/video\d+|\d+)$")
_SYNTH_RE = re.compile(r"^synthetic:([a-z_]+)(?::(\d{2,4})x(\d{2,4}))?$")
EVIDENCE_MAX_AFTER_S: Final = 10.0
"""The latest evidence frame a camera sends after a press, in seconds."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _parse_hhmm(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int):
        # YAML 1.1 reads an unquoted 22:00 as the base-60 number 1320.
        # pydantic turns ValueError (not TypeError) into a ValidationError naming the field
        raise ValueError('write times as quoted strings like "22:00" (an unquoted 22:00 is read by YAML as a number)')
    if not isinstance(value, str) or not _HHMM_RE.match(value.strip()):
        raise ValueError(f'time must be "HH:MM" on a 24-hour clock, got {value!r}')
    hours, minutes = value.strip().split(":")
    return time(int(hours), int(minutes))


class TimeWindow(_Section):
    """A daily window of local time; `end` before `start` means it crosses midnight."""

    start: time = Field(description='local start time "HH:MM" (inclusive)')
    end: time = Field(description='local end time "HH:MM" (exclusive); earlier than start crosses midnight')

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, value: Any) -> time:
        return _parse_hhmm(value)

    @model_validator(mode="after")
    def _not_empty(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError("start and end are equal; for 'always' leave the list of windows empty")
        return self


class MotionProfile(_Section):
    """Sensitivity overrides for part of the day (for example a noisier night picture)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="profile name, e.g. 'night'")
    windows: list[TimeWindow] = Field(min_length=1, description="local time windows in which this profile applies")
    threshold: int | None = Field(
        default=None, ge=1, le=255, description="pixel delta override while the profile applies"
    )
    min_area: float | None = Field(
        default=None, gt=0, le=0.5, description="min_area override (fraction of the frame) while the profile applies"
    )

    @model_validator(mode="after")
    def _overrides_something(self) -> MotionProfile:
        if self.threshold is None and self.min_area is None:
            raise ValueError(f"profile {self.name!r} overrides nothing: set threshold and/or min_area")
        return self


class HealthConfig(_Section):
    """When a camera counts as lost, frozen or covered."""

    lost_after_s: float = Field(default=10.0, gt=0, le=3600, description="no frame for this long: camera lost")
    frozen_after_s: float = Field(
        default=20.0, gt=0, le=3600, description="identical pictures for this long: tamper (frozen)"
    )
    frozen_max_delta: int = Field(
        default=2,
        ge=0,
        le=50,
        description="two pictures count as identical when no sampled grey pixel differs by more than this",
    )
    blank_after_s: float = Field(
        default=10.0, gt=0, le=3600, description="blank (covered/uniform/dark/bright) picture this long: tamper"
    )
    blank_stddev: float = Field(
        default=6.0, ge=0, le=64, description="grey standard deviation below which the picture is uniform"
    )
    dark_mean: float = Field(default=8.0, ge=0, le=128, description="mean grey below which the picture is black")
    bright_mean: float = Field(
        default=248.0, ge=128, le=255, description="mean grey above which the picture is blinded"
    )
    clear_after_s: float = Field(
        default=3.0,
        ge=0,
        le=600,
        description="a tamper condition must be gone this long before it is reported restored",
    )


class SnapshotConfig(_Section):
    """The JPEG sent with motion and tamper events."""

    jpeg_quality: int = Field(default=80, ge=10, le=100, description="JPEG quality 10..100")
    draw_boxes: bool = Field(default=True, description="draw the motion boxes on the snapshot")
    max_width: int = Field(default=1280, ge=160, le=3840, description="downscale snapshots wider than this (pixels)")


class EvidenceConfig(_Section):
    """Pictures from around a panic or tamper (issue 15): a ring of small JPEGs, sent after the event.

    Memory per camera is bounded by `max_bytes` (default 512 KiB) and by `history_s / interval_s`
    frames (default 20): at 320 px wide and quality 70 a frame is 5-20 KB, so a camera normally
    holds 100-400 KB (see edge/camera/evidence.py and docs/performance.md).
    """

    enabled: bool = Field(default=True, description="keep the ring and send evidence frames")
    width: int = Field(default=320, ge=80, le=1280, description="frames in the ring are at most this wide (pixels)")
    jpeg_quality: int = Field(default=70, ge=10, le=100, description="JPEG quality of the ring's frames")
    interval_s: float = Field(default=0.5, ge=0.1, le=5, description="one frame into the ring every this many seconds")
    history_s: float = Field(default=10.0, ge=1, le=60, description="how far back the ring reaches")
    max_bytes: int = Field(
        default=512 * 1024, ge=64 * 1024, le=8 * 1024 * 1024, description="bytes the ring may hold (per camera)"
    )
    offsets_s: list[float] = Field(
        default_factory=lambda: [-2.0, 0.0, 3.0],
        min_length=1,
        max_length=8,
        description="seconds relative to the press of the frames sent (negative: before it)",
    )

    @model_validator(mode="after")
    def _offsets_reachable(self) -> EvidenceConfig:
        for offset in self.offsets_s:
            if not -self.history_s <= offset <= EVIDENCE_MAX_AFTER_S:
                raise ValueError(
                    f"offsets_s: {offset:g} is outside -history_s ({-self.history_s:g}) .. {EVIDENCE_MAX_AFTER_S:g}"
                )
        return self


@dataclass(frozen=True)
class SourceSpec:
    """A parsed `source`: which adapter opens it and with what target."""

    kind: Literal["url", "v4l2", "file", "synthetic"]
    target: str
    size: tuple[int, int] | None = None  # synthetic only: (width, height)


def parse_source(source: str | int) -> SourceSpec:
    """Parse a `CameraConfig.source` value; ValueError says what forms are accepted."""
    if isinstance(source, bool):
        raise ValueError("source must be a string or a device number")
    if isinstance(source, int):
        if source < 0:
            raise ValueError("a device number must be 0 or more")
        return SourceSpec("v4l2", str(source))
    text = source.strip()
    if text.isdigit():
        return SourceSpec("v4l2", text)
    if _URL_RE.match(text):
        return SourceSpec("url", text)
    match = _V4L2_RE.match(text)
    if match:
        return SourceSpec("v4l2", match.group(1))
    if text.startswith("file:"):
        path = text[len("file:") :]
        if not path:
            raise ValueError("file: needs a path, e.g. file:/srv/clips/gate.mp4")
        return SourceSpec("file", path)
    match = _SYNTH_RE.match(text)
    if match:
        scenario = match.group(1)
        if scenario not in SYNTHETIC_SCENARIOS:
            raise ValueError(f"unknown synthetic scenario {scenario!r}; one of: {', '.join(SYNTHETIC_SCENARIOS)}")
        size = (int(match.group(2)), int(match.group(3))) if match.group(2) else None
        return SourceSpec("synthetic", scenario, size)
    raise ValueError(
        f"unsupported source {text[:80]!r}; use rtsp://..., http(s)://..., v4l2:/dev/video0, a device number, "
        "file:path/to/clip.mp4 or synthetic:<scenario>"
    )


Point = tuple[int, int]


class CameraConfig(_Section):
    """One CCTV camera: where to read it, how to detect motion, when to alert, how to judge health."""

    name: str = Field(pattern=CAMERA_NAME_PATTERN, description="camera id, e.g. 'gate' (lower case, digits, - or _)")
    source: str | int = Field(
        description=(
            "rtsp://... or http(s)://... stream (prefer the sub-stream), v4l2:/dev/video0 or a device number, "
            "file:path/to/video.mp4 (looped), or synthetic:<scenario>[:WxH] for tests"
        )
    )
    detect_fps: float = Field(default=5.0, gt=0, le=30, description="analyse at most this many frames per second")
    detect_height: int = Field(
        default=120,
        ge=100,
        le=360,
        description=(
            "height in pixels of the small detect frame (120: a 640x480 or 1280x960 MJPEG camera decodes straight to it)"
        ),
    )
    threshold: int = Field(default=25, ge=1, le=255, description="grey-level change that counts a pixel as moving")
    min_area: float = Field(
        default=0.003,
        gt=0,
        le=0.5,
        description="smallest moving region that counts, as a FRACTION of the frame (0.003 = 0.3 %)",
    )
    lighting_change: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="when more than this fraction of the (unmasked) picture changes at once it is a lighting/IR switch, not motion",
    )
    background_alpha: float = Field(
        default=0.02,
        gt=0,
        le=0.5,
        description="how fast the background average follows the picture, per analysed frame",
    )
    masks: list[list[Point]] = Field(
        default_factory=list, description="polygons in SOURCE pixel coordinates where motion is ignored"
    )
    armed: list[TimeWindow] = Field(
        default_factory=list, description="local time windows in which motion alerts; empty = always armed"
    )
    outside_armed: Literal["ignore", "log_low"] = Field(
        default="log_low", description="motion outside armed windows: drop it, or report it with severity 'low'"
    )
    profiles: list[MotionProfile] = Field(
        default_factory=list, description="time-of-day sensitivity overrides; the first matching profile wins"
    )
    cooldown_s: float = Field(
        default=30.0, ge=0, le=3600, description="an episode ends after this many seconds without motion"
    )
    max_episode_s: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="an episode longer than this is ended and, if motion goes on, a new one starts",
    )
    health: HealthConfig = Field(default_factory=HealthConfig, description="lost / frozen / covered detection")
    snapshot: SnapshotConfig = Field(default_factory=SnapshotConfig, description="snapshot JPEG options")
    evidence: EvidenceConfig = Field(
        default_factory=EvidenceConfig, description="pictures from before and after a panic or tamper"
    )

    @field_validator("source")
    @classmethod
    def _source_form(cls, value: str | int) -> str | int:
        parse_source(value)
        return value

    @field_validator("masks")
    @classmethod
    def _polygons(cls, value: list[list[Point]]) -> list[list[Point]]:
        for index, polygon in enumerate(value):
            if len(polygon) < 3:
                raise ValueError(f"mask {index} needs at least 3 points [x, y], got {len(polygon)}")
            for x, y in polygon:
                if x < 0 or y < 0:
                    raise ValueError(f"mask {index} has a negative coordinate ({x}, {y}); use source pixels")
        return value

    @model_validator(mode="after")
    def _unique_profiles(self) -> CameraConfig:
        names = [profile.name for profile in self.profiles]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"profile names must be unique: {', '.join(duplicates)}")
        return self

    @property
    def source_spec(self) -> SourceSpec:
        return parse_source(self.source)
