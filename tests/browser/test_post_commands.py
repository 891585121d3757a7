"""A post's page in a real browser (issue 15): the operator presses "Ping pos" and "Ambil foto sekarang" and
sees the answer (round trip in ms) and the picture appear without a reload; CSP-clean (no inline script)."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from edge.camera.config import CameraConfig
from tests.browser.test_console import log_in
from tests.support import post_entry, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_operator_pings_a_post_and_takes_a_picture_from_its_page(make_hub, make_post, new_context, screenshot) -> None:
    hub = make_hub([post_entry("pos-web1", "Pos Kamling RW 09")])
    password = "Pw-" + secrets.token_urlsafe(18)
    hub.service.users.create("operator1", password, "operator")
    gate = CameraConfig.model_validate({"name": "gate", "source": "synthetic:static:320x240", "detect_fps": 5})
    post = make_post("pos-web1", cameras=[gate])
    wait_for(lambda: hub.service.registry.state("pos-web1").online, what="post online at the hub")
    wait_for(lambda: post.agent.cameras.snapshot() is not None, timeout=30, what="the camera has a frame")

    page = log_in(new_context(), hub.web.url, "operator1", password, "/posts/pos-web1")
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-connected", "true")
    expect(page.get_by_text("Belum ada perintah.")).to_be_visible()

    page.get_by_test_id("cmd-ping").click()
    expect(page.get_by_test_id("command-state").first).to_have_text("Selesai")
    expect(page.get_by_test_id("command-rtt").first).to_have_text(re.compile(r"^waktu pulang-pergi [0-9.]+ ms$"))

    page.get_by_test_id("cmd-snapshot").click()
    picture = page.get_by_test_id("command-pictures").locator("img")
    expect(picture).to_have_count(1)
    wait_for(lambda: picture.evaluate("img => img.complete && img.naturalWidth") == 320, what="the picture shown")
    screenshot(page, "post-commands")
    assert errors == []
