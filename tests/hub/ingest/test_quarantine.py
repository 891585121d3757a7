"""Flood detection (pure, fake clock) and what the quarantine does without provisioning."""

from __future__ import annotations

from typing import Any

from hub.alerting.rules import AlertKind
from hub.ingest.quarantine import FloodDetector, Quarantine
from hub.settings import HubSettings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def flood(detector: FloodDetector, clock: Clock, seconds: float, per_second: int, device: str = "pos-a") -> list[Any]:
    fired = []
    for _ in range(int(seconds * per_second)):
        clock.now += 1 / per_second
        streak = detector.rejected(device)
        if streak is not None:
            fired.append(streak)
    return fired


def test_fires_once_when_a_device_stays_over_its_limit_long_enough() -> None:
    clock = Clock()
    detector = FloodDetector(after=1.0, min_rejected=500, clock=clock)
    fired = flood(detector, clock, 3.0, 1000)
    assert len(fired) == 1
    assert fired[0].rejected >= 500 and fired[0].last - fired[0].started >= 1.0


def test_short_bursts_and_slow_excess_are_only_throttled() -> None:
    clock = Clock()
    detector = FloodDetector(after=1.0, min_rejected=500, clock=clock)
    assert flood(detector, clock, 0.9, 5000) == []  # intense but short
    clock.now += 1.0  # quiet: the streak ends
    assert flood(detector, clock, 0.9, 5000) == []
    assert flood(detector, clock, 10.0, 3, device="pos-b") == []  # a few too many, for long: too few drops
    assert flood(detector, clock, 10.0, 1, device="pos-c") == []  # gaps longer than a streak allows


def test_a_new_streak_after_a_quiet_gap_fires_again_and_zero_disables() -> None:
    clock = Clock()
    detector = FloodDetector(after=1.0, min_rejected=10, clock=clock)
    assert len(flood(detector, clock, 2.0, 100)) == 1
    clock.now += 5.0
    assert len(flood(detector, clock, 2.0, 100)) == 1
    off = FloodDetector(after=0, min_rejected=1, clock=clock)
    assert flood(off, clock, 5.0, 1000) == []


class Alerts:
    def __init__(self) -> None:
        self.raised: list[tuple[str, AlertKind, dict[str, Any]]] = []

    def raise_condition(self, device: str, kind: AlertKind, details: dict[str, Any]) -> None:
        self.raised.append((device, kind, details))


def settings(tmp_path, **rate_limit: Any) -> HubSettings:  # type: ignore[no-untyped-def]
    return HubSettings(
        mqtt_password="x",
        data_dir=tmp_path,
        provisioning={"broker_dir": str(tmp_path / "none")},
        rate_limit={"quarantine_after": 1.0, "quarantine_min_rejected": 10, **rate_limit},
    )


def flood_for_three_seconds(quarantine: Quarantine, clock: Clock) -> None:
    """300 rejected messages from pos-a, 10 ms apart, then stop the quarantine."""
    try:
        for _ in range(300):
            clock.now += 0.01
            quarantine.rejected("pos-a")
    finally:
        quarantine.stop()


def test_without_provisioning_the_quarantine_only_alerts(tmp_path) -> None:
    alerts, clock = Alerts(), Clock()
    quarantine = Quarantine(settings(tmp_path), alerts, clock=clock)  # type: ignore[arg-type]
    quarantine.start()
    flood_for_three_seconds(quarantine, clock)
    assert [(d, k) for d, k, _ in alerts.raised] == [("pos-a", AlertKind.FLOOD)]
    details = alerts.raised[0][2]
    assert details["blocked"] is False and details["reason"] == "flooding"
    assert quarantine.quarantined["pos-a"].startswith("alert only")


def test_a_failed_block_still_alerts(tmp_path) -> None:
    def block(device: str, reason: str) -> bool:
        raise RuntimeError("reload failed")

    alerts, clock = Alerts(), Clock()
    quarantine = Quarantine(settings(tmp_path), alerts, block=block, clock=clock)  # type: ignore[arg-type]
    quarantine.start()
    flood_for_three_seconds(quarantine, clock)
    details = alerts.raised[0][2]
    assert details["blocked"] is False and "reload failed" in details["messages"][1]
