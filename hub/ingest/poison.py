"""Poison from one post: repeated dead letters raise a major alert on that post (issue 18).

A dead letter is a message that passed validation and still failed in the hub. One may be a
hub bug; several from the same post in a short time look like a stolen post probing the hub.
When a post has `count` dead letters within `window` seconds, the hub raises an
`AlertKind.POISON` alert on it (paged per its escalation rule); while that alert is open,
further dead letters join it (its details and timeline are updated, nobody is paged again).
Resends of a dead letter are not new dead letters and do not count.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from hub.alerting.rules import AlertKind
from hub.alerting.service import AlertService
from hub.storage.deadletters import DeadLetter

log = logging.getLogger(__name__)

MAX_TRACKED = 10_000


class PoisonDetector:
    """Pure counting: `observe(device)` per new dead letter; True once the device has `count` in `window` s."""

    def __init__(self, count: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.count = count
        self.window = window
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def observe(self, device: str) -> int:
        """Records one dead letter; returns how many the device has within the window (this one included)."""
        now = self.clock()
        with self._lock:
            times = self._seen.get(device)
            if times is None:
                if len(self._seen) >= MAX_TRACKED:
                    self._forget(now)
                times = self._seen[device] = deque(maxlen=max(1, self.count))
            times.append(now)
            while times and now - times[0] > self.window:
                times.popleft()
            return len(times)

    def _forget(self, now: float) -> None:
        for device, times in list(self._seen.items()):
            if not times or now - times[-1] > self.window:
                del self._seen[device]
        if len(self._seen) >= MAX_TRACKED:  # all recent: drop the oldest to stay bounded
            del self._seen[next(iter(self._seen))]


class PoisonWatch:
    """Ingest's `on_dead_letter`: raises or joins the post's POISON alert."""

    def __init__(
        self, alerts: AlertService, count: int = 3, window: float = 600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.alerts = alerts
        self.detector = PoisonDetector(count, window, clock)

    def observe(self, letter: DeadLetter) -> None:
        if letter.device is None:
            return  # not from a known post (nothing to alert on)
        recent = self.detector.observe(letter.device)
        open_alert = self.alerts.open_for(letter.device, AlertKind.POISON)
        if recent < self.detector.count and open_alert is None:
            return
        details = {
            "reason": "poison",
            "dead_letters_recent": recent,
            "window_seconds": self.detector.window,
            "last_error": f"{letter.error_class}: {letter.error}"[:300],
            "last_event_id": letter.event_id,
            "messages": [
                f"{letter.device}: {recent} message(s) failed in the hub within {self.detector.window:.0f} s "
                "and were dead-lettered (see /admin/deadletters)",
            ],
        }
        log.error(
            "poison: %s sent %d dead-lettered message(s) within %.0f s", letter.device, recent, self.detector.window
        )
        self.alerts.raise_condition(letter.device, AlertKind.POISON, details)
