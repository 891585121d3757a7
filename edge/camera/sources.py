"""Frame sources: the only module that touches `cv2.VideoCapture`.

Every source follows the small `FrameSource` protocol. `grab()` advances to the next frame
and `retrieve()` hands out the frame last grabbed as a BGR array; the worker calls
`retrieve()` only for the frames it analyses. What a skipped frame saves depends on the
backend: OpenCV's FFmpeg backend decodes the packet inside `grab()` (an H.264/H.265 stream
must decode every frame anyway, later frames depend on it) and `retrieve()` does the colour
conversion and copy; V4L2 dequeues in `grab()` and converts in `retrieve()`; the synthetic
source renders only in `retrieve()`. In every case the skipped frame costs no conversion, no
copy and no analysis. The cheapest decode is a small stream: use the camera's sub-stream.

An MJPEG stream or file (HTTP cameras, MJPG files) is read in the backend's raw mode instead:
`grab()` only demuxes, and `retrieve_picture()` decodes the JPEG itself to grey at 1/2, 1/4 or
1/8 size (JPEG DCT scaling), just large enough for the detector (edge/camera/picture.py). A packet
that is not a JPEG turns raw mode off for that source (it is reopened and decoded as before).

`ReconnectingSource` wraps any source and re-opens it with exponential back-off after a
failure; its clock and sleep are injected so tests run in virtual time. File and synthetic
sources can be paced at their frame rate with the same injected clock and sleep.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

import cv2
import numpy as np

from edge.camera.picture import Picture
from edge.camera.synthetic import Clip
from kamling.backoff import Backoff
from kamling.redact import redact_url

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], object]

OPEN_TIMEOUT_MS = 8000
READ_TIMEOUT_MS = 5000
RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 30.0
"""A lost camera is retried after 0.5 s, then twice as long each time, at most every 30 s."""


def single_threaded_opencv() -> None:
    """One OpenCV thread per process: each camera has its own thread already, and on a detector-sized
    frame OpenCV's thread pool cost more CPU than it saved (0.7-0.9 ms a frame, bench/bench_lean_post.py)."""
    cv2.setNumThreads(1)


class SourceError(OSError):
    """A source could not be opened."""


@runtime_checkable
class FrameSource(Protocol):
    """Where frames come from. `open` raises SourceError; `grab` returns False on failure/end."""

    def open(self) -> None: ...

    def grab(self) -> bool: ...

    def retrieve(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


@runtime_checkable
class PictureSource(Protocol):
    """A source that can hand out a `Picture` reduced for analysis (see edge/camera/picture.py)."""

    def retrieve_picture(self, min_height: int, colour_width: int | None = None) -> Picture | None: ...


MJPEG_FOURCCS = frozenset({"MJPG", "mjpg", "mjpe", "MJPE", "JPEG", "jpeg", "AVRn", "MJPA", "mjpa", "LJPG", "dmb1"})
"""FourCCs (as OpenCV's FFmpeg backend reports them) of streams whose packets are whole JPEGs."""

_JPEG_SOI = b"\xff\xd8\xff"


def fourcc_text(value: float) -> str:
    code = int(value) if math.isfinite(value) and value > 0 else 0
    return code.to_bytes(4, "little").decode("latin-1")


def is_jpeg(packet: np.ndarray) -> bool:
    return packet.size >= 3 and packet.reshape(-1)[:3].tobytes() == _JPEG_SOI


class Pacer:
    """Waits so that successive calls to `wait` happen at most `fps` times per second."""

    def __init__(self, fps: float, clock: Clock, sleep: Sleep) -> None:
        self._interval = 1.0 / fps
        self._clock = clock
        self._sleep = sleep
        self._next_at: float | None = None

    def wait(self) -> None:
        now = self._clock()
        if self._next_at is None:
            self._next_at = now
        elif now < self._next_at:
            self._sleep(self._next_at - now)
        # Never build up more than one interval of backlog after a stall.
        self._next_at = max(self._next_at + self._interval, self._clock() - self._interval)

    def reset(self) -> None:
        self._next_at = None


class CaptureSource:
    """A `cv2.VideoCapture` behind the FrameSource protocol."""

    raw_jpeg = False
    """Read MJPEG in the backend's raw mode and decode the JPEGs here (FFmpeg sources only)."""

    def __init__(self, target: str | int, api: int = cv2.CAP_ANY, params: tuple[int, ...] = ()) -> None:
        self.target = target
        self._api = api
        self._params = params
        self._capture: cv2.VideoCapture | None = None
        self._raw = False  # the open capture hands out JPEG packets
        self._raw_refused = False  # a packet was not a JPEG: never raw again for this source
        self._size_hint: tuple[int, int] | None = None

    def open(self) -> None:
        self.close()
        capture = cv2.VideoCapture(self.target, self._api, list(self._params))
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open {self.describe()}")
        self._capture = capture
        self._after_open(capture)
        width, height = (
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
        )
        self._size_hint = (width, height) if width > 0 and height > 0 else None
        self._raw = (
            self.raw_jpeg
            and not self._raw_refused
            and capture.getBackendName() == "FFMPEG"
            and fourcc_text(capture.get(cv2.CAP_PROP_FOURCC)) in MJPEG_FOURCCS
            and bool(capture.set(cv2.CAP_PROP_FORMAT, -1))
        )

    def _after_open(self, capture: cv2.VideoCapture) -> None:
        """Hook for backend-specific properties."""

    @property
    def raw(self) -> bool:
        """True while the source hands out the camera's JPEGs undecoded (decoded by `retrieve*`)."""
        return self._raw

    def grab(self) -> bool:
        return self._capture is not None and bool(self._capture.grab())

    def retrieve(self) -> np.ndarray | None:
        """The frame last grabbed, as a full-size BGR array."""
        if self._capture is None:
            return None
        if self._raw:
            picture = self.retrieve_picture(0)
            return picture.colour() if picture is not None else None
        ok, frame = self._capture.retrieve()
        return frame if ok and frame is not None and frame.size else None

    def retrieve_picture(self, min_height: int, colour_width: int | None = None) -> Picture | None:
        """The frame last grabbed, for analysis: a JPEG decoded at reduced size, or the decoded frame.

        `colour_width`: colour at least this wide will be wanted too (see `Picture.of_jpeg`)."""
        if self._capture is None:
            return None
        if not self._raw:
            frame = self.retrieve()
            return Picture.of_array(frame) if frame is not None else None
        ok, packet = self._capture.retrieve()
        if not ok or packet is None or not packet.size:
            return None
        picture = Picture.of_jpeg(packet, self._size_hint, min_height, colour_width) if is_jpeg(packet) else None
        if picture is None:
            log.warning("%s: a packet is not a decodable JPEG; decoding in the backend from now on", self.describe())
            self._raw_refused = True
            self.open()  # raw mode cannot be turned off on an open capture
            return None
        self._size_hint = picture.size
        return picture

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    @property
    def capture(self) -> cv2.VideoCapture | None:
        return self._capture

    def describe(self) -> str:
        target = self.target
        if isinstance(target, str) and "://" in target:  # never log a camera's credentials
            target = redact_url(target, keep_location=True)
        return f"{type(self).__name__}({target})"


class StreamSource(CaptureSource):
    """RTSP or HTTP(S) stream through OpenCV's FFmpeg backend, with open/read timeouts."""

    raw_jpeg = True

    def __init__(self, url: str) -> None:
        super().__init__(
            url,
            cv2.CAP_FFMPEG,
            (cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS),
        )

    def open(self) -> None:
        if isinstance(self.target, str) and self.target.startswith("rtsp"):
            # RTSP over TCP: UDP loses packets on busy Wi-Fi and smears the picture.
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        super().open()


class V4l2Source(CaptureSource):
    """A local camera (USB / CSI via V4L2) by device path or number."""

    def __init__(self, device: str | int) -> None:
        target: str | int = int(device) if isinstance(device, str) and device.isdigit() else device
        super().__init__(target, cv2.CAP_V4L2)

    def _after_open(self, capture: cv2.VideoCapture) -> None:
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # latest frame, not a stale queue


class FileSource(CaptureSource):
    """A video file, looped (seek to 0 at the end), optionally paced at the file's frame rate."""

    raw_jpeg = True

    def __init__(
        self,
        path: str | Path,
        *,
        loop: bool = True,
        realtime: bool = True,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        super().__init__(str(path), cv2.CAP_ANY)
        self._loop = loop
        self._realtime = realtime
        self._clock = clock
        self._sleep = sleep
        self._pacer: Pacer | None = None
        self.fps = 0.0
        self.loops = 0

    def open(self) -> None:
        if not Path(str(self.target)).is_file():
            raise SourceError(f"video file not found: {self.target}")
        super().open()
        assert self.capture is not None
        fps = float(self.capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if math.isfinite(fps) and 0 < fps <= 240 else 25.0
        self._pacer = Pacer(self.fps, self._clock, self._sleep) if self._realtime else None

    def grab(self) -> bool:
        capture = self.capture
        if capture is None:
            return False
        if self._pacer is not None:
            self._pacer.wait()
        if capture.grab():
            return True
        if not self._loop:
            return False
        self.loops += 1
        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        if capture.grab():
            return True
        try:  # some containers cannot seek: reopen instead
            super().open()
        except SourceError:
            return False
        return self.capture is not None and bool(self.capture.grab())


class SyntheticSource:
    """Frames rendered from a synthetic `Clip`; `grab` only advances, `retrieve` renders."""

    def __init__(
        self,
        clip: Clip,
        *,
        loop: bool = True,
        realtime: bool = True,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.clip = clip
        self._loop = loop
        self._pacer = Pacer(clip.fps, clock, sleep) if realtime else None
        self._index = -1
        self._open = False

    @property
    def index(self) -> int:
        """Index of the frame last grabbed."""
        return self._index

    def open(self) -> None:
        self._open = True
        self._index = -1
        if self._pacer is not None:
            self._pacer.reset()

    def grab(self) -> bool:
        if not self._open:
            return False
        if self._pacer is not None:
            self._pacer.wait()
        if self._index + 1 >= self.clip.length:
            if not self._loop:
                return False
            self._index = -1
        self._index += 1
        return True

    def retrieve(self) -> np.ndarray | None:
        if not self._open or self._index < 0:
            return None
        return self.clip.frame(self._index)

    def close(self) -> None:
        self._open = False


class ReconnectingSource:
    """Wraps a source; after a failed open or grab it re-opens with exponential back-off.

    `grab` never raises and never blocks longer than `poll_s` while disconnected: it returns
    False, so the caller can keep its health clock running (and notice `lost`).
    """

    def __init__(
        self,
        inner: FrameSource,
        *,
        backoff: Backoff | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        poll_s: float = 0.5,
    ) -> None:
        self.inner = inner
        self._pictures = isinstance(inner, PictureSource)  # checked once: a Protocol check is slow per frame
        self._backoff = backoff or Backoff(RECONNECT_FIRST_S, RECONNECT_MAX_S)
        self._clock = clock
        self._sleep = sleep
        self._poll_s = poll_s
        self._connected = False
        self._confirmed = False
        self._next_attempt = 0.0
        self.attempts = 0
        self.failures = 0

    @property
    def connected(self) -> bool:
        return self._connected

    def open(self) -> None:
        self._next_attempt = self._clock()
        self._try_open()

    def grab(self) -> bool:
        if not self._connected:
            wait = self._next_attempt - self._clock()
            if wait > 0:
                self._sleep(min(wait, self._poll_s))
                return False
            if not self._try_open():
                return False
        try:
            ok = self.inner.grab()
        except Exception:  # a backend error is a lost stream, not a dead worker
            log.exception("grab failed")
            ok = False
        if ok:
            if not self._confirmed:
                self._confirmed = True
                self._backoff.reset()
            return True
        self._disconnect("no frame")
        return False

    def retrieve(self) -> np.ndarray | None:
        if not self._connected:
            return None
        try:
            return self.inner.retrieve()
        except Exception:
            log.exception("retrieve failed")
            return None

    def retrieve_picture(self, min_height: int, colour_width: int | None = None) -> Picture | None:
        """The inner source's reduced `Picture` if it can make one, else its frame as a Picture."""
        if not self._connected:
            return None
        try:
            if self._pictures:
                return cast(PictureSource, self.inner).retrieve_picture(min_height, colour_width)
            frame = self.inner.retrieve()
        except Exception:
            log.exception("retrieve failed")
            return None
        return Picture.of_array(frame) if frame is not None else None

    def close(self) -> None:
        self._connected = False
        self.inner.close()

    def _try_open(self) -> bool:
        self.attempts += 1
        try:
            self.inner.open()
        except Exception as exc:
            self._disconnect(str(exc))
            return False
        self._connected = True
        self._confirmed = False
        return True

    def _disconnect(self, why: str) -> None:
        self.failures += 1
        self._connected = False
        self._confirmed = False
        try:
            self.inner.close()
        except Exception:
            log.exception("close failed")
        delay = self._backoff.next()
        self._next_attempt = self._clock() + delay
        log.warning("camera source unavailable (%s); retrying in %.1f s", why, delay)
