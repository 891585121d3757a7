"""The post's cameras: one CameraWorker per configured camera, its events into the agent.

`CameraManager` is the only bridge between edge.camera (OpenCV, threads) and the agent. A
worker's `emit(kind, data, snapshot)` becomes `raise_event(kind, data, attachment=snapshot)`:
the agent stores the event with its JPEG in the outbox (durable) and publishes the JPEG on
`snapshot/<event_id>` right after the event. `raise_event` only queues, so it is quick and
thread-safe, as the worker requires.

    manager = CameraManager(config.cameras, agent.raise_event)
    manager.start()      # after the MQTT link (events wait in the outbox meanwhile anyway)
    manager.fps()        # {"gate": 4.98, ...} for health telemetry
    manager.stop()       # before the agent: a last "motion end" still reaches the outbox
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo
from typing import Any, Protocol

from edge.camera.config import CameraConfig
from edge.camera.sources import FrameSource
from edge.camera.worker import CameraWorker, WorkerStats, open_source
from kamling.protocol import MAX_SNAPSHOT_BYTES, EventKind

log = logging.getLogger(__name__)

SourceFactory = Callable[[CameraConfig], FrameSource]



def post_clock(zone: str) -> Callable[[], datetime]:
    """The post's local wall clock, whatever zone the Pi itself is set to."""
    tz = ZoneInfo(zone)
    return lambda: datetime.now(tz)

class RaiseEvent(Protocol):
    def __call__(
        self, kind: EventKind, data: dict[str, Any] | None = None, *, test: bool = False, attachment: bytes | None = None
    ) -> None: ...


class CameraManager:
    """Starts and stops one worker per camera and turns their emits into agent events."""

    def __init__(
        self,
        configs: Sequence[CameraConfig],
        raise_event: RaiseEvent,
        source_factory: SourceFactory = open_source,
        worker_options: dict[str, Any] | None = None,
    ) -> None:
        names = [config.name for config in configs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"camera names must be unique: {', '.join(duplicates)}")
        self.configs = list(configs)
        self.raise_event = raise_event
        self.source_factory = source_factory
        self.worker_options = worker_options or {}  # clock/wallclock/sleep for tests
        self.workers: dict[str, CameraWorker] = {}

    def __len__(self) -> int:
        return len(self.configs)

    def start(self) -> None:
        if self.workers:
            raise RuntimeError("cameras already started")
        for config in self.configs:
            try:
                source = self.source_factory(config)
                worker = CameraWorker(config, source, self._emitter(config.name), **self.worker_options)
                worker.start()
            except Exception:
                # One broken camera must not keep the panic button (or the other cameras) down.
                log.exception("camera %s: could not start", config.name)
                continue
            self.workers[config.name] = worker
            log.info("camera %s started (%s)", config.name, config.source_spec.kind)

    def stop(self) -> None:
        workers, self.workers = self.workers, {}
        for worker in workers.values():
            worker.stop()

    def stats(self) -> dict[str, WorkerStats]:
        return {name: worker.stats() for name, worker in self.workers.items()}

    def fps(self) -> dict[str, float | None]:
        """Analysed frames per second per camera; None for a camera that is not connected or not running."""
        result: dict[str, float | None] = {config.name: None for config in self.configs}
        for name, stats in self.stats().items():
            result[name] = stats.fps_analysed if stats.connected else None
        return result

    def _emitter(self, name: str) -> Callable[[EventKind, dict[str, Any], bytes | None], None]:
        def emit(kind: EventKind, data: dict[str, Any], snapshot: bytes | None) -> None:
            if snapshot is not None and len(snapshot) > MAX_SNAPSHOT_BYTES:
                # The hub would reject it; keep the event, drop the picture.
                log.warning("camera %s: snapshot of %d bytes too large, sent without it", name, len(snapshot))
                snapshot = None
            self.raise_event(kind, dict(data), attachment=snapshot)

        return emit
