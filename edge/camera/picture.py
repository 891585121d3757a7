"""One frame as the camera worker uses it: a small grey picture to analyse, colour only on demand.

A source that hands out decoded BGR frames (V4L2, H.264/H.265 streams, synthetic clips) gives a
`Picture.of_array`: the detector downscales it before any colour conversion. A source that hands
out the camera's own JPEG (an MJPEG stream or file, read by OpenCV's FFmpeg backend in raw mode:
edge/camera/sources.py) gives a `Picture.of_jpeg`: libjpeg decodes it straight to grey at 1/2, 1/4
or 1/8 size (DCT scaling, no full-size decode and no colour conversion at all); a colour picture
is decoded from the same bytes only when a snapshot or an evidence frame needs one, at the
smallest scale that is still wide enough. Measured in bench/bench_lean_post.py (issue 17 item 5).
"""

from __future__ import annotations

import cv2
import numpy as np

Size = tuple[int, int]
"""(width, height) in source pixels."""

_GREY = {
    1: cv2.IMREAD_GRAYSCALE,
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}
_COLOUR = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
SCALES = (8, 4, 2, 1)


def grey_scale_for(height: int, min_height: int) -> int:
    """The largest JPEG DCT scale (1, 2, 4, 8) that keeps at least `min_height` rows of `height`."""
    return next((s for s in SCALES if -(-height // s) >= min_height), 1)


def colour_scale_for(width: int, min_width: int) -> int:
    """The largest JPEG DCT scale that keeps at least `min_width` columns of `width`."""
    return next((s for s in SCALES if -(-width // s) >= min_width), 1)


def decode_colour(jpeg: bytes | np.ndarray, scale: int) -> np.ndarray | None:
    """A BGR picture of `jpeg` at 1/`scale` size (DCT scaling: 1, 2, 4 or 8); None if it does not decode."""
    data = np.frombuffer(jpeg, np.uint8) if isinstance(jpeg, bytes) else jpeg
    image = cv2.imdecode(data, _COLOUR[scale])
    return image if image is not None and image.size else None


class Picture:
    """`analysis` (grey or BGR, possibly reduced) for the detector and the health monitor; `colour()` for pictures.

    `size` is the frame's size in source pixels: motion boxes and masks are in these coordinates.
    """

    __slots__ = ("_colour", "_jpeg", "analysis", "size")

    def __init__(self, analysis: np.ndarray, size: Size, jpeg: np.ndarray | None = None) -> None:
        self.analysis = analysis
        self.size = size
        self._jpeg = jpeg
        self._colour: dict[int, np.ndarray] = {}

    @classmethod
    def of_array(cls, frame: np.ndarray) -> Picture:
        """A decoded frame: analysed as it is (the detector downscales before converting colour)."""
        picture = cls(frame, (frame.shape[1], frame.shape[0]))
        if frame.ndim == 3:
            picture._colour[1] = frame
        return picture

    @classmethod
    def of_jpeg(
        cls, jpeg: np.ndarray, size_hint: Size | None, min_height: int, colour_width: int | None = None
    ) -> Picture | None:
        """A JPEG decoded to grey at the smallest DCT scale that keeps `min_height` rows; None if it does not decode.

        `size_hint` is the source's frame size as the container announced it (None: unknown, decode
        at full size); the size kept is measured from the decoded picture. With `colour_width` the
        caller will want colour at least that wide (an evidence frame): when that is the same scale,
        colour is decoded once and the grey made from it, instead of decoding the JPEG twice.
        """
        width, height = size_hint if size_hint is not None else (0, 0)
        scale = grey_scale_for(height, min_height) if height > 0 else 1
        colour: np.ndarray | None = None
        if colour_width is not None and width > 0 and colour_scale_for(width, colour_width) == scale:
            colour = cv2.imdecode(jpeg, _COLOUR[scale])
            if colour is None or colour.size == 0:
                return None
            grey: np.ndarray | None = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
        else:
            grey = cv2.imdecode(jpeg, _GREY[scale])
        if grey is None or grey.size == 0:
            return None
        picture = cls(grey, (grey.shape[1] * scale, grey.shape[0] * scale), jpeg)
        if colour is not None:
            picture._colour[scale] = colour
        return picture

    @property
    def jpeg(self) -> np.ndarray | None:
        """The source's own JPEG bytes (uint8 array), if the picture came as a JPEG."""
        return self._jpeg

    def colour(self, min_width: int | None = None) -> np.ndarray:
        """A BGR picture at least `min_width` wide (the full size when None), decoded once per scale.

        For a picture that came as an array this is the array itself (grey stays grey).
        """
        if self._jpeg is None:
            return self.analysis
        scale = colour_scale_for(self.size[0], min_width) if min_width else 1
        image = self._colour.get(scale)
        if image is None:
            image = decode_colour(self._jpeg, scale)
            if image is None:  # decoded once already as grey; a colour failure is a broken file
                image = cv2.cvtColor(self.analysis, cv2.COLOR_GRAY2BGR)
            self._colour[scale] = image
        return image
