"""Health telemetry of an edge device: the payload of kamling/v1/<device>/health.

Every reading goes through a `HostProbe` whose paths and command runner tests replace. A
sensor that is missing or unreadable (a laptop has no vcgencmd, a container no thermal
zone) gives None; nothing here raises. The payload, all JSON-serialisable:

    {
      "ts": "2026-11-22T22:10:00Z",          edge clock, UTC
      "version": "0.1.0",                    installed poskamling distribution, or "dev"
      "uptime_s": 86400.5,                   since boot
      "load": [0.12, 0.30, 0.25],            1, 5 and 15 minute load average
      "cpu_temp_c": 51.5,
      "throttle": {"raw": "0x50005", "under_voltage": true, "freq_capped": false, ...},
      "disk": {"path": "/var/lib/poskamling", "free_bytes": ..., "total_bytes": ..., "free_pct": 87.5},
      "clock_synced": true,                  kernel says NTP has disciplined the clock
      "outbox": {"depth": 3, "drops": 0},    events waiting for the hub's ack; events dropped
      "cameras": {"gate": 4.9, "lane": null} frames per second actually processed
    }
"""

from __future__ import annotations

import ctypes
import functools
import math
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from kamling.version import software_version

T = TypeVar("T")

COMMAND_TIMEOUT = 2.0

# Bits of `vcgencmd get_throttled` (Raspberry Pi documentation, "get_throttled").
THROTTLE_BITS: dict[str, int] = {
    "under_voltage": 0,
    "freq_capped": 1,
    "throttled": 2,
    "soft_temp_limit": 3,
    "under_voltage_occurred": 16,
    "freq_capped_occurred": 17,
    "throttled_occurred": 18,
    "soft_temp_limit_occurred": 19,
}

_TIME_ERROR = 5  # adjtimex(2) return value: clock not synchronised

Runner = Callable[[Sequence[str]], str | None]
"""Runs a command and returns its stdout, or None when it is missing, fails or times out."""


def run_command(argv: Sequence[str]) -> str | None:
    if not argv or shutil.which(argv[0]) is None:
        return None  # a missing tool (no vcgencmd off a Pi): no fork of the whole agent just to learn that
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def kernel_clock_synced() -> bool | None:
    """Ask the kernel (adjtimex with modes=0, read-only) whether NTP keeps the clock in sync.

    Works with chrony and systemd-timesyncd alike. None when the call is not possible (the
    unit's system call filter must allow `adjtimex`).
    """
    try:
        libc = _libc()
        timex = ctypes.create_string_buffer(512)  # struct timex is about 208 bytes; modes=0 reads only
        state = int(libc.adjtimex(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR


@dataclass(frozen=True)
class HostProbe:
    """Where the readings come from; tests point these at fake files and a fake runner."""

    thermal_path: Path = Path("/sys/class/thermal/thermal_zone0/temp")
    uptime_path: Path = Path("/proc/uptime")
    loadavg_path: Path = Path("/proc/loadavg")
    throttled_command: tuple[str, ...] | None = ("vcgencmd", "get_throttled")
    run: Runner = field(default=run_command)
    clock_synced: Callable[[], bool | None] = field(default=kernel_clock_synced)
    version: Callable[[], str] = field(default=software_version)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None


def read_cpu_temp_c(path: Path) -> float | None:
    """Degrees Celsius from a sysfs thermal zone (which reports millidegrees)."""
    text = _read_text(path)
    if text is None:
        return None
    try:
        return round(int(text.strip()) / 1000, 1)
    except ValueError:
        return None


def parse_throttled(output: str) -> int | None:
    """`throttled=0x50005` -> 0x50005; None for anything else."""
    key, sep, value = output.strip().partition("=")
    if not sep or key.strip() != "throttled":
        return None
    try:
        return int(value.strip(), 16)
    except ValueError:
        return None


def decode_throttled(value: int) -> dict[str, Any]:
    """The raw bit field as hex plus one named boolean per documented bit."""
    flags: dict[str, Any] = {"raw": f"0x{value:x}"}
    for name, bit in THROTTLE_BITS.items():
        flags[name] = bool(value >> bit & 1)
    return flags


def read_throttle(probe: HostProbe) -> dict[str, Any] | None:
    if not probe.throttled_command:
        return None
    output = probe.run(probe.throttled_command)
    if output is None:
        return None
    value = parse_throttled(output)
    return None if value is None else decode_throttled(value)


def read_uptime_s(path: Path) -> float | None:
    text = _read_text(path)
    if not text:
        return None
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None


def read_load(path: Path) -> list[float] | None:
    text = _read_text(path)
    if not text:
        return None
    try:
        return [float(part) for part in text.split()[:3]]
    except ValueError:
        return None


def read_disk(path: Path) -> dict[str, Any] | None:
    """Space left for the outbox on the data directory's file system."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    free_pct = round(100 * usage.free / usage.total, 1) if usage.total else None
    return {"path": str(path), "free_bytes": usage.free, "total_bytes": usage.total, "free_pct": free_pct}


def _safely(read: Callable[..., T | None], *args: Any) -> T | None:
    """Telemetry must never take the agent down: an unexpected failure reads as 'unknown'."""
    try:
        return read(*args)
    except Exception:
        return None


def _fps(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None  # NaN/inf are not JSON
    return round(float(value), 2)


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_health(
    *,
    data_dir: Path,
    outbox_depth: int | None = None,
    outbox_drops: int | None = None,
    outbox_pictures_dropped: int | None = None,
    camera_fps: Mapping[str, float | None] | None = None,
    probe: HostProbe | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The health payload; the caller supplies what only the agent knows (outbox, cameras)."""
    host = probe or HostProbe()
    return {
        "ts": _utc_iso(now or datetime.now(UTC)),
        "version": _safely(host.version),
        "uptime_s": _safely(read_uptime_s, host.uptime_path),
        "load": _safely(read_load, host.loadavg_path),
        "cpu_temp_c": _safely(read_cpu_temp_c, host.thermal_path),
        "throttle": _safely(read_throttle, host),
        "disk": _safely(read_disk, data_dir),
        "clock_synced": _safely(host.clock_synced),
        "outbox": {"depth": outbox_depth, "drops": outbox_drops, "pictures_dropped": outbox_pictures_dropped},
        "cameras": {str(name): _safely(_fps, fps) for name, fps in (camera_fps or {}).items()},
    }
