"""Flood quarantine: a device that stays over its rate limit raises a major alert and is blocked.

The token buckets (hub/ingest/ratelimit.py) keep a flood out of ingest, but every flooding message
still crosses the broker->hub connection that other posts' panics share. So when a device
keeps being rate-limited (rejections less than `STREAK_GAP` apart for `quarantine_after`
seconds, and at least `quarantine_min_rejected` of them), the hub

* raises an `AlertKind.FLOOD` alert (major) for the device, and
* when the broker's files are managed by provisioning (`provisioning.broker_dir/passwd`
  exists) and `quarantine_block` is on, blocks the device at the broker the way revocation
  kicks it, but reversibly (hub/provisioning/provisioner.py `Provisioner.block`): the flood stops at the
  broker. An admin lifts it with `poskamling device unblock <id>` or
  `POST /api/admin/devices/<id>/unblock`; both are audited.

A blocked post cannot report anything, panics included: that is why the alert pages.
`FloodDetector` is pure logic (injectable clock); `Quarantine` does the I/O on its own
worker thread, never on paho's network thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hub.alerting.rules import AlertKind
from hub.alerting.service import AlertService
from hub.provisioning.provisioner import Provisioner
from hub.settings import HubSettings

log = logging.getLogger(__name__)

STREAK_GAP = 0.5
"""Seconds without a rejection that end a device's over-limit streak."""
MAX_TRACKED = 10_000


@dataclass
class Streak:
    started: float
    last: float
    rejected: int = 0
    fired: bool = False


class FloodDetector:
    """`rejected(device)` once per rate-limited message; True exactly once per streak, when the
    device has been over its limit for `after` seconds with at least `min_rejected` rejections."""

    def __init__(self, after: float, min_rejected: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.after = after
        self.min_rejected = min_rejected
        self.clock = clock
        self._streaks: dict[str, Streak] = {}
        self._lock = threading.Lock()

    def rejected(self, device: str) -> Streak | None:
        """The streak that just crossed the threshold, else None."""
        if self.after <= 0:
            return None
        now = self.clock()
        with self._lock:
            streak = self._streaks.get(device)
            if streak is None or now - streak.last > STREAK_GAP:
                if streak is None and len(self._streaks) >= MAX_TRACKED:
                    self._forget_quiet(now)
                streak = self._streaks[device] = Streak(now, now)
            streak.last = now
            streak.rejected += 1
            if streak.fired or now - streak.started < self.after or streak.rejected < self.min_rejected:
                return None
            streak.fired = True
            return Streak(streak.started, streak.last, streak.rejected, True)

    def _forget_quiet(self, now: float) -> None:
        for device, streak in list(self._streaks.items()):
            if now - streak.last > STREAK_GAP:
                del self._streaks[device]


class Quarantine:
    """Acts on FloodDetector's verdicts: FLOOD alert, then (when configured) a broker block."""

    def __init__(
        self,
        settings: HubSettings,
        alerts: AlertService,
        block: Callable[[str, str], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        limits = settings.rate_limit
        self.settings = settings
        self.alerts = alerts
        self.detector = FloodDetector(limits.quarantine_after, limits.quarantine_min_rejected, clock)
        self.block = block  # injected (tests); None: through provisioning, when it manages the broker's files
        self.quarantined: dict[str, str] = {}  # device -> what was done ("blocked", "alert only", error)
        self._worker: ThreadPoolExecutor | None = None

    def _provisioning_block(self) -> Callable[[str, str], bool] | None:
        s = self.settings
        if not s.rate_limit.quarantine_block or not (s.provisioning.broker_dir / "passwd").exists():
            return None

        def block(device: str, reason: str) -> bool:
            return Provisioner(s, actor="hub:quarantine").block(device, reason)

        return block

    def start(self) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quarantine")

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=True)  # a block under way finishes (files stay consistent)
            self._worker = None

    def rejected(self, device: str) -> None:
        """One rate-limited message from `device` (called on paho's thread: cheap)."""
        streak = self.detector.rejected(device)
        if streak is not None and self._worker is not None:
            self._worker.submit(self._act, device, streak)

    def _act(self, device: str, streak: Streak) -> None:
        seconds = round(streak.last - streak.started, 1)
        summary = f"over its rate limit for {seconds} s, {streak.rejected} messages dropped"
        details: dict[str, object] = {"reason": "flooding", "seconds": seconds, "rejected": streak.rejected}
        blocked, outcome = False, "alert only: provisioning does not manage the broker's files"
        block = self.block or self._provisioning_block()
        if block is not None:
            try:
                block(device, f"flooding: {summary}")
                blocked, outcome = True, f"blocked at the broker; unblock with `poskamling device unblock {device}`"
            except Exception as exc:  # the alert must go out even when the block fails
                log.exception("quarantine: blocking %s failed", device)
                outcome = f"blocking at the broker failed: {exc}"
        log.error("quarantine: %s is flooding (%s); %s", device, summary, outcome)
        self.quarantined[device] = "blocked" if blocked else outcome
        details.update(blocked=blocked, messages=[f"{device} is flooding: {summary}", outcome])
        try:
            self.alerts.raise_condition(device, AlertKind.FLOOD, details)
        except Exception:
            log.exception("quarantine: flood alert for %s failed", device)

    def released(self, device: str, actor: str) -> None:
        """An admin unblocked the device: close its flood alert so a new flood pages again."""
        self.quarantined.pop(device, None)
        self.alerts.clear_condition(device, AlertKind.FLOOD, f"unblocked by {actor}")
