"""Runs the edge agent or the hub as a systemd service: READY=1, WATCHDOG=1 from its loop, STOPPING=1.

The watchdog ping is sent from the service's own worker loop (its `on_tick` hook: the edge
agent's event loop, the hub's ingest loop), never from a separate timer thread: a timer would
keep pinging while the loop that handles panic presses is stuck, and systemd would never
restart the hung process. When the unit sets no WatchdogSec= (or NOTIFY_SOCKET is unset: a
shell, the tests, Docker) nothing is sent.

    runtime = ServiceRuntime(agent, SdNotifier.from_env(), watchdog_interval())
    runtime.start()          # agent.start(), then READY=1
    ...                      # worker loop: WATCHDOG=1 every interval / 2
    runtime.stop()           # STOPPING=1, then agent.stop()
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Protocol

from kamling.sdnotify import SdNotifier

log = logging.getLogger(__name__)


class TickingService(Protocol):
    """What the runtime needs of a service: a lifecycle and a hook its worker loop calls."""

    on_tick: Callable[[], None] | None

    def start(self) -> None: ...

    def stop(self) -> None: ...


class WatchdogPacer:
    """Pure pacing: is a WATCHDOG=1 due at `now`? (Every `interval / 2` seconds, the first at once.)"""

    def __init__(self, watchdog_s: float | None) -> None:
        self.period = watchdog_s / 2 if watchdog_s else None
        self.last: float | None = None

    def due(self, now: float) -> bool:
        if self.period is None:
            return False
        if self.last is not None and now - self.last < self.period:
            return False
        self.last = now
        return True


class ServiceRuntime:
    """Wraps a service's lifecycle with sd_notify: ready after start, watchdog while its loop runs."""

    def __init__(
        self,
        agent: TickingService,
        notifier: SdNotifier,
        watchdog_s: float | None,
        clock: Callable[[], float] = time.monotonic,
        status: str | None = None,
    ) -> None:
        self.agent = agent
        self.notifier = notifier
        self.watchdog_s = watchdog_s
        self.clock = clock
        self.status = status
        self.pacer = WatchdogPacer(watchdog_s)
        self.pings = 0
        self._chained: Callable[[], None] | None = None

    def start(self) -> None:
        self._chained = self.agent.on_tick
        self.agent.on_tick = self._tick
        self.agent.start()
        self.notifier.ready(self.status)
        if self.watchdog_s:
            log.info(
                "systemd watchdog: %.1f s, pinging every %.1f s from the agent loop",
                self.watchdog_s,
                self.watchdog_s / 2,
            )

    def stop(self) -> None:
        self.notifier.stopping()
        self.agent.stop()
        self.agent.on_tick = self._chained

    def _tick(self) -> None:
        """Runs on the service's worker thread, at least every 2 s while the loop is alive (the edge agent: IDLE_WAIT_S)."""
        if self._chained is not None:
            self._chained()
        if self.pacer.due(self.clock()) and self.notifier.watchdog():
            self.pings += 1


def termination_event() -> threading.Event:
    """An event set on SIGTERM (systemctl stop) or SIGINT (Ctrl-C). Main thread only."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def wait_for_termination() -> None:
    """Block until SIGTERM or SIGINT. Main thread only."""
    termination_event().wait()


def serve(
    runtime: ServiceRuntime,
    wait: Callable[[], None] = wait_for_termination,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Start, block in `wait` until told to stop, then say STOPPING=1 and stop (even on errors)."""
    runtime.start()
    try:
        if on_started is not None:
            on_started()
        wait()
    finally:
        runtime.stop()
