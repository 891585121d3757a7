"""Rate limits for strangers: a sliding window of recent attempts per key, bounded in memory.

Residents' reports are limited per address (IPv4, or the IPv6 /64 one subscriber holds; see
hub.accounts.auth.address_key) and per post (many phones, one post: a flood by a group, or one
person hopping addresses). The answer is how long to wait, for a clear message to the person.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_KEYS = 10_000
"""Keys remembered at most; the least recently used go first (a spray of addresses cannot grow memory)."""


class SlidingLimit:
    """At most `limit` accepted attempts per `window` seconds per key; refused attempts do not count."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may try again (0: now), without recording an attempt."""
        with self._lock:
            return self._wait(key, self.clock())

    def _wait(self, key: str, now: float) -> float:
        hits = self._hits.get(key)
        if hits is None:
            return 0.0
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[0] + self.window - now)

    def hit(self, key: str) -> None:
        """Record one accepted attempt."""
        with self._lock:
            now = self.clock()
            hits = self._hits.pop(key, None) or deque()
            hits.append(now)
            while len(hits) > self.limit:
                hits.popleft()
            self._hits[key] = hits  # most recently used at the end
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)


def check_all(limits: list[tuple[SlidingLimit, str]]) -> float:
    """The longest wait among several limits (0: all allow)."""
    return max((limit.retry_after(key) for limit, key in limits), default=0.0)
