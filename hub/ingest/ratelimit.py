"""Per-device rate limiting for ingest: token buckets with an injectable clock (pure logic).

A broken or hostile device must not flood the hub. Each device has two buckets:

* `panic`: panic events only. Generous, so a post whose camera floods motion events can
  still raise a panic, and a guard who presses repeatedly is never throttled in practice.
* `other`: every other message (motion, tamper, status, health, snapshots). A snapshot sent in
  parts (issue 17 item 3) costs one message for its first part and PART_COST for each later part,
  so a picture costs about what it did whole, and a post sending endless parts still runs dry.
* `alarm`: the copies of panic and tamper events on the `alarm` channel (the hub's alarm session),
  sized like `panic`: a post flooding one channel does not spend the other's budget.

Buckets are per device, so one post's flood never costs another post anything but the
CPU to drop its messages. Dropped messages are not acked: the edge keeps events in its
outbox and resends them later, so throttling delays but never loses a real event.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.settings import RateLimitSettings
from kamling.protocol import MAX_EVENT_BYTES

PANIC = "panic"
OTHER = "other"
ALARM = "alarm"  # the `alarm` channel's copies of panic/tamper events: a bucket of their own, sized like `panic`
PART_COST = 0.125
"""Tokens a snapshot part after the first costs (a 30 KB picture in 2 KB parts: under 3 messages)."""


def message_cost(topic_name: str) -> float:
    """PART_COST for a later part of a snapshot (`.../snapshot/<id>.<part>.<parts>`, part > 1), else 1."""
    suffix = topic_name.rpartition("/")[2]
    if "/snapshot/" not in topic_name or suffix.count(".") != 2:
        return 1.0
    return 1.0 if suffix.split(".")[1] == "1" else PART_COST


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled at `rate` per second; `take` spends one if available."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def take(self, now: float, cost: float = 1.0) -> bool:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


class DeviceRateLimiter:
    """Thread-safe: `allow(device, kind)` says whether to process one more message."""

    def __init__(self, settings: RateLimitSettings | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or RateLimitSettings()
        self.clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()
        self.throttled: dict[str, int] = {}

    @staticmethod
    def bucket_for(kind: str | None) -> str:
        return PANIC if kind == PANIC else ALARM if kind == ALARM else OTHER

    def allow(self, device: str, kind: str | None = None, cost: float = 1.0) -> bool:
        """One message of `kind` (an event kind, or None for status/health/snapshot) from `device`."""
        name = self.bucket_for(kind)
        s = self.settings
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get((device, name))
            if bucket is None:
                if len(self._buckets) >= 2 * s.max_devices:
                    self._evict_full(now)
                rate, burst = (s.panic_rate, s.panic_burst) if name in (PANIC, ALARM) else (s.rate, s.burst)
                bucket = self._buckets[(device, name)] = TokenBucket(rate, burst, burst, now)
            ok = bucket.take(now, cost)
            if not ok:
                self.throttled[device] = self.throttled.get(device, 0) + 1
            return ok

    def _evict_full(self, now: float) -> None:
        """Forget buckets that have refilled completely (they carry no state worth keeping)."""
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * bucket.rate >= bucket.capacity:
                del self._buckets[key]
        if len(self._buckets) >= 2 * self.settings.max_devices:  # still full: drop the oldest
            oldest = min(self._buckets, key=lambda k: self._buckets[k].updated)
            del self._buckets[oldest]


def message_kind(channel: str, payload: bytes) -> str | None:
    """The event kind of an `event` message (for picking its bucket), `alarm` for the alarm channel,
    else None. Never raises."""
    if channel == ALARM:
        return ALARM
    if channel != "event" or len(payload) > MAX_EVENT_BYTES:
        return None
    try:
        raw = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    kind = raw.get("kind") if isinstance(raw, dict) else None
    return kind if isinstance(kind, str) else None
