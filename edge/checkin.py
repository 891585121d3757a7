"""Pure check-in logic: one check-in per press, however the button behaves. No I/O here.

gpiozero's debounce (`bounce_time`) removes contact bounce within a press; this gate adds a
minimum interval per source (the button, each card), so a held button, a button that keeps
bouncing past its debounce, a guard pressing twice, or a card left on the reader gives one
check-in. A card is its own source: the button pressed just before does not hide who it was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

MAX_SOURCES = 256
"""Sources remembered at once: a reader fed random cards cannot grow the agent's memory."""


class CheckinGate:
    def __init__(self, min_interval: float, clock: Callable[[], float]) -> None:
        self.min_interval = min_interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()  # the button's and the reader's threads both ask

    def allow(self, source: str) -> bool:
        """True when `source` may check in now (and records it); False within its minimum interval."""
        with self._lock:
            now = self.clock()
            last = self._last.get(source)
            if last is not None and now - last < self.min_interval:
                return False
            self._last[source] = now
            if len(self._last) > MAX_SOURCES:
                oldest = min(self._last, key=self._last.__getitem__)
                del self._last[oldest]
            return True
