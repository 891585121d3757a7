"""Health rules: from a post's `health` telemetry decide which warnings stand (pure).

Input is the dict an edge publishes on kamling/v1/<device>/health (see edge/telemetry.py);
any field may be missing or null (a laptop has no thermal zone). A missing reading never
raises a warning by itself: the post's `offline` alert covers a post that says nothing.

Warnings (codes are stable; the dashboard and docs/operations.md name them):

  overheating   cpu_temp_c >= cpu_temp_warn_c, or the firmware is throttling/capping now
  under_voltage the power supply sags now (a weak adapter or long cable: the Pi may reboot)
  disk_low      free space of the outbox's file system below disk_free_pct or disk_free_mb
  camera_stalled a camera reports 0 fps or null (configured on the post but not delivering)
  outbox_drops  the outbox dropped events (disk budget full) since the previous report
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.settings import HealthThresholds

OVERHEAT_FLAGS = ("throttled", "soft_temp_limit", "freq_capped")
"""Current (not `_occurred`) bits of `vcgencmd get_throttled` that mean the SoC is too hot."""


@dataclass(frozen=True)
class HealthWarning:
    code: str
    message: str  # English, for logs and the alert's details; the dashboard translates the code
    value: Any = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _overheating(health: Mapping[str, Any], limits: HealthThresholds) -> HealthWarning | None:
    temp = _number(health.get("cpu_temp_c"))
    if temp is not None and temp >= limits.cpu_temp_warn_c:
        return HealthWarning("overheating", f"CPU at {temp:.1f} C (limit {limits.cpu_temp_warn_c:.0f} C)", temp)
    throttle = health.get("throttle")
    if limits.throttle_is_overheating and isinstance(throttle, Mapping):
        active = [flag for flag in OVERHEAT_FLAGS if throttle.get(flag) is True]
        if active:
            return HealthWarning("overheating", f"firmware reports {', '.join(active)}", throttle.get("raw"))
    return None


def _under_voltage(health: Mapping[str, Any], limits: HealthThresholds) -> HealthWarning | None:
    throttle = health.get("throttle")
    if limits.under_voltage and isinstance(throttle, Mapping) and throttle.get("under_voltage") is True:
        return HealthWarning("under_voltage", "power supply under-voltage", throttle.get("raw"))
    return None


def _disk_low(health: Mapping[str, Any], limits: HealthThresholds) -> HealthWarning | None:
    disk = health.get("disk")
    if not isinstance(disk, Mapping):
        return None
    pct, free = _number(disk.get("free_pct")), _number(disk.get("free_bytes"))
    low_pct = pct is not None and pct < limits.disk_free_pct
    low_mb = free is not None and free < limits.disk_free_mb * 1024 * 1024
    if not (low_pct or low_mb):
        return None
    parts = []
    if free is not None:
        parts.append(f"{free / 1024 / 1024:.0f} MB")
    if pct is not None:
        parts.append(f"{pct:.1f} %")
    return HealthWarning("disk_low", f"disk nearly full: {' / '.join(parts)} free", pct if pct is not None else free)


def _cameras_stalled(health: Mapping[str, Any], limits: HealthThresholds) -> HealthWarning | None:
    cameras = health.get("cameras")
    if not isinstance(cameras, Mapping):
        return None
    stalled = sorted(
        str(name) for name, fps in cameras.items() if _number(fps) is None or float(fps) <= limits.camera_min_fps
    )
    if not stalled:
        return None
    return HealthWarning("camera_stalled", f"camera(s) not delivering frames: {', '.join(stalled)}", stalled)


def _outbox_drops(
    health: Mapping[str, Any], previous: Mapping[str, Any] | None, limits: HealthThresholds
) -> HealthWarning | None:
    if not limits.outbox_drops:
        return None
    drops = _outbox_field(health, "drops")
    if drops is None or drops <= 0:
        return None
    before = _outbox_field(previous, "drops") if previous is not None else None
    if before is not None and drops <= before:
        return None  # nothing new dropped since the last report (the counter is cumulative)
    new = drops - before if before is not None else drops
    return HealthWarning("outbox_drops", f"outbox dropped {new:.0f} event(s) (disk budget full)", drops)


def _outbox_field(health: Mapping[str, Any] | None, key: str) -> float | None:
    outbox = health.get("outbox") if health else None
    return _number(outbox.get(key)) if isinstance(outbox, Mapping) else None


def evaluate(
    health: Mapping[str, Any], limits: HealthThresholds, previous: Mapping[str, Any] | None = None
) -> list[HealthWarning]:
    """The warnings that stand for this report, in a fixed order; [] when all is well."""
    if not limits.enabled:
        return []
    found = [
        _overheating(health, limits),
        _under_voltage(health, limits),
        _disk_low(health, limits),
        _cameras_stalled(health, limits),
        _outbox_drops(health, previous, limits),
    ]
    return [warning for warning in found if warning is not None]


def details(warnings: list[HealthWarning]) -> dict[str, Any]:
    """The alert's `details`: codes, messages and values (JSON-serialisable)."""
    return {
        "warnings": [w.code for w in warnings],
        "messages": [w.message for w in warnings],
        "values": {w.code: w.value for w in warnings},
    }
