"""Reduced-size analysis (issue 17 item 5): MJPEG decoded straight to small grey, colour only on demand.

Motion and tamper detection must still work on the reduced pictures, boxes and masks stay in the
source's pixels, and snapshots and the evidence ring still get colour pictures.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.camera.config import CameraConfig
from edge.camera.motion import MotionDetector, MotionResult, MotionSettings
from edge.camera.picture import Picture, colour_scale_for, grey_scale_for
from edge.camera.sources import FileSource, ReconnectingSource, StreamSource, SyntheticSource
from edge.camera.synthetic import Clip, make_clip, write_clip
from edge.camera.worker import open_source
from kamling.protocol import EVIDENCE_STATE, EventKind, check_snapshot
from tests.edge.camera.test_camera_worker import Recorder, has_motion, run_worker, wait_until
from tests.support import VirtualClock


def jpeg_of(frame: np.ndarray, quality: int = 90) -> np.ndarray:
    ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buffer.reshape(-1)


def reduced_run(clip: Clip, evidence_every: int = 0) -> list[MotionResult]:
    """The detector fed as the worker feeds it from an MJPEG camera: grey at the smallest DCT scale
    (every `evidence_every`-th frame made from a colour decode, as for a frame bound for the evidence ring)."""
    detector = MotionDetector(MotionSettings(masks=clip.masks))
    results = []
    for index, frame in enumerate(clip.frames()):
        colour_width = 320 if evidence_every and index % evidence_every == 0 else None
        size = (clip.width, clip.height)
        picture = Picture.of_jpeg(jpeg_of(frame), size, detector.settings.detect_height, colour_width)
        assert picture is not None
        results.append(detector.process(picture.analysis, picture.size))
    return results


def test_scales_keep_at_least_what_the_detector_and_the_pictures_need() -> None:
    assert grey_scale_for(480, 144) == 2  # 240 rows; 1/4 would leave 120 < 144
    assert grey_scale_for(1080, 144) == 4  # 270 rows
    assert grey_scale_for(2160, 144) == 8
    assert grey_scale_for(120, 144) == 1  # smaller than wanted already: full size
    assert colour_scale_for(640, 320) == 2 and colour_scale_for(1920, 320) == 4 and colour_scale_for(640, 1280) == 1


def test_a_jpeg_picture_is_small_grey_for_analysis_and_colour_on_demand() -> None:
    frame = make_clip("crossing", 640, 480, seed=4).frame(20)
    picture = Picture.of_jpeg(jpeg_of(frame), (640, 480), 144)
    assert picture is not None
    assert picture.analysis.shape == (240, 320) and picture.size == (640, 480)  # no colour decoded yet
    small = picture.colour(320)
    assert small.shape == (240, 320, 3)
    full = picture.colour()
    assert full.shape == (480, 640, 3)
    assert float(np.abs(full.astype(np.int16) - frame).mean()) < 8  # the same picture, JPEG-close
    assert picture.colour(320) is small  # decoded once per scale


def test_a_frame_for_the_evidence_ring_is_decoded_once_in_colour() -> None:
    frame = make_clip("crossing", 640, 480, seed=4).frame(20)
    jpeg = jpeg_of(frame)
    plain = Picture.of_jpeg(jpeg, (640, 480), 144)
    both = Picture.of_jpeg(jpeg, (640, 480), 144, colour_width=320)
    assert plain is not None and both is not None
    assert both.analysis.shape == plain.analysis.shape == (240, 320)
    assert float(np.abs(both.analysis.astype(np.int16) - plain.analysis).mean()) < 2  # the same grey picture
    assert both.colour(320).shape == (240, 320, 3)
    wide = Picture.of_jpeg(jpeg, (640, 480), 144, colour_width=640)  # another scale: grey decoded on its own
    assert wide is not None and wide.analysis.shape == (240, 320) and wide.colour(640).shape == (480, 640, 3)


def test_unknown_height_decodes_at_full_size_and_garbage_is_none() -> None:
    frame = make_clip("static", 320, 240).frame(0)
    picture = Picture.of_jpeg(jpeg_of(frame), None, 144)
    assert picture is not None and picture.analysis.shape == (240, 320) and picture.size == (320, 240)
    assert Picture.of_jpeg(np.frombuffer(b"\xff\xd8\xff not really a jpeg", np.uint8), (640, 480), 144) is None


def test_an_array_picture_is_the_frame_itself() -> None:
    frame = make_clip("static", 160, 120).frame(0)
    picture = Picture.of_array(frame)
    assert picture.analysis is frame and picture.colour(80) is frame and picture.size == (160, 120)


@pytest.mark.parametrize("evidence_every", [0, 2])
def test_person_crossing_is_detected_on_reduced_grey_with_boxes_in_source_pixels(evidence_every: int) -> None:
    clip = make_clip("crossing", 640, 480, seed=3)
    results = reduced_run(clip, evidence_every)
    assert clip.event_frames is not None
    enter, leave = clip.event_frames
    hits = [i for i, result in enumerate(results) if result.motion]
    assert hits and all(enter <= index < leave + 2 for index in hits), "motion outside the crossing"
    in_view = range(enter + 3, leave - 3)
    assert sum(results[i].motion for i in in_view) >= 0.9 * len(in_view)
    middle = results[(enter + leave) // 2]
    assert middle.boxes
    for x, y, w, h in middle.boxes:
        assert 0 <= x < 640 and 0 <= y < 480 and x + w <= 640 and y + h <= 480
    assert max(y + h for _, y, _, h in middle.boxes) > 300  # the person walks in the lower part


@pytest.mark.parametrize("scenario", ["static", "noise", "brightness_jump", "drift", "small_object", "masked_motion"])
@pytest.mark.parametrize("evidence_every", [0, 2])
def test_no_false_motion_on_reduced_grey(scenario: str, evidence_every: int) -> None:
    """Including the mask, given in source pixels and applied to the reduced picture; grey from a
    colour decode every other frame is close enough to libjpeg's own grey not to look like motion."""
    assert not any(result.motion for result in reduced_run(make_clip(scenario, 640, 480, seed=2), evidence_every))


def test_masked_motion_is_seen_on_reduced_grey_without_the_mask() -> None:
    clip = make_clip("masked_motion", 640, 480, seed=2)
    detector = MotionDetector(MotionSettings())
    seen = False
    for frame in clip.frames():
        picture = Picture.of_jpeg(jpeg_of(frame), (640, 480), 144)
        assert picture is not None
        seen = seen or detector.process(picture.analysis, picture.size).motion
    assert seen


def test_mjpeg_file_is_read_raw_and_decoded_small(tmp_path: Path) -> None:
    path = write_clip(make_clip("crossing", 640, 480, length=6, fps=10), tmp_path / "clip.avi")
    source = FileSource(path, realtime=False)
    source.open()
    try:
        assert source.raw  # an MJPG file: the backend only demuxes
        assert sum(source.grab() for _ in range(9)) == 9 and source.loops == 1  # seeking still loops
        picture = source.retrieve_picture(144)
        assert picture is not None and picture.jpeg is not None
        assert picture.analysis.shape == (240, 320) and picture.size == (640, 480)
        frame = source.retrieve()  # the doctor and older callers still get a full BGR frame
        assert frame is not None and frame.shape == (480, 640, 3)
    finally:
        source.close()


def test_a_non_mjpeg_file_is_decoded_by_the_backend_as_before(tmp_path: Path) -> None:
    clip = make_clip("crossing", 320, 240, length=4, fps=10)
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (320, 240))
    if not writer.isOpened():
        pytest.skip("this OpenCV build has no MPEG-4 writer")
    for index in range(clip.length):
        writer.write(clip.frame(index))
    writer.release()
    source = FileSource(path, realtime=False)
    source.open()
    try:
        assert not source.raw
        assert source.grab()
        picture = source.retrieve_picture(144)
        assert picture is not None and picture.jpeg is None and picture.analysis.shape == (240, 320, 3)
    finally:
        source.close()


def test_reconnecting_source_hands_out_pictures_from_any_source() -> None:
    clip = make_clip("static", 160, 120, length=3)
    reader = ReconnectingSource(SyntheticSource(clip, realtime=False))
    reader.open()
    assert reader.grab()
    picture = reader.retrieve_picture(144)
    assert picture is not None and picture.size == (160, 120) and picture.jpeg is None
    reader.close()
    assert reader.retrieve_picture(144) is None


def test_worker_on_an_mjpeg_file_detects_and_sends_colour_snapshots_and_evidence(tmp_path: Path) -> None:
    clip = make_clip("crossing", 640, 480, fps=5, length=60, seed=7)
    path = write_clip(clip, tmp_path / "gate.avi")
    config = CameraConfig(name="gate", source=f"file:{path}", cooldown_s=2, detect_fps=5)
    clock, recorder = VirtualClock(), Recorder()
    worker = run_worker(config, open_source(config, clock=clock, sleep=clock.sleep), clock, recorder)
    try:
        recorder.wait_for(has_motion("start"))
        wait_until(lambda: worker.stats().evidence_frames >= 10)
        worker.request_evidence("press-1", clock())
        recorder.wait_for(
            lambda events: (
                len([d for k, d, _ in events if k is EventKind.CAMERA and d.get("state") == EVIDENCE_STATE]) == 3
            )
        )
        stats = worker.stats()
        latest = worker.snapshot(max_age=5.0)
    finally:
        worker.stop()
    (_, start, jpeg) = recorder.of(EventKind.MOTION)[0]
    assert jpeg is not None and check_snapshot(jpeg) == jpeg
    snapshot = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_UNCHANGED)
    assert snapshot.shape == (480, 640, 3)  # full size and colour, decoded from the camera's JPEG
    red = (snapshot[:, :, 2] > 200) & (snapshot[:, :, 1] < 60) & (snapshot[:, :, 0] < 60)
    assert red.any(), "the motion boxes are drawn"
    for x, y, w, h in start["boxes"]:
        assert x + w <= 640 and y + h <= 480
    for _, data, shot in recorder.of(EventKind.CAMERA):
        if data.get("state") == EVIDENCE_STATE:
            assert shot is not None
            image = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_UNCHANGED)
            assert image.shape == (240, 320, 3)  # at most evidence.width wide, in colour
    assert 10 <= stats.evidence_frames <= 20 and 0 < stats.evidence_bytes <= config.evidence.max_bytes
    assert stats.evidence_bytes / stats.evidence_frames > 20_000  # the camera's own JPEGs, kept as they came
    assert latest is not None and latest[:3] == b"\xff\xd8\xff"


def test_a_camera_jpeg_too_large_for_the_ring_is_kept_small(tmp_path: Path) -> None:
    """With a 64 KiB ring the -2 s frame needs 7 frames of at most 9 KB: the 640 px JPEGs are shrunk when kept."""
    path = write_clip(make_clip("crossing", 640, 480, fps=5, length=30, seed=7), tmp_path / "gate.avi")
    config = CameraConfig(name="gate", source=f"file:{path}", detect_fps=5, evidence={"max_bytes": 64 * 1024})
    clock, recorder = VirtualClock(), Recorder()
    worker = run_worker(config, open_source(config, clock=clock, sleep=clock.sleep), clock, recorder)
    try:
        wait_until(lambda: worker.stats().evidence_frames >= 7)
        worker.request_evidence("press-1", clock())
        recorder.wait_for(
            lambda events: any(k is EventKind.CAMERA and d.get("state") == EVIDENCE_STATE for k, d, _ in events)
        )
        stats = worker.stats()
    finally:
        worker.stop()
    assert stats.evidence_bytes / stats.evidence_frames < 20_000  # 320 px JPEGs, not the camera's
    shot = next(s for k, d, s in recorder.events if k is EventKind.CAMERA and d.get("state") == EVIDENCE_STATE)
    assert shot is not None
    assert cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_UNCHANGED).shape == (240, 320, 3)


def test_worker_on_an_mjpeg_file_reports_a_covered_lens(tmp_path: Path) -> None:
    path = write_clip(make_clip("covered", 640, 480, fps=5), tmp_path / "covered.avi")
    config = CameraConfig(
        name="gate", source=f"file:{path}", detect_fps=5, health={"blank_after_s": 5, "clear_after_s": 1}
    )
    clock, recorder = VirtualClock(), Recorder()
    worker = run_worker(config, open_source(config, clock=clock, sleep=clock.sleep), clock, recorder)
    try:
        recorder.wait_for(lambda events: len([e for e in events if e[0] is EventKind.TAMPER]) >= 2)
    finally:
        worker.stop()
    (_, detected, jpeg), (_, restored, _) = recorder.of(EventKind.TAMPER)[:2]
    assert (detected["state"], detected["reason"]) == ("detected", "covered")
    assert jpeg is not None and jpeg[:3] == b"\xff\xd8\xff"
    assert restored["state"] == "restored"


@pytest.fixture
def mjpeg_camera() -> Iterator[str]:
    """An HTTP MJPEG camera (multipart/x-mixed-replace, as most IP cameras serve it) on a free port."""
    clip = make_clip("crossing", 640, 480, length=10)
    frames = [jpeg_of(clip.frame(i)).tobytes() for i in range(clip.length)]
    stop = threading.Event()

    class Camera(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            index = 0
            try:
                while not stop.is_set():
                    jpeg = frames[index % len(frames)]
                    head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                    self.wfile.write(head + jpeg + b"\r\n")
                    index += 1
                    stop.wait(0.02)
            except OSError:
                pass  # the client went away

    server = ThreadingHTTPServer(("127.0.0.1", 0), Camera)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/video.mjpg"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_http_mjpeg_camera_is_read_raw_and_decoded_small(mjpeg_camera: str) -> None:
    source = StreamSource(mjpeg_camera)
    source.open()
    try:
        assert source.raw
        assert all(source.grab() for _ in range(3))
        picture = source.retrieve_picture(144, colour_width=320)
        assert picture is not None and picture.jpeg is not None
        assert picture.analysis.shape == (240, 320) and picture.size == (640, 480)
        assert picture.colour(320).shape == (240, 320, 3)
    finally:
        source.close()
