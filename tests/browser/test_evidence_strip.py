"""The alert page in a real browser (issue 15): the pictures from around a press appear in order, live."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from playwright.sync_api import expect

from edge.camera.config import CameraConfig
from edge.camera.synthetic import make_clip, write_clip
from tests.browser.test_console import log_in
from tests.support import post_entry, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_the_strip_fills_in_without_a_reload_oldest_first(
    make_hub, make_post, new_context, screenshot, tmp_path: Path
) -> None:
    video = write_clip(make_clip("crossing", 320, 240, fps=10, length=100, seed=4), tmp_path / "gate.avi")
    hub = make_hub([post_entry("pos-cam06", "Pos Kamling RW 06")], alert_rules={"motion": {"page": False}})
    camera = CameraConfig.model_validate({"name": "gate", "source": f"file:{video}", "detect_fps": 5})
    post = make_post("pos-cam06", cameras=[camera])
    password = "Pw-" + secrets.token_urlsafe(18)
    hub.service.users.create("viewer1", password, "viewer")
    cameras = post.agent.cameras
    assert cameras is not None
    wait_for(lambda: cameras.stats()["gate"].evidence_frames >= 6, timeout=30, what="3 s of frames in the ring")

    post.press()
    alert = wait_for(
        lambda: next((a for a in hub.service.alerts.all() if a.kind.value == "panic"), None), what="panic alert"
    )
    page = log_in(new_context(), hub.web.url, "viewer1", password, f"/alerts/{alert.id}")

    # The "+3 s" picture is taken 3 s after the press: the open page shows it when it lands, no reload.
    frames = page.locator("[data-testid=evidence] figure")
    expect(frames).to_have_count(3, timeout=30_000)
    offsets = [frames.nth(i).get_attribute("data-offset") or "" for i in range(3)]
    values = [float(o.replace("\u2212", "-")) for o in offsets]
    assert values == sorted(values) and values[0] < -1 and abs(values[1]) < 1 and values[2] > 2
    expect(frames.nth(1)).to_contain_text(re.compile(r"saat ditekan"))
    expect(frames.nth(0)).to_contain_text(f"{offsets[0]} dtk")
    images = page.locator("[data-testid=evidence] img")
    wait_for(
        lambda: all(images.nth(i).evaluate("img => img.complete && img.naturalWidth === 320") for i in range(3)),
        what="the three pictures loaded",
    )
    screenshot(page, "alert-evidence-strip")
