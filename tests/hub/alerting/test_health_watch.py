"""HealthWatch: one warning alert per post, opened on a new warning, cleared when all is well."""

from __future__ import annotations

from typing import Any

from hub.alerting.health_watch import HealthWatch
from hub.alerting.rules import AlertKind
from hub.settings import HealthThresholds


class FakeAlerts:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def raise_condition(self, device: str, kind: AlertKind, details: dict[str, Any]) -> Any:
        self.calls.append(("raise", device, details["warnings"]))

    def clear_condition(self, device: str, kind: AlertKind, detail: str) -> Any:
        self.calls.append(("clear", device, detail))


def test_raise_once_per_new_warning_and_clear_when_well() -> None:
    alerts = FakeAlerts()
    watch = HealthWatch(HealthThresholds(), alerts)
    hot = {"cpu_temp_c": 85.0}
    watch.observe("pos-a", {"cpu_temp_c": 50.0})
    watch.observe("pos-a", hot)
    watch.observe("pos-a", hot)  # same warning again: nothing new
    watch.observe("pos-a", {"cpu_temp_c": 85.0, "throttle": {"under_voltage": True}})  # a new one joins
    watch.observe("pos-b", {"cpu_temp_c": 40.0})
    watch.observe("pos-a", {"cpu_temp_c": 50.0})
    assert alerts.calls == [
        ("raise", "pos-a", ["overheating"]),
        ("raise", "pos-a", ["overheating", "under_voltage"]),
        ("clear", "pos-a", "health back to normal"),
    ]
    assert watch.standing("pos-a") == frozenset()
