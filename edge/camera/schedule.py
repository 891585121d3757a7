"""Armed hours and day/night profiles: pure functions of a local wall-clock time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from edge.camera.config import CameraConfig, MotionProfile, TimeWindow


def in_window(moment: time, window: TimeWindow) -> bool:
    """True if `moment` is in [start, end); a window with end < start crosses midnight."""
    moment = moment.replace(tzinfo=None)
    if window.start < window.end:
        return window.start <= moment < window.end
    return moment >= window.start or moment < window.end


def in_any(moment: time, windows: Sequence[TimeWindow]) -> bool:
    return any(in_window(moment, window) for window in windows)


def is_armed(now: datetime, windows: Sequence[TimeWindow]) -> bool:
    """Is motion alerting armed at local time `now`? No windows means always armed."""
    return not windows or in_any(now.time(), windows)


def active_profile(now: datetime, profiles: Sequence[MotionProfile]) -> MotionProfile | None:
    """The first profile whose windows contain local time `now`, if any."""
    moment = now.time()
    for profile in profiles:
        if in_any(moment, profile.windows):
            return profile
    return None


@dataclass(frozen=True)
class Sensitivity:
    """The motion sensitivity in force at a moment, and which profile set it."""

    threshold: int
    min_area: float
    profile: str | None


def sensitivity_at(config: CameraConfig, now: datetime) -> Sensitivity:
    """Base threshold/min_area with the active profile's overrides applied."""
    profile = active_profile(now, config.profiles)
    if profile is None:
        return Sensitivity(config.threshold, config.min_area, None)
    return Sensitivity(
        threshold=profile.threshold if profile.threshold is not None else config.threshold,
        min_area=profile.min_area if profile.min_area is not None else config.min_area,
        profile=profile.name,
    )
