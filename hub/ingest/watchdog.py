"""Ingest watchdog: pages the duty desk when ingest stops settling messages (issue 18).

A message not PUBACKed holds a slot of the broker's in-flight window to the hub; when ingest
stops settling (a hung handler, a disk that refuses every commit), no post's event reaches the
hub, panics included. This thread looks at the oldest unsettled message every `interval`
seconds. When it has waited longer than `stuck_after`, the hub raises one `ingest_stuck` alert
(critical, on the pseudo-device `_hub`, paged to the duty desk); when ingest flows again the alert
is resolved as restored, so the next episode pages again. The ingest worker or log writer
thread having died counts as stuck too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from hub.alerting.rules import HUB_DEVICE, AlertKind
from hub.alerting.service import AlertService

log = logging.getLogger(__name__)


class IngestState(Protocol):
    def oldest_unacked_age(self, now: float | None = None) -> float: ...
    def alive(self) -> bool: ...


class IngestWatchdog:
    def __init__(
        self,
        ingest: IngestState,
        alerts: AlertService,
        stuck_after: float = 10.0,
        interval: float = 1.0,
        queue_depth: Callable[[], int] | None = None,
    ) -> None:
        self.ingest = ingest
        self.alerts = alerts
        self.stuck_after = stuck_after
        self.interval = interval
        self.queue_depth = queue_depth
        self.episodes = 0  # stuck episodes seen by this run
        self.stuck = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # an episode the last run left open is cleared by the first look that finds ingest flowing
        self.stuck = self.alerts.open_for(HUB_DEVICE, AlertKind.INGEST_STUCK) is not None
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ingest-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watchdog must outlive whatever it watches
                log.exception("ingest watchdog: check failed")

    def check(self) -> bool:
        """One look; returns whether ingest is stuck now (raises or clears the alert on a change)."""
        age = self.ingest.oldest_unacked_age()
        alive = self.ingest.alive()
        stuck = age > self.stuck_after or not alive
        if stuck and not self.stuck:
            self.stuck = True
            self.episodes += 1
            depth = self.queue_depth() if self.queue_depth is not None else None
            what = "the ingest worker or the log writer stopped" if not alive else f"oldest message waiting {age:.0f} s"
            log.critical("ingest watchdog: ingest is stuck (%s); paging the duty desk", what)
            self.alerts.raise_condition(
                HUB_DEVICE,
                AlertKind.INGEST_STUCK,
                {
                    "reason": "ingest_stuck",
                    "oldest_unacked_seconds": round(age, 1),
                    "queue_depth": depth,
                    "workers_alive": alive,
                    "messages": [
                        f"hub ingest is stuck: {what}; posts' events (panics included) are not getting through"
                    ],
                },
            )
        elif not stuck and self.stuck:
            self.stuck = False
            log.warning("ingest watchdog: ingest flows again")
            self.alerts.clear_condition(HUB_DEVICE, AlertKind.INGEST_STUCK, "ingest flows again")
        return stuck
