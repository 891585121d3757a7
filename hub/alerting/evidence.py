"""Which camera snapshots are alert evidence, for the snapshot store's eviction (issue 18).

The snapshot store (hub/storage/snapshots.py) sits below alerting and must not import it;
the composition root hands it `AlertEvidence.hold` as its `protection`. An index
(device, event id) -> alert ids is kept up to date by an AlertService listener, so a lookup
during eviction costs a dict access per id, not a walk over every alert.

A snapshot referenced by an open alert, or by one closed less than `keep` ago, is pinned
(never evicted); after that it is evicted last among its post's snapshots.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from hub.alerting.rules import Alert
from hub.storage.snapshots import Hold
from kamling.protocol import utc_now


class AlertSource(Protocol):
    def get(self, alert_id: str) -> Alert | None: ...
    def all(self) -> list[Alert]: ...


class AlertEvidence:
    """The alert-side answer to "may this snapshot go?"; register `observe` as an AlertService listener."""

    def __init__(self, alerts: AlertSource, keep: timedelta, clock: Callable[[], datetime] = utc_now) -> None:
        self.alerts = alerts
        self.keep = keep
        self.clock = clock
        self._refs: dict[tuple[str, str], set[str]] = {}  # (device, event id) -> ids of alerts listing it
        self._lock = threading.Lock()

    def load(self, alerts: Iterable[Alert] | None = None) -> None:
        """Index the alerts already known (call after AlertService.start).

        It merges, so a listener call racing it is kept.
        """
        for alert in self.alerts.all() if alerts is None else alerts:
            self.observe(alert)

    def observe(self, alert: Alert) -> None:
        """AlertService listener: an alert's event ids only ever grow, so adding is enough."""
        with self._lock:
            for event_id in alert.event_ids:
                self._refs.setdefault((alert.device, event_id), set()).add(alert.id)

    def hold(self, device: str, event_ids: Sequence[str]) -> Mapping[str, Hold]:
        """The hold of each of `device`'s `event_ids` an alert references (the store's `protection`)."""
        with self._lock:  # never call into AlertService under this lock: its listeners take it
            referenced = {
                event_id: tuple(alert_ids)
                for event_id in event_ids
                if (alert_ids := self._refs.get((device, event_id)))
            }
        now = self.clock()
        return {
            event_id: max(self._hold_of(self.alerts.get(alert_id), now) for alert_id in alert_ids)
            for event_id, alert_ids in referenced.items()
        }

    def _hold_of(self, alert: Alert | None, now: datetime) -> Hold:
        if alert is None:
            return Hold.LAST  # indexed but gone from the service: still evidence, just not pinned
        if alert.is_open:
            return Hold.PINNED
        closed_at = alert.resolved_at or alert.updated_at
        return Hold.PINNED if now - closed_at < self.keep else Hold.LAST
