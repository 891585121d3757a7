"""The post's cameras: one CameraWorker per configured camera, its events into the agent.

`CameraManager` is the only bridge between edge.camera (OpenCV, threads) and the agent. A
worker's `emit(kind, data, snapshot)` becomes `raise_event(kind, data, attachment=snapshot)`:
the agent stores the event with its JPEG in the outbox (durable) and publishes the JPEG on
`snapshot/<event_id>` right after the event. `raise_event` only queues, so it is quick and
thread-safe, as the worker requires.

    manager = CameraManager(config.cameras, agent.raise_event)
    manager.start()      # after the MQTT link (events wait in the outbox meanwhile anyway)
    manager.fps()        # {"gate": 4.98, ...} for health telemetry
    manager.capture_evidence(event_id)  # pictures from around a panic/tamper, sent after it
    manager.stop()       # before the agent: a last "motion end" still reaches the outbox
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.camera.config import CameraConfig
from edge.camera.sources import FrameSource, single_threaded_opencv
from edge.camera.worker import CameraWorker, WorkerStats, open_source
from edge.core import RaiseEvent
from kamling.protocol import MAX_SNAPSHOT_BYTES, EventKind

log = logging.getLogger(__name__)

SourceFactory = Callable[[CameraConfig], FrameSource]

WARMUP_SECONDS = 15.0
"""A camera that has not delivered frames yet is left out of health telemetry this long after start:
an RTSP camera takes seconds to connect, and the hub must not call a camera that is still starting
"not delivering frames" (the demo's synthetic camera was reported stalled in its first report)."""

FRESH_SECONDS = 5.0
"""A picture taken on command (edge/commands.py) is of a frame at most this old: never a stalled camera's last one."""


def post_clock(zone: str) -> Callable[[], datetime]:
    """The post's local wall clock, whatever zone the Pi itself is set to."""
    tz = ZoneInfo(zone)
    return lambda: datetime.now(tz)


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
        self.monotonic: Callable[[], float] = self.worker_options.get("clock", time.monotonic)
        self._started_at: float | None = None

    def __len__(self) -> int:
        return len(self.configs)

    def start(self) -> None:
        if self.workers:
            raise RuntimeError("cameras already started")
        self._started_at = self.monotonic()
        single_threaded_opencv()
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

    def capture_evidence(self, event_id: str) -> None:
        """Every camera sends frames from around now (before, at and after) for event `event_id`.

        Quick and thread-safe: each worker only notes the request; its frames come later as camera
        events with state "evidence" (edge/camera/evidence.py), queued after `event_id` itself.
        """
        at = self.monotonic()
        for worker in list(self.workers.values()):
            worker.request_evidence(event_id, at)

    def stats(self) -> dict[str, WorkerStats]:
        return {name: worker.stats() for name, worker in self.workers.items()}

    def fps(self) -> dict[str, float | None]:
        """Analysed frames per second per camera; None for a camera that is not connected or not running.

        During the warm-up after start, a camera with no measurement and no failed connection yet is
        left out rather than reported as None or 0 (the hub would raise a "camera stalled" warning for a starting camera).
        """
        warming = self._started_at is not None and self.monotonic() - self._started_at < WARMUP_SECONDS
        result: dict[str, float | None] = {config.name: None for config in self.configs}
        for name, stats in self.stats().items():
            fps = stats.fps_analysed if stats.connected else None
            if warming and not fps and stats.connect_failures == 0:
                del result[name]  # still starting: no frames yet, but no failed connection either
            else:
                result[name] = fps
        return result

    def snapshot(self, max_age: float = FRESH_SECONDS) -> tuple[str, bytes] | None:
        """(camera, JPEG) of the first camera, in configured order, with a frame at most `max_age` s old."""
        for config in self.configs:
            worker = self.workers.get(config.name)
            jpeg = worker.snapshot(max_age) if worker is not None else None
            if jpeg is not None and len(jpeg) <= MAX_SNAPSHOT_BYTES:
                return config.name, jpeg
        return None

    def _emitter(self, name: str) -> Callable[[EventKind, dict[str, Any], bytes | None], None]:
        def emit(kind: EventKind, data: dict[str, Any], snapshot: bytes | None) -> None:
            if snapshot is not None and len(snapshot) > MAX_SNAPSHOT_BYTES:
                # The hub would reject it; keep the event, drop the picture.
                log.warning("camera %s: snapshot of %d bytes too large, sent without it", name, len(snapshot))
                snapshot = None
            self.raise_event(kind, dict(data), attachment=snapshot)

        return emit
