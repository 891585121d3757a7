"""Snapshot JPEGs for events: downscaled, optionally with motion boxes, always under the limit."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from edge.camera.config import SnapshotConfig
from edge.camera.motion import Box
from kamling.protocol import MAX_SNAPSHOT_BYTES

BOX_COLOUR = (0, 0, 255)  # red in BGR


class SnapshotError(ValueError):
    """The frame cannot be encoded as a snapshot within the size limit."""


def encode_snapshot(
    frame: np.ndarray,
    boxes: Sequence[Box] = (),
    *,
    quality: int = 80,
    max_width: int = 1280,
    draw_boxes: bool = True,
    max_bytes: int = MAX_SNAPSHOT_BYTES,
) -> bytes:
    """JPEG bytes (FF D8 FF ...) of `frame`, at most `max_width` wide and `max_bytes` long.

    `boxes` are (x, y, w, h) in the frame's own pixels. The frame is not modified. If the
    JPEG is too large the quality, then the width, is lowered until it fits.
    """
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3):
        raise SnapshotError(f"expected a uint8 grey or BGR frame, got {frame.dtype} {frame.shape}")
    image = frame
    scale = 1.0
    if image.shape[1] > max_width:
        scale = max_width / image.shape[1]
        image = cv2.resize(image, (max_width, max(1, round(image.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    if draw_boxes and boxes:
        image = image.copy() if image is frame else image
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        thickness = max(1, image.shape[1] // 320)
        for x, y, w, h in boxes:
            top_left = (round(x * scale), round(y * scale))
            bottom_right = (round((x + w) * scale), round((y + h) * scale))
            cv2.rectangle(image, top_left, bottom_right, BOX_COLOUR, thickness)
    while True:
        for q in (quality, 60, 40, 20):
            if q > quality:
                continue
            ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(q)])
            if not ok:
                raise SnapshotError("JPEG encoding failed")
            data = buffer.tobytes()
            if len(data) <= max_bytes:
                return data
        if image.shape[1] <= 160:
            raise SnapshotError(f"cannot fit a snapshot in {max_bytes} bytes")
        image = cv2.resize(image, (image.shape[1] // 2, max(1, image.shape[0] // 2)), interpolation=cv2.INTER_AREA)


def snapshot_from_config(frame: np.ndarray, boxes: Sequence[Box], config: SnapshotConfig) -> bytes:
    return encode_snapshot(
        frame, boxes, quality=config.jpeg_quality, max_width=config.max_width, draw_boxes=config.draw_boxes
    )
