"""End to end with cameras: a real agent reads a video file, the real hub stores and serves the snapshot.

Real Mosquitto, real hub (ingest, alerts, API), a real edge agent on mock pins whose camera
reads an MJPG file written from a synthetic clip. Detection settings are tuned for test
speed (short cooldown and health delays); the code path is the production one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.camera.config import CameraConfig
from edge.camera.synthetic import make_clip, write_clip
from tests.support import post_entry, wait_for

pytestmark = pytest.mark.e2e


def camera(name: str, source: str, **extra: Any) -> CameraConfig:
    settings: dict[str, Any] = {"name": name, "source": source, "detect_fps": 5, "cooldown_s": 1} | extra
    return CameraConfig.model_validate(settings)


def events_of(api, device: str, kind: str) -> list[dict[str, Any]]:
    return api.get("/api/events", params={"device": device, "kind": kind}).json()["items"]


def alerts_of(api, kind: str) -> list[dict[str, Any]]:
    return [alert for alert in api.get("/api/alerts").json() if alert["kind"] == kind]


def test_motion_on_a_video_file_reaches_the_hub_with_its_snapshot(make_hub, make_post, sink, tmp_path: Path) -> None:
    clip = make_clip("crossing", 320, 240, fps=10, length=40, seed=5)
    video = write_clip(clip, tmp_path / "gate.avi")
    hub = make_hub([post_entry("pos-cam01", "Pos Kamling RW 07")])
    post = make_post("pos-cam01", cameras=[camera("gate", f"file:{video}")])
    api = hub.client("viewer")

    start = wait_for(
        lambda: next((e for e in events_of(api, "pos-cam01", "motion") if e["data"]["phase"] == "start"), None),
        timeout=30,
        what="motion start event at the hub",
    )
    assert start["data"]["camera"] == "gate" and start["data"]["armed"] is True
    assert start["data"]["boxes"] and 0 < start["data"]["area"] < 0.5

    # The JPEG travelled on snapshot/<event_id> and is served by the API.
    response = wait_for(
        lambda: (r := api.get(f"/api/events/{start['id']}/snapshot")).status_code == 200 and r,
        what="snapshot served",
    )
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content.startswith(b"\xff\xd8\xff")
    picture = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape == (240, 320, 3)
    assert (hub.data_dir / "snapshots" / "pos-cam01" / f"{start['id']}.jpg").is_file()  # a file, not in TinyDB

    # Armed (no windows = always): a motion alert, and the duty officer is paged.
    alert = wait_for(lambda: alerts_of(api, "motion"), what="motion alert")[0]
    assert alert["device"] == "pos-cam01" and start["id"] in alert["event_ids"]
    assert sink.wait_for(lambda r: r.path == "/officer", timeout=15) is not None

    # Unknown ids and events without a picture: 404.
    assert api.get("/api/events/01HZZZZZZZZZZZZZZZZZZZZZZZ/snapshot").status_code == 404
    assert api.get("/api/events/not-an-id/snapshot").status_code == 404
    assert hub.client(None).get(f"/api/events/{start['id']}/snapshot").status_code == 401

    # Events and snapshots were acked and left the outbox; health carries the camera's fps.
    wait_for(lambda: post.agent.outbox.depth() == 0, timeout=15, what="outbox drained")
    assert post.agent.cameras is not None and post.agent.cameras.fps()["gate"] is not None
    # The camera joins the health report once it delivers frames (left out while it warms up).
    health = wait_for(
        lambda: (h := api.get("/api/posts").json()[0]["health"]) and (h.get("cameras") or {}).get("gate") and h,
        what="the camera's fps in the health telemetry at the hub",
    )
    assert health["cameras"]["gate"] > 0


def test_covered_lens_raises_a_tamper_alert_with_a_snapshot(make_hub, make_post, tmp_path: Path) -> None:
    clip = make_clip("covered", 320, 240, fps=10, length=120, seed=2)  # covered after 1.2 s, for 10.8 s
    video = write_clip(clip, tmp_path / "yard.avi")
    hub = make_hub([post_entry("pos-cam02")])
    make_post("pos-cam02", cameras=[camera("yard", f"file:{video}", health={"blank_after_s": 1, "clear_after_s": 1})])
    api = hub.client("viewer")

    alert = wait_for(lambda: alerts_of(api, "tamper"), timeout=30, what="tamper alert")[0]
    assert alert["device"] == "pos-cam02"
    # The alert is raised before the event's log commit (the alert path never waits on disk): wait for the log.
    tamper = wait_for(
        lambda: next((e for e in events_of(api, "pos-cam02", "tamper") if e["id"] in alert["event_ids"]), None),
        what="the tamper event in the log",
    )
    assert tamper["data"] | {"duration_s": 0} == {
        "camera": "yard",
        "state": "detected",
        "reason": "covered",
        "duration_s": 0,
        "severity": "warning",
    }
    response = wait_for(
        lambda: (r := api.get(f"/api/events/{tamper['id']}/snapshot")).status_code == 200 and r, what="tamper snapshot"
    )
    assert cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR) is not None


def test_lost_camera_raises_a_camera_alert_and_recovery_resolves_it(make_hub, make_post, tmp_path: Path) -> None:
    video = tmp_path / "back.avi"  # not there yet: the camera "is unplugged"
    hub = make_hub([post_entry("pos-cam03")])
    make_post("pos-cam03", cameras=[camera("back", f"file:{video}", health={"lost_after_s": 1})])
    api = hub.client("viewer")

    alert = wait_for(lambda: alerts_of(api, "camera"), timeout=30, what="camera alert")[0]
    lost = wait_for(lambda: (found := events_of(api, "pos-cam03", "camera")) and found[0], what="the event in the log")
    assert lost["data"]["camera"] == "back" and lost["data"]["state"] == "lost"
    assert lost["id"] in alert["event_ids"]
    assert api.get(f"/api/events/{lost['id']}/snapshot").status_code == 404  # nothing to show

    write_clip(make_clip("static", 320, 240, fps=10, length=30), video)  # plugged back in
    restored = wait_for(
        lambda: [e for e in events_of(api, "pos-cam03", "camera") if e["data"]["state"] == "restored"],
        timeout=45,
        what="camera restored event",
    )
    assert restored[0]["data"]["camera"] == "back"
    wait_for(lambda: api.get(f"/api/alerts/{alert['id']}").json()["state"] == "resolved", what="camera alert resolved")
