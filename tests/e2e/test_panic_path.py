"""End to end: a guard presses the panic button; the officer is paged; everything is visible."""

from __future__ import annotations

import json

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support import add_monitor, post_entry, wait_for

pytestmark = pytest.mark.e2e


def test_press_pages_officer_logs_event_and_tells_post(make_hub, make_post, sink) -> None:
    hub = make_hub([post_entry("pos-rw01", "Pos Kamling RW 01")])
    post = make_post("pos-rw01")
    api = hub.client("operator")

    wait_for(lambda: api.get("/api/posts").json()[0]["online"], what="post online at the hub")
    assert post.led_state() == "connected"

    post.press()

    # The officer's phone (a local JSON sink behind an apprise json:// URL) gets the page.
    page = sink.wait_for(lambda r: r.path == "/officer", timeout=15)
    assert page is not None, "officer was not paged"
    assert "PANIK" in page.body["title"] and "Pos Kamling RW 01" in page.body["title"]
    assert "Tombol" not in page.body["message"]  # the body names the kind, the post and a link
    assert "/alerts/" in page.body["message"]

    events = wait_for(lambda: api.get("/api/events", params={"device": "pos-rw01", "kind": "panic"}).json()["items"])
    assert len(events) == 1 and events[0]["seq"] == 1 and events[0]["test"] is False

    alerts = api.get("/api/alerts").json()
    assert len(alerts) == 1 and alerts[0]["kind"] == "panic" and alerts[0]["severity"] == "critical"
    alert_id = alerts[0]["id"]
    wait_for(lambda: api.get(f"/api/alerts/{alert_id}").json()["state"] == "notified", what="alert notified")

    # The post got its ack (outbox empty) and shows the open alert, then "help is coming".
    wait_for(lambda: post.agent.outbox.depth() == 0, what="event acked and removed from the outbox")
    wait_for(lambda: post.led_state() == "alert_open", what="post LED shows the open alert")
    response = api.post(f"/api/alerts/{alert_id}/ack")
    assert response.status_code == 200, response.text
    assert response.json()["acknowledged_by"] == "test-operator"
    wait_for(lambda: post.led_state() == "alert_acknowledged", what="post LED shows help is coming")

    # A second press while the alert is open joins it: logged, but no second page.
    post.press()
    wait_for(lambda: len(api.get(f"/api/alerts/{alert_id}").json()["event_ids"]) == 2, what="repeat joined")
    assert len(api.get("/api/alerts").json()) == 1
    assert len([r for r in sink.received if r.path == "/officer"]) == 1

    resolved = api.post(f"/api/alerts/{alert_id}/resolve", json={"outcome": "false_alarm", "note": "anak bermain"})
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    wait_for(lambda: post.led_state() == "connected", what="post LED back to normal")


def test_post_receives_ack_and_alert_messages_on_its_topics(make_hub, make_post, broker) -> None:
    """Watch the wire: the hub publishes `ack` and `alert` to the post's own topics."""
    make_hub([post_entry("pos-rw02")])
    seen: list[tuple[str, dict]] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watcher", protocol=mqtt.MQTTv5)
    watcher.username_pw_set(*add_monitor(broker))  # the hub user may not read acks
    watcher.on_message = lambda _c, _u, m: seen.append((m.topic, json.loads(m.payload)))
    watcher.connect(broker.host, broker.port)
    watcher.subscribe("kamling/v1/pos-rw02/#", qos=1)
    watcher.loop_start()
    try:
        post = make_post("pos-rw02")
        wait_for(lambda: any(t.endswith("/status") and p["state"] == "online" for t, p in seen), what="online status")
        post.press()
        wait_for(lambda: any(t.endswith("/ack") for t, _ in seen), what="ack on the wire")
        wait_for(lambda: any(t.endswith("/alert") for t, _ in seen), what="alert update on the wire")
        event = next(p for t, p in seen if t.endswith("/event"))
        ack = next(p for t, p in seen if t.endswith("/ack"))
        assert ack["ids"] == [event["id"]]
        states = [p["state"] for t, p in seen if t.endswith("/alert")]
        assert states[0] == "new"
        wait_for(lambda: "notified" in [p["state"] for t, p in seen if t.endswith("/alert")], what="notified state")
    finally:
        watcher.loop_stop()
        watcher.disconnect()


def test_events_survive_a_hub_that_is_down_when_the_button_is_pressed(make_hub, make_post, sink, broker) -> None:
    """Pressed while the hub is down: the edge keeps it and the hub pages once it returns."""
    post = make_post("pos-rw03")
    wait_for(lambda: post.agent.connected, what="post connected")
    post.press()
    wait_for(lambda: post.agent.stats["published"] >= 1, what="event published with no hub")
    assert post.agent.outbox.depth() == 1  # not acked: nobody stored it yet
    make_hub([post_entry("pos-rw03")])
    page = sink.wait_for(lambda r: "PANIK" in r.body.get("title", ""), timeout=20)
    assert page is not None
    wait_for(lambda: post.agent.outbox.depth() == 0, timeout=20, what="event acked after hub start")
