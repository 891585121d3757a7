"""End to end: press, first officer paged, no answer, next level paged, ack by the phone link,
the post shows "acknowledged", then "on the way" from the same link."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import post_entry, wait_for

pytestmark = pytest.mark.e2e

LINK = re.compile(r"https?://\S+(/ack/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")


def test_unanswered_panic_escalates_and_ack_link_reaches_the_post(make_hub, make_post, sink) -> None:
    hub = make_hub(
        [post_entry("pos-rw01", "Pos Kamling RW 01", village="Sukamaju")],
        officers=[],
        alert_rules={"panic": {"levels": 3, "after": 2.0}},
    )
    admin = hub.client("admin")
    bhabin = {
        "name": "Bripka Agus",
        "rank": "Bhabinkamtibmas",
        "villages": ["Sukamaju"],
        "urls": [sink.url("agus")],
        "level": 1,
        "always_on_duty": True,
    }
    kanit = {
        "name": "Iptu Kanit",
        "rank": "Kanit Binmas",
        "urls": [sink.url("kanit")],
        "level": 2,
        "always_on_duty": True,
        "language": "en",
    }
    other_village = {
        "name": "Aipda Sari",
        "villages": ["Mekarsari"],
        "urls": [sink.url("sari")],
        "always_on_duty": True,
    }
    for officer_id, body in (("agus", bhabin), ("kanit", kanit), ("sari", other_village)):
        response = admin.put(f"/api/officers/{officer_id}", json=body)
        assert response.status_code == 200, response.text
        assert "json://…" in response.json()["urls"]  # contact secrets are never listed back
    assert hub.client("viewer").put("/api/officers/x", json=bhabin).status_code == 403

    post = make_post("pos-rw01")
    wait_for(lambda: post.agent.connected, what="post connected")
    post.press()

    first = sink.wait_for(lambda r: r.path == "/agus", timeout=15)
    assert first is not None, "the village officer was not paged"
    assert LINK.search(first.body["message"]), first.body["message"]
    wait_for(lambda: post.led_state() == "alert_open", what="post shows the alarm was received")
    assert not any(r.path == "/kanit" for r in sink.received)  # not before the escalation time

    second = sink.wait_for(lambda r: r.path == "/kanit", timeout=15)
    assert second is not None, "no escalation to the Kanit"
    assert "ESCALATED" in second.body["message"]  # the Kanit reads English
    assert sink.wait_for(lambda r: r.path == "/agus" and "PENGINGAT" in r.body["message"], timeout=10)
    assert not any(r.path == "/sari" for r in sink.received)  # another village's officer is never paged

    # The link names the hub's public_url; the test hub listens on a free port instead.
    link = hub.web.url + LINK.search(second.body["message"]).group(1)
    tap = {"User-Agent": "Mozilla/5.0 (Linux; Android 13) Chrome/124.0 Mobile", "Sec-Fetch-Mode": "navigate"}
    page = httpx.get(link, headers=tap, timeout=10)
    assert page.status_code == 200, page.text
    assert 'data-state="acknowledged"' in page.text and "Iptu Kanit" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    wait_for(lambda: post.led_state() == "alert_acknowledged", what="post shows the officer answered")

    api = hub.client("viewer")
    alert = api.get("/api/alerts").json()[0]
    assert alert["acknowledged_by"] == "Iptu Kanit" and alert["ack_channel"] == "link"
    actions = [e["action"] for e in alert["timeline"]]
    assert "paging" in actions and "escalated" in actions and actions[-1] == "acknowledged"

    moving = httpx.post(f"{link}/en-route", timeout=10, follow_redirects=True)
    assert moving.status_code == 200 and 'data-state="en_route"' in moving.text
    wait_for(lambda: post.led_state() == "alert_en_route", what="post shows the officer is on the way")

    # The acknowledgement stopped the escalation: no page to a third level, no more reminders.
    pages = len(sink.received)
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert httpx.get(forged, timeout=10).status_code == 403
    report = api.get("/api/reports").json()
    assert report["per_officer"][0]["officer"] == "Iptu Kanit" and report["per_officer"][0]["acknowledged"] == 1
    assert len(sink.received) == pages
