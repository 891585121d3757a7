"""The dashboard under its Content-Security-Policy (issue 18), in a real browser: every page loads
and works with no CSP violation, live updates still arrive, and map tiles from the one configured
tile server load. A violation shows both as a console error and as a `securitypolicyviolation`
event; the test collects both, so any blocked script, style, image or connection fails it."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from poskamling.net import free_port
from tests.browser.test_console import DEADLINE_MS, log_in, strong_password
from tests.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

# A 1x1 transparent PNG: what the fake tile server answers for every tile.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082"
)

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '(inline)'));
});
"""


@pytest.fixture
def tile_server() -> Iterator[tuple[str, list[str]]]:
    """A tile server on another origin (another port): its URL template and the paths it served."""
    served: list[str] = []

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/{{z}}/{{x}}/{{y}}.png", served
    server.shutdown()
    server.server_close()


def test_every_dashboard_page_works_under_the_csp(make_hub, make_post, new_context, tile_server) -> None:
    tile_url, tiles_served = tile_server
    hub = make_hub(
        [
            {"device_id": "pos-x", "name": "Pos Kamling RW 05", "village": "Sukamaju", "lat": -7.801, "lon": 110.371},
            {"device_id": "pos-y", "name": "Pos Kamling RW 07", "village": "Mulyorejo", "lat": -7.812, "lon": 110.392},
        ],
        map_tile_url=tile_url,
    )
    password = strong_password()
    hub.service.users.create("operator1", password, "operator")
    post = make_post("pos-x")
    wait_for(lambda: hub.service.registry.state("pos-x").online, what="pos-x online at the hub")
    base = hub.web.url

    context = new_context()
    context.add_init_script(RECORD_VIOLATIONS)
    console_errors: list[str] = []
    context.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)

    page = log_in(context, base, "operator1", password)  # the login page, the form post, the console
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-connected", "true")  # EventSource: connect-src
    post.press()
    expect(page.locator("#open-alerts [data-testid=alert-row]")).to_have_count(1, timeout=DEADLINE_MS)  # live.js ran
    alert = hub.service.alerts.all()[0]

    violations: list[str] = []  # window.__csp starts empty on every page: collect before leaving it
    violations += page.evaluate("window.__csp")
    page.goto(f"{base}/posts")
    expect(page.get_by_test_id("posts-map").locator("image").first).to_be_attached()
    wait_for(lambda: tiles_served, what="a map tile fetched from the configured tile server")
    violations += page.evaluate("window.__csp")
    for path in ("/events", "/officers", f"/alerts/{alert.id}", "/login?lang=en"):
        page.goto(f"{base}{path}")
        page.wait_for_load_state("load")
        violations += [f"{path}: {v}" for v in page.evaluate("window.__csp")]

    ack_page = context.new_page()  # the officer's phone page, under its own stricter policy
    ack_page.goto(f"{base}/ack/{hub.service.alerts.links.issue(alert.id, 'officer')}")
    ack_page.wait_for_load_state("load")
    violations += ack_page.evaluate("window.__csp")

    csp_console = [
        text for text in console_errors if "Content Security Policy" in text or "Content-Security-Policy" in text
    ]
    assert not violations and not csp_console, f"CSP violations: {violations} {csp_console}"


def test_the_violation_recorder_sees_a_blocked_inline_script(make_hub, new_context) -> None:
    """Control: the checks above would notice a violation (an inline script is refused)."""
    hub = make_hub([])
    context = new_context()
    context.add_init_script(RECORD_VIOLATIONS)
    console_errors: list[str] = []
    context.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page = context.new_page()
    page.goto(f"{hub.web.url}/login")
    page.evaluate(
        """() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.body.appendChild(s); }"""
    )
    wait_for(lambda: page.evaluate("window.__csp.length"), what="the violation event")
    assert page.evaluate("window.__ran === undefined")
    assert any("Content Security Policy" in text for text in console_errors)
