"""Acknowledgement links over HTTP, against the real hub: a real post presses its panic button,
the officer's page arrives at the sink, and its one-tap link is used the way a phone (or a chat
app's preview robot, or someone with a doctored link) would.

The token in /ack/<payload>.<signature> is the only credential; there is no alert id in the path
other than the one inside the signed payload, so "another alert's link" means a payload naming
another alert: spliced under the wrong signature, re-encoded, or signed with another secret.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from hub.paging.ack_links import AckLinks
from tests.support import HubHarness, post_entry, wait_for

LINK = re.compile(r"https?://\S+?(/ack/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")
SECRET = "k" * 40  # the hub's ack_link_secret, so the tests can sign their own (expired) links
BROWSER = (
    "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36"
)
TAP = {  # what a phone's browser sends when the officer taps the link
    "User-Agent": BROWSER,
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Site": "none",
    "Sec-Fetch-User": "?1",
}
PREVIEW_ROBOTS = (
    "WhatsApp/2.23.20.0 A",
    "TelegramBot (like TwitterBot)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
)
EXPECTED_HEADERS = {
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "x-robots-tag": "noindex, nofollow",
}


@dataclass
class Paged:
    hub: HubHarness
    alert_id: str
    path: str  # /ack/<token>, taken from the officer's page
    post: Any  # the SimulatedPost that pressed

    @property
    def token(self) -> str:
        return self.path.removeprefix("/ack/")

    def url(self, suffix: str = "") -> str:
        assert self.hub.web is not None
        return self.hub.web.url + self.path + suffix

    def alert(self) -> dict[str, Any]:
        return self.hub.client("viewer").get(f"/api/alerts/{self.alert_id}").json()


def _payload(token: str) -> dict[str, Any]:
    payload = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _encode(body: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _page_and_alert(hub: HubHarness, sink, post, recipient: str, device: str) -> Paged:
    """Press `post`'s panic button; the ack link `recipient` received, and its alert once `notified`."""
    post.press()
    page = sink.wait_for(lambda r: r.path == f"/{recipient}" and LINK.search(r.body.get("message", "")), timeout=15)
    assert page is not None, f"{recipient} was not paged with an ack link"
    path = LINK.search(page.body["message"]).group(1)
    api = hub.client("viewer")
    alert = wait_for(
        lambda: next(
            (a for a in api.get("/api/alerts").json() if a["device"] == device and a["state"] == "notified"), None
        ),
        what=f"{device}'s alert notified",
    )
    paged = Paged(hub, alert["id"], path, post)
    assert _payload(paged.token)["a"] == alert["id"]  # the link is bound to this alert
    return paged


def _actions(alert: dict[str, Any]) -> list[str]:
    return [entry["action"] for entry in alert["timeline"]]


def _assert_untouched(paged: Paged) -> None:
    alert = paged.alert()
    assert alert["state"] == "notified", alert
    assert alert["acknowledged_by"] is None and alert["ack_channel"] is None
    assert "acknowledged" not in _actions(alert) and "en_route" not in _actions(alert)


def _assert_security_headers(response: httpx.Response) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers.get(name))
    csp = [part.strip() for part in response.headers["content-security-policy"].split(";")]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp, csp
    assert not any(part.startswith("script-src") for part in csp), csp  # the page needs no script at all


@pytest.fixture
def one_alert(make_hub, make_post, sink) -> Paged:
    hub = make_hub(
        [post_entry("pos-rw01", "Pos Kamling RW 01", village="Sukamaju")],
        officers=[{"name": "Bripka Agus", "urls": [sink.url("agus")], "language": "en"}],
        ack_link_secret=SECRET,
    )
    post = make_post("pos-rw01")
    wait_for(lambda: post.agent.connected, what="post connected")
    return _page_and_alert(hub, sink, post, "agus", "pos-rw01")


def test_link_scanners_get_the_page_but_do_not_acknowledge(one_alert: Paged) -> None:
    # Mail and SMS gateways fetch links to scan them, often with a browser's User-Agent but no
    # browser navigation headers; none of them may answer for the officer.
    for headers in ({"User-Agent": BROWSER}, {}, {"User-Agent": BROWSER, "Sec-Fetch-Mode": "no-cors"}):
        response = httpx.get(one_alert.url(), headers=headers, timeout=10)
        assert response.status_code == 200, (headers, response.text)
        assert 'data-state="notified"' in response.text
        assert f'<form method="post" action="{one_alert.path}">' in response.text  # the officer taps instead
        _assert_untouched(one_alert)
    tapped = httpx.get(one_alert.url(), headers=TAP, timeout=10)  # then the officer's own tap
    assert 'data-state="acknowledged"' in tapped.text


def test_preview_robots_get_the_page_but_do_not_acknowledge(one_alert: Paged) -> None:
    for agent in PREVIEW_ROBOTS:
        response = httpx.get(one_alert.url(), headers={**TAP, "User-Agent": agent}, timeout=10)
        assert response.status_code == 200, (agent, response.text)
        assert 'data-state="notified"' in response.text
        assert "Pos Kamling RW 01" in response.text and "Sukamaju" in response.text
        assert f'<form method="post" action="{one_alert.path}">' in response.text  # the officer taps instead
        _assert_security_headers(response)
        _assert_untouched(one_alert)
    # A HEAD (link checkers) must not acknowledge either.
    head = httpx.head(one_alert.url(), headers=TAP, timeout=10)
    assert head.status_code == 405
    _assert_untouched(one_alert)
    assert one_alert.post.led_state() == "alert_open"


def test_post_acknowledges_names_the_officer_then_en_route(one_alert: Paged) -> None:
    post = one_alert.post
    before = len(one_alert.alert()["timeline"])

    tapped = httpx.post(one_alert.url(), timeout=10)
    assert tapped.status_code == 303 and tapped.headers["location"] == one_alert.path
    _assert_security_headers(tapped)
    alert = one_alert.alert()
    assert alert["state"] == "acknowledged"
    assert (alert["acknowledged_by"], alert["ack_channel"]) == ("Bripka Agus", "link")
    last = alert["timeline"][-1]
    assert (last["action"], last["actor"], last["detail"]) == ("acknowledged", "Bripka Agus", "via link")
    assert len(alert["timeline"]) == before + 1
    wait_for(lambda: post.led_state() == "alert_acknowledged", what="post shows help is coming")

    page = httpx.get(one_alert.url(), headers=TAP, timeout=10)
    assert page.status_code == 200
    assert 'data-state="acknowledged"' in page.text and '<dd id="acknowledged-by">Bripka Agus' in page.text
    assert f'action="{one_alert.path}"' not in page.text  # no second "acknowledge" button
    assert f'action="{one_alert.path}/en-route"' in page.text
    assert "I&#39;m on my way" in page.text or "I'm on my way" in page.text  # the officer reads English

    again = httpx.post(one_alert.url(), timeout=10)  # a second tap changes nothing
    assert again.status_code == 303 and len(one_alert.alert()["timeline"]) == before + 1

    moving = httpx.post(one_alert.url("/en-route"), timeout=10)
    assert moving.status_code == 303 and moving.headers["location"] == one_alert.path
    _assert_security_headers(moving)
    alert = one_alert.alert()
    assert alert["state"] == "en_route" and alert["acknowledged_by"] == "Bripka Agus"
    assert (alert["timeline"][-1]["action"], alert["timeline"][-1]["actor"]) == ("en_route", "Bripka Agus")
    wait_for(lambda: post.led_state() == "alert_en_route", what="post shows the officer is on the way")

    page = httpx.get(one_alert.url(), headers=TAP, timeout=10)
    assert 'data-state="en_route"' in page.text and "/en-route" not in page.text
    assert httpx.get(one_alert.url("/snapshot"), timeout=10).status_code == 404  # no camera on this post


def test_en_route_straight_from_the_link_also_acknowledges(one_alert: Paged) -> None:
    moving = httpx.post(one_alert.url("/en-route"), timeout=10)
    assert moving.status_code == 303
    alert = one_alert.alert()
    assert alert["state"] == "en_route"
    assert (alert["acknowledged_by"], alert["ack_channel"]) == ("Bripka Agus", "en_route")
    assert _actions(alert)[-2:] == ["acknowledged", "en_route"]


def _refused(paged: Paged, path: str, status: int, message: str) -> None:
    """Every use of `path` (GET from a phone, both buttons, the snapshot) is refused; nothing changes."""
    assert paged.hub.web is not None
    base = paged.hub.web.url + path
    for method, url in (("GET", base), ("POST", base), ("POST", base + "/en-route"), ("GET", base + "/snapshot")):
        response = httpx.request(method, url, headers=TAP, timeout=10)
        assert response.status_code == status, (method, url, response.status_code, response.text)
        assert '<p id="error">' + message + "</p>" in response.text, response.text
        assert "location" not in response.headers
        _assert_security_headers(response)
    _assert_untouched(paged)


def test_an_expired_link_is_refused_with_a_clear_page_and_changes_nothing(one_alert: Paged) -> None:
    an_hour_ago = AckLinks(SECRET.encode(), ttl=600, clock=lambda: time.time() - 3600)
    expired = an_hour_ago.issue(one_alert.alert_id, "Bripka Agus", "en")
    _refused(one_alert, f"/ack/{expired}", 410, "Tautan sudah kedaluwarsa. Hubungi piket Polsek.")
    assert one_alert.post.led_state() == "alert_open"
    # The officer's own (valid) link still works afterwards.
    assert httpx.post(one_alert.url(), timeout=10).status_code == 303
    assert one_alert.alert()["state"] == "acknowledged"


def test_a_link_from_a_hub_with_a_short_ack_link_ttl_expires(make_hub, make_post, sink) -> None:
    hub = make_hub(
        [post_entry("pos-rw02")], officers=[{"name": "Aiptu Budi", "urls": [sink.url("budi")]}], ack_link_ttl=0.05
    )
    post = make_post("pos-rw02")
    wait_for(lambda: post.agent.connected, what="post connected")
    paged = _page_and_alert(hub, sink, post, "budi", "pos-rw02")
    # A preview robot's GET never acknowledges, so polling with it cannot spoil the test.
    wait_for(
        lambda: httpx.get(paged.url(), headers={"User-Agent": PREVIEW_ROBOTS[0]}, timeout=10).status_code == 410,
        what="the hub's own link to expire",
    )
    _refused(paged, paged.path, 410, "Tautan sudah kedaluwarsa. Hubungi piket Polsek.")


def test_another_alerts_link_cannot_touch_this_alert(make_hub, make_post, sink) -> None:
    hub = make_hub(
        [post_entry("pos-a", "Pos A", village="Sukamaju"), post_entry("pos-b", "Pos B", village="Mekarsari")],
        officers=[
            {"name": "Bripka Agus", "urls": [sink.url("agus")], "villages": ["Sukamaju"]},
            {"name": "Aipda Sari", "urls": [sink.url("sari")], "villages": ["Mekarsari"]},
        ],
        ack_link_secret=SECRET,
    )
    post_a, post_b = make_post("pos-a"), make_post("pos-b")
    wait_for(lambda: post_a.agent.connected and post_b.agent.connected, what="posts connected")
    a = _page_and_alert(hub, sink, post_a, "agus", "pos-a")
    b = _page_and_alert(hub, sink, post_b, "sari", "pos-b")
    assert a.alert_id != b.alert_id
    a_payload, a_signature = a.token.split(".")
    b_payload, b_signature = b.token.split(".")

    invalid = "Tautan tidak sah."
    # B's payload under A's signature, and the reverse.
    _refused(b, f"/ack/{b_payload}.{a_signature}", 403, invalid)
    _refused(a, f"/ack/{a_payload}.{b_signature}", 403, invalid)
    # A's link with the alert id inside rewritten to B's (officer, expiry and signature kept).
    swapped = _encode(_payload(a.token) | {"a": b.alert_id})
    _refused(b, f"/ack/{swapped}.{a_signature}", 403, invalid)
    # A well-formed link for B signed with another secret (another hub, or a guess).
    other = AckLinks(b"another-hub-secret-0123456789", ttl=3600).issue(b.alert_id, "Aipda Sari")
    _refused(b, f"/ack/{other}", 403, invalid)
    _assert_untouched(a)

    # A's genuine link acknowledges A, and only A.
    assert httpx.post(a.url(), timeout=10).status_code == 303
    assert a.alert()["state"] == "acknowledged" and a.alert()["acknowledged_by"] == "Bripka Agus"
    _assert_untouched(b)


def test_tampered_and_malformed_tokens_are_refused(one_alert: Paged) -> None:
    payload, signature = one_alert.token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    longer = _encode(_payload(one_alert.token) | {"e": _payload(one_alert.token)["e"] + 10**6})
    for token in (
        f"{payload}.{flipped}",  # one character of the signature changed
        f"{payload}.{signature[:-4]}",  # signature truncated
        f"{payload}.",  # signature dropped
        f"{longer}.{signature}",  # expiry pushed out
        f"{payload}.{signature}.{signature}",  # extra part
        payload + "." + "A" * 2000,  # oversized
    ):
        _refused(one_alert, f"/ack/{token}", 403, "Tautan tidak sah.")


def test_a_valid_link_for_an_alert_the_hub_does_not_know(one_alert: Paged) -> None:
    unknown = AckLinks(SECRET.encode(), ttl=600).issue("01HZZZZZZZZZZZZZZZZZZZZZZZ", "Bripka Agus", "en")
    _refused(one_alert, f"/ack/{unknown}", 404, "Alert not found.")
