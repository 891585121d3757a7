"""Token buckets per device (pure, virtual clock)."""

from __future__ import annotations

import json

from hub.ingest.ratelimit import DeviceRateLimiter, TokenBucket, message_kind
from hub.settings import RateLimitSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, **kw: float) -> DeviceRateLimiter:
    settings = RateLimitSettings(**({"rate": 2, "burst": 5, "panic_rate": 1, "panic_burst": 3} | kw))
    return DeviceRateLimiter(settings, clock=clock)


def test_bucket_allows_burst_then_refills_at_rate() -> None:
    bucket = TokenBucket(rate=2, capacity=3, tokens=3, updated=0)
    assert [bucket.take(0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.5) and not bucket.take(0.5)  # 0.5 s at 2/s = one token
    assert bucket.take(100) and bucket.tokens == 2  # refill is capped at capacity


def test_clock_going_backwards_does_not_mint_tokens() -> None:
    bucket = TokenBucket(rate=1, capacity=1, tokens=0, updated=10)
    assert not bucket.take(5)


def test_flooding_device_is_throttled_and_others_are_not() -> None:
    clock = Clock()
    rl = limiter(clock)
    assert sum(rl.allow("pos-a", "motion") for _ in range(100)) == 5
    assert rl.throttled["pos-a"] == 95
    assert all(rl.allow("pos-b", "motion") for _ in range(5))
    assert "pos-b" not in rl.throttled


def test_panic_has_its_own_bucket_so_a_motion_flood_cannot_starve_it() -> None:
    clock = Clock()
    rl = limiter(clock)
    for _ in range(1000):
        rl.allow("pos-a", "motion")
    assert rl.allow("pos-a", "panic")
    assert not rl.allow("pos-a", None)  # status/health share the non-panic bucket


def test_panic_flood_is_bounded_too() -> None:
    clock = Clock()
    rl = limiter(clock)
    assert sum(rl.allow("pos-a", "panic") for _ in range(50)) == 3
    clock.now += 2
    assert sum(rl.allow("pos-a", "panic") for _ in range(50)) == 2


def test_memory_is_bounded_by_max_devices() -> None:
    clock = Clock()
    rl = limiter(clock, max_devices=10)
    for i in range(100):
        rl.allow(f"pos-{i}", "motion")
        clock.now += 0.001
    assert len(rl._buckets) <= 20


def test_message_kind_only_reads_event_payloads_and_never_raises() -> None:
    assert message_kind("event", json.dumps({"kind": "panic"}).encode()) == "panic"
    assert message_kind("event", b'{"kind": "motion"}') == "motion"
    assert message_kind("status", b'{"kind": "panic"}') is None
    for junk in (b"", b"\xff\xfe", b"[1,2]", b'{"kind": 5}', b"{" * 20000, b'"panic"'):
        assert message_kind("event", junk) is None
