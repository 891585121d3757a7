"""The shared exponential back-off: doubling, cap, reset, jitter bounds, bad arguments."""

from __future__ import annotations

import pytest

from kamling.backoff import Backoff, delay


def test_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.5, 4.0)
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next() == 0.5


def test_cap_that_is_not_a_power_of_the_factor() -> None:
    backoff = Backoff(5.0, 300.0)
    assert [backoff.next() for _ in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]


def test_other_factor() -> None:
    backoff = Backoff(1.0, 100.0, factor=3.0)
    assert [backoff.next() for _ in range(5)] == [1, 3, 9, 27, 81]


def test_factor_one_is_a_constant_delay() -> None:
    backoff = Backoff(2.0, 2.0, factor=1.0)
    assert [backoff.next() for _ in range(3)] == [2.0, 2.0, 2.0]


def test_pure_delay_matches_the_stateful_one() -> None:
    backoff = Backoff(0.5, 30.0)
    assert [delay(n, 0.5, 30.0) for n in range(10)] == [backoff.next() for _ in range(10)]


def test_pure_delay_of_a_very_late_attempt_is_the_cap() -> None:
    assert delay(10_000, 0.5, 30.0) == 30.0  # no float overflow after a long outage


def test_jitter_only_shortens_within_its_fraction() -> None:
    draws = iter([0.0, 0.75, 0.5, 0.25])
    backoff = Backoff(1.0, 4.0, jitter=0.5, rand=lambda: next(draws))
    delays = [backoff.next() for _ in range(4)]
    assert delays[0] == 1.0  # rand 0: the full delay
    assert delays[1] == pytest.approx(1.25)  # 2.0 shortened by three eighths
    assert delays[2] == pytest.approx(3.0)  # 4.0 shortened by a quarter
    assert delays[3] == pytest.approx(3.5)  # capped base 4.0, shortened by an eighth


def test_jitter_never_exceeds_the_cap() -> None:
    backoff = Backoff(1.0, 8.0, jitter=1.0, rand=lambda: 0.0)
    assert max(backoff.next() for _ in range(20)) == 8.0


@pytest.mark.parametrize(
    ("initial", "maximum", "factor", "jitter"),
    [(0.0, 1.0, 2.0, 0.0), (2.0, 1.0, 2.0, 0.0), (1.0, 2.0, 0.5, 0.0), (1.0, 2.0, 2.0, 1.5), (1.0, 2.0, 2.0, -0.1)],
)
def test_rejects_nonsense(initial: float, maximum: float, factor: float, jitter: float) -> None:
    with pytest.raises(ValueError):
        Backoff(initial, maximum, factor, jitter=jitter)


def test_rejects_a_negative_attempt() -> None:
    with pytest.raises(ValueError):
        delay(-1, 1.0, 2.0)
