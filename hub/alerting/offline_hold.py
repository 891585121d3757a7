"""Offline hold: no false "offline" page storm when the broker or the hub restarts (issue 17 item 4).

A broker that stops sends every connected post's Last Will (`offline`, retained) and keeps it; a hub
that (re)connects reads every post's retained status at once. Paged as they come, one broker restart
pages every post offline (1,000 pages for 1,000 posts) while the posts are merely reconnecting.

The rule (pure core `OfflineHoldRules`, thread adapter `OfflineHold`):
  * every `offline` waits `settle` seconds (a broker shutting down sends the wills just before it
    drops the hub, which the hub sees a moment later);
  * while the hub is not connected to the broker, and for `after_connect` seconds after each of its
    (re)connects, an offline is held until that window ends;
  * when the hold ends the post's CURRENT state decides: still offline -> one offline alert (paged as
    before); back online -> nothing.
Only offline alerts pass through here: panics, tamper and every other alert never wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class OfflineHoldRules:
    """Pure: which held posts are due for an offline alert, given the hub's link to the broker."""

    settle: float
    after_connect: float
    connected: bool = False
    connects: int = 0
    connected_at: float | None = None  # monotonic time this hub's current connection was first seen
    pending: dict[str, float] = field(default_factory=dict)  # device -> earliest release (monotonic)

    def link(self, connected: bool, connects: int, now: float) -> None:
        """The hub's broker link as last seen; a new connection (connects changed) opens the hold window."""
        if connects != self.connects:
            self.connects = connects
            self.connected_at = now
        self.connected = connected

    def offline(self, device: str, now: float) -> None:
        self.pending.setdefault(device, now + self.settle)

    def online(self, device: str) -> None:
        self.pending.pop(device, None)

    def holding(self, now: float) -> bool:
        """True while offline statuses are held for the hub's own (re)connect."""
        if not self.connected or self.connected_at is None:
            return True
        return now < self.connected_at + self.after_connect

    def due(self, now: float) -> list[str]:
        """Devices whose hold is over (removed from `pending`); the caller checks each is still offline."""
        if self.holding(now):
            return []
        ready = sorted(device for device, at in self.pending.items() if at <= now)
        for device in ready:
            del self.pending[device]
        return ready


class OfflineHold:
    """Holds offline statuses from ingest and raises the offline alert for posts that stay offline.

    `link()` returns (connected, connects) of the hub's MQTT session; `still_offline(device)` reads the
    registry; `raise_offline(device)` is AlertService.post_offline.
    """

    TICK = 0.5  # seconds between looks at the broker link (the window is tens of seconds)

    def __init__(
        self,
        settle: float,
        after_connect: float,
        link: Callable[[], tuple[bool, int]],
        still_offline: Callable[[str], bool],
        raise_offline: Callable[[str], object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules = OfflineHoldRules(settle, after_connect)
        self.link = link
        self.still_offline = still_offline
        self.raise_offline = raise_offline
        self.clock = clock
        self.released = 0  # offline alerts raised after a hold
        self.dropped = 0  # held offlines that ended with the post back online (pages not sent)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._observe_link()
        self._thread = threading.Thread(target=self._run, name="offline-hold", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def offline(self, device: str) -> None:
        """Ingest saw `device` go offline (called on the ingest thread)."""
        with self._lock:
            self._observe_link()
            self.rules.offline(device, self.clock())
        self._wake.set()

    def online(self, device: str) -> None:
        with self._lock:
            self.rules.online(device)

    def pending(self) -> list[str]:
        with self._lock:
            return sorted(self.rules.pending)

    def _observe_link(self) -> None:
        connected, connects = self.link()
        self.rules.link(connected, connects, self.clock())

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._observe_link()
                ready = self.rules.due(self.clock())
            for device in ready:
                self._release(device)
            self._wake.wait(self.TICK)
            self._wake.clear()

    def _release(self, device: str) -> None:
        try:
            if self.still_offline(device):
                self.released += 1
                self.raise_offline(device)
            else:
                self.dropped += 1
        except Exception:  # one post's failure must not stop the others' alerts
            log.exception("offline hold: could not raise the offline alert of %s", device)
