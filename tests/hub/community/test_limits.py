"""Sliding-window rate limits for strangers' reports."""

from __future__ import annotations

from hub.community.limits import SlidingLimit
from tests.support import VirtualClock


def test_a_key_waits_until_its_oldest_attempt_leaves_the_window() -> None:
    clock = VirtualClock()
    limit = SlidingLimit(3, 600, clock=clock)
    for _ in range(3):
        assert limit.retry_after("10.0.0.1") == 0
        limit.hit("10.0.0.1")
        clock.now += 10
    assert limit.retry_after("10.0.0.1") == 570  # the first was at 0
    assert limit.retry_after("10.0.0.2") == 0  # others are not held up
    clock.now = 600
    assert limit.retry_after("10.0.0.1") == 0


def test_memory_stays_bounded_under_a_spray_of_keys() -> None:
    limit = SlidingLimit(1, 600, clock=VirtualClock(), max_keys=100)
    for n in range(10_000):
        limit.hit(f"key-{n}")
    assert len(limit._hits) == 100
    assert limit.retry_after("key-9999") > 0 and limit.retry_after("key-0") == 0
