"""One thread per camera: read frames, analyse at most `detect_fps`, emit events.

The worker wires the pure parts (MotionDetector, EpisodeTracker, CameraHealthMonitor,
schedule) to a FrameSource and to `emit(kind, data, snapshot)`; it does no MQTT itself. The
caller's emit must be quick and thread-safe (it runs on the camera thread), typically an
append to the edge outbox.

Events emitted (data always carries "camera" and "state"/"phase"):

* motion start: kind motion, {"phase": "start", "episode": id, "area", "boxes", "armed",
  "severity", "profile"} + snapshot (best confirming frame, boxes drawn). Severity is
  "warning" in armed hours; outside them "low" when outside_armed=log_low, and nothing at
  all (neither start nor end) when outside_armed=ignore. The armed decision is taken at the
  start and kept for the end.
* motion end: kind motion, {"phase": "end", "episode", "duration_s", "peak_area", "frames",
  "reason", "armed", "severity"} + snapshot of the peak frame.
* camera lost/restored: kind camera, {"state": "lost"|"restored", "reason": "lost",
  "duration_s", "severity"}.
* tamper: kind tamper, {"state": "detected"|"restored", "reason": "frozen"|"covered",
  "duration_s", "severity"} (+ snapshot of the current picture on "detected").
* evidence (issue 15, after `request_evidence`): kind camera, {"state": "evidence",
  "evidence_for": event id, "offset_s", "severity": "info"} + a small JPEG from the ring
  (edge/camera/evidence.py; a camera's own JPEG kept there is shrunk when sent), one event per
  offset, each as soon as its moment has passed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from edge.camera.config import CameraConfig
from edge.camera.episodes import EpisodeEvent, EpisodeTracker
from edge.camera.evidence import EvidencePlanner, EvidenceShot, Frame, FrameRing, raw_frame_budget
from edge.camera.health import CameraHealthMonitor, HealthChange
from edge.camera.motion import Box, MotionDetector, MotionResult, MotionSettings
from edge.camera.picture import Picture, colour_scale_for, decode_colour
from edge.camera.schedule import Sensitivity, is_armed, sensitivity_at
from edge.camera.snapshot import SnapshotError, encode_snapshot, snapshot_from_config
from edge.camera.sources import (
    Clock,
    FileSource,
    FrameSource,
    ReconnectingSource,
    Sleep,
    StreamSource,
    SyntheticSource,
    V4l2Source,
)
from edge.camera.synthetic import make_clip
from kamling.protocol import EVIDENCE_STATE, EventKind, new_event_id

log = logging.getLogger(__name__)

Emit = Callable[[EventKind, dict[str, Any], bytes | None], None]
"""emit(kind, data, snapshot_jpeg_or_None): called on the camera thread."""

WallClock = Callable[[], datetime]

SCHEDULE_CHECK_S = 10.0
HEALTH_CHECK_S = 0.5
"""The frozen and covered checks look at an analysed frame at most this often: their conditions last
seconds (HealthConfig: 10-20 s), and checking every frame cost 0.1 ms of each (issue 17 item 5)."""
_TIMING_WINDOW = 100


def local_now() -> datetime:
    return datetime.now().astimezone()


def open_source(
    config: CameraConfig, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep, realtime: bool = True
) -> FrameSource:
    """The FrameSource for `config.source` (not yet opened)."""
    spec = config.source_spec
    if spec.kind == "url":
        return StreamSource(spec.target)
    if spec.kind == "v4l2":
        return V4l2Source(spec.target)
    if spec.kind == "file":
        return FileSource(spec.target, loop=True, realtime=realtime, clock=clock, sleep=sleep)
    width, height = spec.size or (640, 480)
    return SyntheticSource(
        make_clip(spec.target, width, height, fps=config.detect_fps * 2), realtime=realtime, clock=clock, sleep=sleep
    )


@dataclass(frozen=True)
class WorkerStats:
    """Telemetry for the health channel. Times are means over the last 100 analysed frames.

    decode_ms is the time of `retrieve_picture()` for an analysed frame (decode and/or colour
    conversion, depending on the backend; an MJPEG source decodes to grey at reduced size; see
    edge.camera.sources); detect_ms is the motion detector alone.
    """

    frames_read: int
    frames_analysed: int
    fps_analysed: float
    decode_ms: float
    detect_ms: float
    connected: bool
    reconnect_attempts: int
    connect_failures: int
    episodes: int
    evidence_frames: int = 0  # frames in the evidence ring now
    evidence_bytes: int = 0  # and their bytes (bounded by evidence.max_bytes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CameraWorker:
    """Runs one camera on its own thread between `start()` and `stop()`."""

    def __init__(
        self,
        config: CameraConfig,
        source: FrameSource,
        emit: Emit,
        clock: Clock = time.monotonic,
        wallclock: WallClock = local_now,
        sleep: Sleep | None = None,
    ) -> None:
        self._config = config
        self._source = source
        self._emit = emit
        self._clock = clock
        self._wallclock = wallclock
        self._sleep = sleep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._frames_read = 0
        self._frames_analysed = 0
        self._episodes = 0
        self._decode_ms: deque[float] = deque(maxlen=_TIMING_WINDOW)
        self._detect_ms: deque[float] = deque(maxlen=_TIMING_WINDOW)
        self._analysed_at: deque[float] = deque(maxlen=_TIMING_WINDOW)
        self._reader: ReconnectingSource | None = None
        self._latest: tuple[float, Picture] | None = None  # (clock, picture): the last analysed frame
        evidence = config.evidence
        self._ring = FrameRing(max(1, round(evidence.history_s / evidence.interval_s)), evidence.max_bytes)
        self._planner = EvidencePlanner(self._ring, evidence.interval_s, evidence.offsets_s)
        self._evidence_asked: list[tuple[str, float]] = []  # (event id, press time) from other threads
        self._ring_added_at = float("-inf")
        self._raw_budget = raw_frame_budget(
            evidence.max_bytes, evidence.interval_s, evidence.offsets_s, self._planner.tolerance
        )
        self._ring_raw = False  # the last ring frame was the camera's own JPEG: no colour decode for the next

    # lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("camera worker already started")
        self._stop.clear()
        sleep = self._sleep if self._sleep is not None else self._interruptible_sleep
        self._reader = ReconnectingSource(self._source, clock=self._clock, sleep=sleep)
        self._thread = threading.Thread(target=self._run, name=f"camera-{self._config.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("camera %s: worker thread did not stop within %.0f s", self._config.name, timeout)

    def request_evidence(self, event_id: str, at: float) -> None:
        """Frames around `at` (this worker's clock) for event `event_id`; any thread, returns at once."""
        if self._config.evidence.enabled:
            with self._lock:
                self._evidence_asked.append((event_id, at))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> WorkerStats:
        with self._lock:
            analysed = list(self._analysed_at)
            decode = list(self._decode_ms)
            detect = list(self._detect_ms)
            frames_read, frames_analysed, episodes = self._frames_read, self._frames_analysed, self._episodes
        span = analysed[-1] - analysed[0] if len(analysed) > 1 else 0.0
        reader = self._reader
        return WorkerStats(
            frames_read=frames_read,
            frames_analysed=frames_analysed,
            fps_analysed=round((len(analysed) - 1) / span, 2) if span > 0 else 0.0,
            decode_ms=round(sum(decode) / len(decode), 3) if decode else 0.0,
            detect_ms=round(sum(detect) / len(detect), 3) if detect else 0.0,
            connected=reader.connected if reader else False,
            reconnect_attempts=reader.attempts if reader else 0,
            connect_failures=reader.failures if reader else 0,
            episodes=episodes,
            evidence_frames=len(self._ring),
            evidence_bytes=self._ring.bytes_held,
        )

    def snapshot(self, max_age: float) -> bytes | None:
        """A JPEG of the last analysed frame (no boxes), if it is at most `max_age` seconds old (issue 15)."""
        with self._lock:
            latest = self._latest
        if latest is None or self._clock() - latest[0] > max_age:
            return None
        return self._snapshot(latest[1], ())

    # the loop ------------------------------------------------------------------------------

    def _interruptible_sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _run(self) -> None:
        config = self._config
        reader = self._reader
        assert reader is not None
        detector = MotionDetector(MotionSettings.from_config(config))
        tracker: EpisodeTracker[Picture] = EpisodeTracker(config.cooldown_s, config.max_episode_s)
        health = CameraHealthMonitor(config.health)
        interval = 1.0 / config.detect_fps
        slack = interval / 4
        next_due = float("-inf")
        sensitivity: Sensitivity | None = None
        next_schedule_check = float("-inf")
        episode: _Episode | None = None
        was_connected = False
        health_checked = float("-inf")

        reader.open()
        try:
            while not self._stop.is_set():
                now = self._clock()
                if now >= next_schedule_check:
                    next_schedule_check = now + SCHEDULE_CHECK_S
                    current = sensitivity_at(config, self._wallclock())
                    if current != sensitivity:
                        sensitivity = current
                        detector.set_sensitivity(current.threshold, current.min_area)
                if not reader.grab():
                    if was_connected:
                        detector.reset()  # a new stream may show a different picture
                        was_connected = False
                    now = self._clock()
                    self._health(health.update(now, None), None)
                    episode = self._episodes_out(tracker.tick(now), episode, sensitivity)
                    self._evidence(now, None)
                    continue
                was_connected = True
                now = self._clock()  # grab() may have waited for the frame
                with self._lock:
                    self._frames_read += 1
                if now < next_due - slack:
                    continue  # skipped: grabbed, never retrieved (no conversion, no analysis)
                # Due times advance by exactly one interval, so the long-run rate never exceeds
                # detect_fps; the slack absorbs frame-arrival jitter; after a stall no burst.
                next_due = (
                    now + interval if next_due == float("-inf") else max(next_due + interval, now + interval - slack)
                )

                started = time.perf_counter()
                colour_width = config.evidence.width if not self._ring_raw and self._ring_wants(now) else None
                picture = reader.retrieve_picture(detector.settings.detect_height, colour_width)
                decoded = time.perf_counter()
                if picture is None:
                    self._health(health.update(now, None), None)
                    self._evidence(now, None)
                    continue
                result = self._detect(detector, picture)
                finished = time.perf_counter()
                with self._lock:
                    self._latest = (now, picture)
                    self._frames_analysed += 1
                    self._analysed_at.append(now)
                    self._decode_ms.append((decoded - started) * 1000)
                    self._detect_ms.append((finished - decoded) * 1000)

                if now - health_checked >= HEALTH_CHECK_S:
                    health_checked = now
                    self._health(health.update(now, picture.analysis), picture)
                if result is not None:
                    episode = self._episodes_out(tracker.update(result, now, picture), episode, sensitivity)
                self._evidence(now, picture)
        except Exception:
            log.exception("camera %s: worker crashed", config.name)
            raise
        finally:
            try:
                self._episodes_out(tracker.finish(), episode, sensitivity)
            finally:
                reader.close()

    def _detect(self, detector: MotionDetector, picture: Picture) -> MotionResult | None:
        try:
            return detector.process(picture.analysis, picture.size)
        except Exception:
            log.exception("camera %s: motion detection failed on a %s frame", self._config.name, picture.analysis.shape)
            return None

    def _evidence(self, now: float, picture: Picture | None) -> None:
        """Keep the ring filled (one small JPEG per interval) and send the frames a press asked for."""
        config = self._config.evidence
        if not config.enabled:
            return
        if self._evidence_asked:  # a racy read is fine: a request seen late is taken on the next frame
            with self._lock:
                asked, self._evidence_asked = self._evidence_asked, []
            for event_id, at in asked:
                self._planner.request(event_id, at)
        if picture is not None and self._ring_wants(now):
            self._keep(now, picture)
        if not self._planner.pending:
            return
        for shot in self._planner.due(now):
            jpeg = self._shot_jpeg(shot)
            if jpeg is None:
                continue
            data: dict[str, Any] = {
                "camera": self._config.name,
                "state": EVIDENCE_STATE,
                "evidence_for": shot.event_id,
                "offset_s": shot.offset_s,
                "severity": "info",
            }
            self._send(EventKind.CAMERA, data, jpeg)

    def _keep(self, now: float, picture: Picture) -> None:
        """Put `picture` into the ring: the camera's own JPEG as it is when it fits, else a small JPEG."""
        config = self._config.evidence
        raw = picture.jpeg
        if raw is not None and raw.size <= self._raw_budget:
            self._ring.add(Frame(now, raw.tobytes(), picture.size[0]))
            self._ring_raw = True
            self._ring_added_at = now
            return
        self._ring_raw = False
        try:  # a JPEG source decodes colour only here, at the smallest scale at least `width` wide
            frame = picture.colour(config.width)
            jpeg = encode_snapshot(frame, quality=config.jpeg_quality, max_width=config.width, draw_boxes=False)
        except SnapshotError:
            log.exception("camera %s: evidence frame failed", self._config.name)
        else:
            self._ring.add(Frame(now, jpeg))
            self._ring_added_at = now

    def _shot_jpeg(self, shot: EvidenceShot) -> bytes | None:
        """The JPEG sent for `shot`: a camera JPEG from the ring is decoded small and encoded now."""
        if not shot.source_width:
            return shot.jpeg
        config = self._config.evidence
        frame = decode_colour(shot.jpeg, colour_scale_for(shot.source_width, config.width))
        try:
            if frame is None:
                raise SnapshotError("the camera's JPEG does not decode")
            return encode_snapshot(frame, quality=config.jpeg_quality, max_width=config.width, draw_boxes=False)
        except SnapshotError:
            log.exception("camera %s: evidence frame for %s failed", self._config.name, shot.event_id)
            return None

    def _ring_wants(self, now: float) -> bool:
        """The frame read at `now` goes into the evidence ring."""
        config = self._config.evidence
        return config.enabled and (
            now - self._ring_added_at >= config.interval_s
            or (self._planner.pending > 0 and self._planner.wants_frame(now))
        )

    # emitting ------------------------------------------------------------------------------

    def _send(self, kind: EventKind, data: dict[str, Any], snapshot: bytes | None) -> None:
        try:
            self._emit(kind, data, snapshot)
        except Exception:
            log.exception("camera %s: emit failed for %s", self._config.name, kind)

    def _snapshot(self, picture: Picture | None, boxes: tuple[Box, ...]) -> bytes | None:
        if picture is None:
            return None
        try:
            frame = picture.colour(self._config.snapshot.max_width)
            return snapshot_from_config(frame, _scaled(boxes, frame.shape[1] / picture.size[0]), self._config.snapshot)
        except SnapshotError:
            log.exception("camera %s: snapshot failed", self._config.name)
            return None

    def _health(self, changes: list[HealthChange], frame: Picture | None) -> None:
        for change in changes:
            data: dict[str, Any] = {
                "camera": self._config.name,
                "state": change.state,
                "reason": change.reason,
                "duration_s": round(change.duration_s, 1),
                "severity": "info" if change.state == "restored" else "warning",
            }
            snapshot = (
                self._snapshot(frame, ()) if change.kind is EventKind.TAMPER and change.state == "detected" else None
            )
            self._send(change.kind, data, snapshot)

    def _episodes_out(
        self, events: list[EpisodeEvent[Picture]], episode: _Episode | None, sensitivity: Sensitivity | None
    ) -> _Episode | None:
        for event in events:
            if event.phase == "start":
                armed = is_armed(self._wallclock(), self._config.armed)
                report = armed or self._config.outside_armed == "log_low"
                episode = _Episode(new_event_id(), armed, "warning" if armed else "low", report)
                with self._lock:
                    self._episodes += 1
                if not report:
                    continue
                data: dict[str, Any] = {
                    "camera": self._config.name,
                    "phase": "start",
                    "episode": episode.id,
                    "area": round(event.area, 4),
                    "boxes": [list(box) for box in event.boxes],
                    "armed": armed,
                    "severity": episode.severity,
                    "profile": sensitivity.profile if sensitivity else None,
                }
                self._send(EventKind.MOTION, data, self._snapshot(event.frame_ref, event.boxes))
            else:
                current, episode = episode, None
                if current is None or not current.report:
                    continue
                data = {
                    "camera": self._config.name,
                    "phase": "end",
                    "episode": current.id,
                    "duration_s": round(event.duration_s, 1),
                    "peak_area": round(event.peak_area, 4),
                    "frames": event.frames,
                    "reason": event.reason,
                    "armed": current.armed,
                    "severity": current.severity,
                }
                self._send(EventKind.MOTION, data, self._snapshot(event.frame_ref, event.boxes))
        return episode


@dataclass(frozen=True)
class _Episode:
    id: str
    armed: bool
    severity: str
    report: bool


def _scaled(boxes: tuple[Box, ...], factor: float) -> tuple[Box, ...]:
    """Boxes in source pixels, in the pixels of a picture `factor` times the source's width."""
    if factor == 1.0:
        return boxes
    return tuple(
        (round(x * factor), round(y * factor), max(1, round(w * factor)), max(1, round(h * factor)))
        for x, y, w, h in boxes
    )
