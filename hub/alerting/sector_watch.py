"""The sector's spares, watched (issue 13): a broker the hub cannot reach, or a peer hub that says it
is offline, for longer than `after` seconds pages the duty desk once (`broker_lost`, `peer_hub_lost`,
hub-level alerts like `ingest_stuck`); the alert resolves itself when they are back.

A short reconnect (a broker restarting for an update) pages nobody. The hub's own presence is not a
peer. Polled like the ingest watchdog: the states come from the broker sessions (BrokerSet.brokers)
and the hubs' retained presence (BrokerSet.hubs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from hub.alerting.rules import HUB_DEVICE, Alert, AlertKind

log = logging.getLogger(__name__)


class Conditions(Protocol):
    def raise_condition(self, device: str, kind: AlertKind, details: dict[str, Any]) -> Alert: ...
    def clear_condition(self, device: str, kind: AlertKind, detail: str) -> Alert | None: ...


class SectorWatch:
    def __init__(
        self,
        alerts: Conditions,
        brokers: Callable[[], Mapping[str, bool]],
        hubs: Callable[[], Mapping[str, str]],
        own_hub: str,
        after: float,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.alerts = alerts
        self.brokers = brokers  # broker label -> the hub's session to it is up
        self.hubs = hubs  # hub id -> "online" / "offline"
        self.own_hub = own_hub
        self.after = after
        self.interval = interval
        self.clock = clock
        self._since: dict[tuple[AlertKind, str], float] = {}  # (kind, broker or hub) -> first seen gone
        self._raised: dict[AlertKind, tuple[str, ...]] = {}  # what each open alert names
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sector-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watch must outlive whatever it watches
                log.exception("sector watch: check failed")

    def check(self) -> None:
        """One look at the brokers and the peer hubs; raises, updates or clears their alerts."""
        now = self.clock()
        gone_brokers = [label for label, up in self.brokers().items() if not up]
        gone_hubs = [hub for hub, state in self.hubs().items() if hub != self.own_hub and state != "online"]
        self._judge(AlertKind.BROKER_LOST, gone_brokers, now, "broker {} is out of the hub's reach")
        self._judge(AlertKind.PEER_HUB_LOST, gone_hubs, now, "hub {} is offline")

    def _judge(self, kind: AlertKind, gone: list[str], now: float, message: str) -> None:
        for key in [k for k in self._since if k[0] is kind and k[1] not in gone]:
            del self._since[key]  # back
        lasting = []
        for name in gone:
            since = self._since.setdefault((kind, name), now)
            if now - since >= self.after:
                lasting.append(name)
        named = tuple(sorted(lasting))
        if named == self._raised.get(kind, ()):
            return
        if named:
            log.critical("sector watch: %s; paging the duty desk", "; ".join(message.format(n) for n in named))
            self.alerts.raise_condition(
                HUB_DEVICE,
                kind,
                {"reason": kind.value, "gone": list(named), "messages": [message.format(n) for n in named]},
            )
            self._raised[kind] = named
        else:
            log.warning("sector watch: %s back", kind.value)
            self.alerts.clear_condition(HUB_DEVICE, kind, "back")
            self._raised.pop(kind, None)
