"""Snapshot JPEGs: valid, small, boxes drawn, within the protocol limit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.camera.config import SnapshotConfig
from edge.camera.snapshot import SnapshotError, encode_snapshot, snapshot_from_config
from edge.camera.synthetic import make_clip
from kamling.protocol import MAX_SNAPSHOT_BYTES, check_snapshot


def decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def test_snapshot_is_a_valid_jpeg_within_limits() -> None:
    frame = make_clip("crossing", 1280, 720, length=40).frame(20)
    data = encode_snapshot(frame, [(100, 200, 80, 240)], max_width=640)
    assert data[:3] == b"\xff\xd8\xff" and len(data) < MAX_SNAPSHOT_BYTES
    assert check_snapshot(data) == data
    image = decode(data)
    assert image.shape == (360, 640, 3)
    # the box edge (scaled by 0.5) is red
    b, g, r = (int(v) for v in image[100, 70])
    assert r > 150 and g < 110 and b < 110


def test_frame_is_not_modified_and_boxes_can_be_off() -> None:
    frame = make_clip("static", 320, 240, length=1).frame(0)
    before = frame.copy()
    with_boxes = encode_snapshot(frame, [(10, 10, 50, 50)])
    without = snapshot_from_config(frame, [(10, 10, 50, 50)], SnapshotConfig(draw_boxes=False))
    assert np.array_equal(frame, before)
    assert with_boxes != without


def test_grey_frames_are_accepted() -> None:
    grey = np.full((120, 160), 128, np.uint8)
    assert decode(encode_snapshot(grey, [(5, 5, 20, 20)])).shape == (120, 160, 3)


def test_oversized_snapshots_are_shrunk_to_fit() -> None:
    noisy = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    data = encode_snapshot(noisy, quality=95, max_bytes=60_000)
    assert len(data) <= 60_000 and data[:3] == b"\xff\xd8\xff"


def test_bad_input() -> None:
    with pytest.raises(SnapshotError):
        encode_snapshot(np.zeros((10, 10), np.float64))
