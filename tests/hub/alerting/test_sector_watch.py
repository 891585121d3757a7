"""The sector's spares watched (issue 13): a broker out of reach or a peer hub offline for a while pages
the duty desk once, a short blip pages nobody, and the alert clears when they are back."""

from __future__ import annotations

from typing import Any

from hub.alerting.rules import HUB_DEVICE, AlertKind
from hub.alerting.sector_watch import SectorWatch


class FakeAlerts:
    def __init__(self) -> None:
        self.calls: list[tuple[str, AlertKind, Any]] = []

    def raise_condition(self, device: str, kind: AlertKind, details: dict[str, Any]) -> Any:
        self.calls.append(("raise", kind, details["gone"]))
        assert device == HUB_DEVICE

    def clear_condition(self, device: str, kind: AlertKind, detail: str) -> Any:
        self.calls.append(("clear", kind, None))
        assert device == HUB_DEVICE


def watch(brokers: dict[str, bool], hubs: dict[str, str]) -> tuple[SectorWatch, FakeAlerts, list[float]]:
    alerts, now = FakeAlerts(), [0.0]
    return SectorWatch(alerts, lambda: brokers, lambda: hubs, "hub-a", after=30, clock=lambda: now[0]), alerts, now


def test_a_broker_gone_for_longer_than_the_grace_pages_once_and_clears_when_back() -> None:
    brokers = {"a:1883": True, "b:1883": True}
    sector, alerts, now = watch(brokers, {})
    brokers["b:1883"] = False
    sector.check()
    now[0] = 20.0
    brokers["b:1883"] = True  # a restart for an update: back within the grace
    sector.check()
    brokers["b:1883"] = False
    now[0] = 25.0
    sector.check()
    now[0] = 54.0
    sector.check()
    assert alerts.calls == []  # 29 s gone this time: still nothing
    now[0] = 56.0
    sector.check()
    sector.check()
    assert alerts.calls == [("raise", AlertKind.BROKER_LOST, ["b:1883"])]
    brokers["a:1883"] = False
    sector.check()
    now[0] = 90.0
    sector.check()  # a second broker gone as well: the open alert names both
    assert alerts.calls[-1] == ("raise", AlertKind.BROKER_LOST, ["a:1883", "b:1883"])
    brokers.update({"a:1883": True, "b:1883": True})
    sector.check()
    assert alerts.calls[-1] == ("clear", AlertKind.BROKER_LOST, None)


def test_a_peer_hub_offline_pages_and_our_own_presence_is_not_a_peer() -> None:
    hubs = {"hub-a": "offline", "hub-b": "online"}  # hub-a is this hub (a stale retained status of its own)
    sector, alerts, now = watch({"a:1883": True}, hubs)
    sector.check()
    hubs["hub-b"] = "offline"
    sector.check()
    now[0] = 31.0
    sector.check()
    assert alerts.calls == [("raise", AlertKind.PEER_HUB_LOST, ["hub-b"])]
    hubs["hub-b"] = "online"
    sector.check()
    assert alerts.calls[-1] == ("clear", AlertKind.PEER_HUB_LOST, None)
