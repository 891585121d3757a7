"""The hub as one process: the service and its web server, started and stopped together.

`kamling/runtime.py` runs it under systemd: READY=1 once both are up, WATCHDOG=1 from the
ingest loop (the loop every panic goes through), STOPPING=1 on the way down.
"""

from __future__ import annotations

from collections.abc import Callable

from hub.service import HubService, tune_process_for_latency
from hub.web.server import WebServer


class HubProcess:
    """HubService plus WebServer, with the ingest loop's tick hook for the watchdog."""

    def __init__(self, service: HubService, web: WebServer) -> None:
        self.service = service
        self.web = web

    @property
    def on_tick(self) -> Callable[[], None] | None:
        return self.service.ingest.on_tick

    @on_tick.setter
    def on_tick(self, hook: Callable[[], None] | None) -> None:
        self.service.ingest.on_tick = hook

    def start(self) -> None:
        self.service.start()
        try:
            self.web.start()
        except BaseException:
            self.service.stop()
            raise
        tune_process_for_latency()

    def stop(self) -> None:
        try:
            self.web.stop()
        finally:
            self.service.stop()
