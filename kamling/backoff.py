"""Exponential back-off with a cap and optional jitter: the one retry pacing of edge and hub.

Pure: no clock and no sleep here. The caller asks how long to wait and waits its own way
(a virtual clock in tests, a `threading.Timer`, a poll loop), so every user stays testable
in virtual time.

    backoff = Backoff(0.5, 30.0)
    backoff.next()   # 0.5, then 1.0, 2.0, ... 30.0, 30.0
    backoff.reset()  # after a success: the next failure retries promptly again

Jitter spreads retries of many clients (a hundred posts after a hub restart) so that they do
not arrive in lockstep. It only ever shortens a delay, by up to `jitter` of it, so the cap
stays a real upper bound and a delay never drops below `(1 - jitter) * base`.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def delay(attempt: int, initial: float, maximum: float, factor: float = 2.0) -> float:
    """The delay before retry number `attempt` (0 = first retry), without jitter."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    _check(initial, maximum, factor, 0.0)
    # Stop multiplying once the cap is reached: factor ** attempt overflows for long outages.
    value = initial
    for _ in range(attempt):
        if value >= maximum:
            break
        value *= factor
    return min(value, maximum)


class Backoff:
    """Successive delays `initial, initial*factor, ...` capped at `maximum`, optionally jittered.

    `rand` returns a float in [0, 1); inject a fixed one in tests.
    """

    def __init__(
        self,
        initial: float,
        maximum: float,
        factor: float = 2.0,
        *,
        jitter: float = 0.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        _check(initial, maximum, factor, jitter)
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._rand = rand
        self._base = initial

    def next(self) -> float:
        """The delay to wait now; the following call returns the next, longer one."""
        base = self._base
        self._base = min(self.maximum, base * self.factor)
        if self.jitter:
            return base * (1.0 - self.jitter * self._rand())
        return base

    def reset(self) -> None:
        """Back to `initial` (call it after a success)."""
        self._base = self.initial


def _check(initial: float, maximum: float, factor: float, jitter: float) -> None:
    if not 0 < initial <= maximum:
        raise ValueError(f"need 0 < initial <= maximum, got initial={initial}, maximum={maximum}")
    if factor < 1:
        raise ValueError(f"need factor >= 1, got {factor}")
    if not 0 <= jitter <= 1:
        raise ValueError(f"need 0 <= jitter <= 1, got {jitter}")
