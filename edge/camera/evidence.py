"""Pictures from around a panic or tamper (issue 15): a bounded ring of JPEGs per camera.

The camera loop puts one frame into the ring every `interval_s`. A press asks for frames at offsets
from the press (default -2 s, 0 s, +3 s); each offset is answered with the ring frame nearest to it
once a frame at or after that moment exists (so a "before" frame is answered at once, an "after"
frame when its moment has passed).

What a ring frame holds: a camera that sends JPEGs (MJPEG streams and files) puts **its own JPEG
bytes** in the ring, undecoded and not re-encoded, and only the few frames a press asks for are
shrunk to a small JPEG (at most `EvidenceConfig.width` wide) when they are sent; a frame then has a
`source_width`. Re-encoding every ring frame cost about 0.2 ms of every analysed frame for pictures
that are almost never sent (issue 17 item 5). Other cameras (and a camera JPEG too large to keep the
reach the offsets need within the byte bound, see `raw_frame_budget`) put a small JPEG encoded at
once, as before.

**Memory per camera** is bounded twice: at most `history_s / interval_s` frames (default 20) and
at most `max_bytes` of JPEG (default 512 KiB); whichever is hit first drops the oldest frame. A
320 x 240 frame at quality 70 is 5-20 KB; a 640 x 480 camera JPEG 20-60 KB, so the byte bound
usually binds for camera JPEGs (measured: bench/bench_evidence.py, bench/bench_lean_post.py,
docs/performance.md). Nothing here reads a clock or does I/O: times are the caller's monotonic
seconds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

GIVE_UP_AFTER_S = 5.0
"""An offset with no frame this long after its moment (camera lost) is not sent."""


@dataclass(frozen=True)
class Frame:
    at: float  # monotonic seconds when the frame was read
    jpeg: bytes
    source_width: int = 0
    """0: a small JPEG, sent as it is; otherwise the camera's own JPEG, this wide, shrunk when it is sent."""


def raw_frame_budget(max_bytes: int, interval_s: float, offsets_s: Sequence[float], tolerance_s: float) -> int:
    """The largest camera JPEG the ring keeps as it is: one that still lets `max_bytes` hold every frame
    from the earliest offset (less its tolerance) up to now. A larger one is shrunk when it is added."""
    reach = max(0.0, -min(offsets_s)) + tolerance_s
    return max_bytes // (math.ceil(reach / interval_s) + 1)


class FrameRing:
    """The newest frames, bounded by count and by bytes; oldest dropped first."""

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        if max_frames < 1 or max_bytes < 1:
            raise ValueError("a ring holds at least one frame and one byte")
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._frames: deque[Frame] = deque()
        self._bytes = 0
        self.dropped = 0  # frames pushed out by either bound

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def bytes_held(self) -> int:
        return self._bytes

    @property
    def newest(self) -> Frame | None:
        return self._frames[-1] if self._frames else None

    def frames(self) -> list[Frame]:
        return list(self._frames)

    def add(self, frame: Frame) -> bool:
        """Keep `frame` (times must not go back); False when it alone is larger than `max_bytes`."""
        if len(frame.jpeg) > self.max_bytes:
            return False
        if self._frames and frame.at < self._frames[-1].at:
            raise ValueError("frames must be added in time order")
        self._frames.append(frame)
        self._bytes += len(frame.jpeg)
        while len(self._frames) > self.max_frames or self._bytes > self.max_bytes:
            self._bytes -= len(self._frames.popleft().jpeg)
            self.dropped += 1
        return True

    def nearest(self, target: float, tolerance: float) -> Frame | None:
        """The frame closest in time to `target` (a tie goes to the later one), if within `tolerance`."""
        best: Frame | None = None
        for frame in self._frames:
            if best is None or abs(frame.at - target) <= abs(best.at - target):
                best = frame
        if best is None or abs(best.at - target) > tolerance:
            return None
        return best


@dataclass(frozen=True)
class EvidenceShot:
    """One frame to send: for which event, its offset from the press (actual, not nominal)."""

    event_id: str
    offset_s: float
    jpeg: bytes
    source_width: int = 0  # as Frame.source_width: nonzero, the camera's JPEG, to shrink before sending


@dataclass
class EvidenceRequest:
    """Frames wanted for one event: `at` is the press in the camera's monotonic seconds."""

    event_id: str
    at: float
    offsets: tuple[float, ...]
    sent: set[float] = field(default_factory=set)  # frame times already sent (two offsets, one frame)

    @property
    def done(self) -> bool:
        return not self.offsets


class EvidencePlanner:
    """Requests waiting for their frames; `due` answers what the ring can answer now."""

    def __init__(self, ring: FrameRing, interval_s: float, offsets_s: Sequence[float]) -> None:
        self.ring = ring
        self.interval_s = interval_s
        self.offsets_s = tuple(sorted(offsets_s))
        self.tolerance = max(1.0, 2 * interval_s)  # a frame further from its moment is not that moment
        self._requests: list[EvidenceRequest] = []

    def request(self, event_id: str, at: float) -> None:
        if any(r.event_id == event_id for r in self._requests):
            return
        self._requests.append(EvidenceRequest(event_id, at, self.offsets_s))

    @property
    def pending(self) -> int:
        return len(self._requests)

    def wants_frame(self, now: float) -> bool:
        """True when a frame should go into the ring now, whatever the interval: a moment asked for has
        come and the ring has nothing at or after it (the "at the press" frame is then a fresh one)."""
        newest = self.ring.newest
        for request in self._requests:
            for offset in request.offsets:
                target = request.at + offset
                if target <= now and (newest is None or newest.at < target):
                    return True
        return False

    def due(self, now: float) -> list[EvidenceShot]:
        """Shots that can be sent now, in time order; drops offsets whose moment passed long ago."""
        shots: list[EvidenceShot] = []
        newest = self.ring.newest
        for request in self._requests:
            left: list[float] = []
            for offset in request.offsets:
                target = request.at + offset
                if newest is not None and newest.at >= target:
                    frame = self.ring.nearest(target, self.tolerance)
                    if frame is not None and frame.at not in request.sent:
                        request.sent.add(frame.at)
                        shots.append(
                            EvidenceShot(
                                request.event_id, round(frame.at - request.at, 1), frame.jpeg, frame.source_width
                            )
                        )
                    continue  # answered (or no frame near enough: the ring did not reach back that far)
                if now - target > GIVE_UP_AFTER_S:
                    continue  # no frame since that moment: the camera is gone
                left.append(offset)
            request.offsets = tuple(left)
        self._requests = [r for r in self._requests if not r.done]
        return shots
