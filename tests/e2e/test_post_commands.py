"""Operators' commands to posts (issue 15), end to end: real Mosquitto, the real hub and real edge agents
on MockFactory pins. The siren pin changes, a picture arrives and shows on the post's page, a ping is
answered with its round trip; an offline post gets a command on return only if it has not expired;
hostile replies get a definite outcome and never break the page."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.camera.config import CameraConfig
from edge.config import BuzzerConfig
from kamling.protocol import new_event_id, utc_now
from poskamling.sim import BUZZER_PIN, SimulatedPost
from tests.support import add_device, post_entry, wait_for

pytestmark = pytest.mark.e2e


def login(hub: Any, username: str, role: str) -> tuple[httpx.Client, str]:
    password = "Pw-" + secrets.token_urlsafe(16)
    hub.service.users.create(username, password, role)
    client = httpx.Client(base_url=hub.web.url, timeout=10)
    assert client.post("/login", data={"username": username, "password": password, "next": "/"}).status_code == 303
    return client, client.get("/api/auth/me").json()["csrf_token"]


def send(api: httpx.Client, device: str, name: str, **extra: Any) -> dict[str, Any]:
    response = api.post(f"/api/posts/{device}/commands", json={"name": name} | extra)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def result(api: httpx.Client, command_id: str, state: str | None = None, timeout: float = 15) -> dict[str, Any]:
    """The command once it is no longer pending (or once it is `state`)."""

    def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/api/commands/{command_id}").json()
        done = body["state"] != "pending" if state is None else body["state"] == state
        return body if done else None

    return wait_for(finished, timeout=timeout, what=f"command {command_id} {state or 'answered'}")


def highs(post: SimulatedPost) -> int:
    """How often the siren pin went high since the post's pins were made."""
    return sum(1 for state in post.factory.pin(BUZZER_PIN).states if state.state)


def online(api: httpx.Client, device: str, value: bool) -> bool:
    return any(p["device_id"] == device and p["online"] is value for p in api.get("/api/posts").json())


def test_ping_siren_test_and_silence_on_a_real_post(make_hub, make_post) -> None:
    hub = make_hub([post_entry("pos-cmd1", "Pos Kamling RW 01")])
    post = make_post("pos-cmd1", buzzer=BuzzerConfig(pin=BUZZER_PIN, alarm_seconds=60.0))
    api = hub.client("operator")
    wait_for(lambda: online(api, "pos-cmd1", True), what="post online")

    # Ping: answered, with the round trip measured; even from a post whose own clock is 2 hours fast,
    # because the deadline comes from the MQTT message expiry, not from the post's clock.
    post.agent.commands.wallclock = lambda: utc_now() + timedelta(hours=2)
    ping = result(api, send(api, "pos-cmd1", "ping")["id"])
    assert ping["state"] == "done" and ping["rtt_ms"] is not None and ping["rtt_ms"] >= 0
    assert ping["actor"] == "test-operator"

    # Siren test: the pin beeps for the bounded time, then stops by itself.
    before = highs(post)
    siren = result(api, send(api, "pos-cmd1", "test_siren")["id"])
    assert siren["state"] == "done"
    wait_for(lambda: highs(post) >= before + 2, what="the siren pin beeping")
    assert post.hardware.buzzer is not None
    wait_for(lambda: highs(post) >= before + 6 and post.factory.pin(BUZZER_PIN).state == 0, what="3 s of beeps")

    # Silence during a panic: the siren stops, the panic alert stays open.
    post.press()
    alert = wait_for(lambda: [a for a in api.get("/api/alerts").json() if a["kind"] == "panic"], what="panic alert")[0]
    sounding = wait_for(lambda: highs(post) > before + 6 and highs(post), what="the panic siren")
    silence = result(api, send(api, "pos-cmd1", "silence_siren")["id"])
    assert silence["state"] == "done" and post.factory.pin(BUZZER_PIN).state == 0
    quiet = highs(post)
    assert quiet >= sounding
    result(api, send(api, "pos-cmd1", "ping")["id"])  # a round trip later: still quiet (60 s alarm cut short)
    assert highs(post) == quiet and post.factory.pin(BUZZER_PIN).state == 0
    assert api.get(f"/api/alerts/{alert['id']}").json()["open"] is True

    # What a person sees on the post's page, and what the audit log holds.
    page, _ = login(hub, "opr1", "operator")
    html = page.get("/posts/pos-cmd1").text
    assert 'data-testid="cmd-ping"' in html and 'data-testid="command-rtt"' in html
    assert html.count('data-state="done"') == 4
    admin = hub.client("admin")
    audit = admin.get("/api/admin/audit", params={"action": "post.command"}).json()
    issued = [e for e in audit if e["action"] == "post.command"]
    results = [e for e in audit if e["action"] == "post.command.result"]
    assert len(issued) == 4 and {e["detail"]["name"] for e in issued} == {"ping", "test_siren", "silence_siren"}
    wait_for(
        lambda: len([e for e in admin.get("/api/admin/audit", params={"action": "post.command.result"}).json()]) == 4,
        what="every result audited",
    )
    assert all(e["target"] == "pos-cmd1" for e in issued + results)


def test_a_picture_taken_on_command_shows_on_the_post_page(make_hub, make_post) -> None:
    hub = make_hub([post_entry("pos-cmd2")])
    gate = CameraConfig.model_validate({"name": "gate", "source": "synthetic:static:320x240", "detect_fps": 5})
    make_post("pos-cmd2", cameras=[gate])
    api = hub.client("operator")
    wait_for(lambda: online(api, "pos-cmd2", True), what="post online")

    def taken() -> dict[str, Any] | None:  # the camera may still be starting: ask again until it has a frame
        answer = result(api, send(api, "pos-cmd2", "snapshot")["id"])
        return answer if answer["state"] == "done" else None

    snap = wait_for(taken, timeout=30, interval=0.5, what="a snapshot taken")
    event_id = wait_for(lambda: api.get(f"/api/commands/{snap['id']}").json()["event_id"], what="the picture's event")
    picture = wait_for(
        lambda: (r := api.get(f"/api/events/{event_id}/snapshot")).status_code == 200 and r, what="the JPEG stored"
    )
    assert picture.content.startswith(b"\xff\xd8\xff")
    event = api.get("/api/events", params={"device": "pos-cmd2", "kind": "camera"}).json()["items"][0]
    assert event["data"] == {"camera": "gate", "state": "snapshot", "source": "command", "command": snap["id"]}
    assert all(event["id"] not in a["event_ids"] for a in api.get("/api/alerts").json())  # it raises no alert

    page, _ = login(hub, "viewer1", "viewer")
    html = page.get("/posts/pos-cmd2").text
    assert f'data-event-id="{event_id}"' in html and 'data-testid="command-pictures"' in html
    assert 'data-testid="cmd-snapshot"' not in html  # a viewer sees the results, not the buttons


def test_an_offline_post_gets_a_command_on_return_only_if_it_has_not_expired(make_hub, make_post) -> None:
    hub = make_hub([post_entry("pos-cmd3")])
    api = hub.client("operator")
    first = make_post("pos-cmd3")
    wait_for(lambda: online(api, "pos-cmd3", True), what="post online")
    first.stop()
    wait_for(lambda: online(api, "pos-cmd3", False), what="post offline")

    kept = send(api, "pos-cmd3", "test_siren", ttl_seconds=120)
    lapsed = send(api, "pos-cmd3", "test_siren", ttl_seconds=1)
    expired = result(api, lapsed["id"], "expired")
    assert expired["reason"] == "no_reply"
    page, _ = login(hub, "opr3", "operator")
    assert "Kedaluwarsa" in page.get("/posts/pos-cmd3").text  # Bahasa Indonesia by default
    assert api.get(f"/api/commands/{kept['id']}").json()["state"] == "pending"

    back = make_post("pos-cmd3")  # the same post returns (fresh pins: its siren history starts now)
    done = result(api, kept["id"], timeout=20)
    assert done["state"] == "done" and done["sends"] >= 2
    wait_for(lambda: highs(back) >= 2, what="the siren test carried out on return")
    assert back.agent.commands.stats["run"] == 1  # the expired one was never sent, so never run
    assert api.get(f"/api/commands/{lapsed['id']}").json()["state"] == "expired"


class RawDevice:
    """A bare MQTT client on a provisioned post's own credential (what a stolen Pi can do)."""

    def __init__(self, broker: Any, device: str) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{device}", protocol=mqtt.MQTTv5)
        self.client.username_pw_set(device, broker.accounts.get(device) or add_device(broker, device))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.device = device

    def reply(self, payload: bytes, device: str | None = None) -> None:
        info = self.client.publish(f"kamling/v1/{device or self.device}/reply", payload, qos=1)
        info.wait_for_publish(timeout=10)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_hostile_replies_get_a_definite_outcome_and_never_break_the_page(make_hub, make_post, broker) -> None:
    hub = make_hub([post_entry("pos-real"), post_entry("pos-evil")])
    api = hub.client("operator")
    command = send(api, "pos-real", "test_siren")  # pos-real is not up yet: the command waits
    evil = RawDevice(broker, "pos-evil")
    rejected_before = dict(hub.service.ingest.rejected)
    try:
        evil.reply(json.dumps({"id": command["id"], "name": "test_siren", "outcome": "done"}).encode())
        evil.reply(json.dumps({"id": new_event_id(), "name": "ping", "outcome": "done"}).encode())  # forged id
        evil.reply(b'{"id": "x", "outcome": "done"}')
        evil.reply(b"\xff\xfe not json")
        evil.reply(json.dumps({"id": command["id"], "outcome": "done", "details": {"x": "\ud800"}}).encode())
        evil.reply(json.dumps({"id": command["id"], "outcome": "done"}).encode(), device="pos-real")  # ACL: dropped

        def counted() -> dict[str, int]:
            now = hub.service.ingest.rejected
            return {k: now[k] - rejected_before.get(k, 0) for k in now if now[k] != rejected_before.get(k, 0)}

        wait_for(lambda: sum(counted().values()) >= 5, what="every hostile reply rejected")
        assert counted() == {"command_not_own": 1, "unknown_command": 1, "schema": 1, "bad_json": 1, "bad_unicode": 1}
    finally:
        evil.stop()
    assert api.get(f"/api/commands/{command['id']}").json()["state"] == "pending"  # nothing forged it done
    refused = hub.client("admin").get("/api/admin/audit", params={"action": "post.command.reply_refused"}).json()
    assert [(e["actor"], e["target"]) for e in refused] == [("pos-evil", "pos-real")]
    page, _ = login(hub, "opr4", "operator")
    assert page.get("/posts/pos-real").status_code == 200 and page.get("/posts/pos-evil").status_code == 200

    # A stolen Pi answering its own command with markup: stored as said, shown escaped.
    ping = send(api, "pos-real", "ping")
    stolen = RawDevice(broker, "pos-real")
    try:
        hostile = {"reason": "<script>alert(1)</script>" + "x" * 300, "extra": {"deep": [1, 2]}}
        stolen.reply(json.dumps({"id": ping["id"], "name": "ping", "outcome": "failed", "details": hostile}).encode())
        answered = result(api, ping["id"])
    finally:
        stolen.stop()
    assert answered["state"] == "failed" and answered["reason"] == hostile["reason"][:100]
    html = page.get("/posts/pos-real").text
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html

    real = make_post("pos-real")  # the real post answers for itself
    assert result(api, command["id"])["state"] == "done"
    wait_for(lambda: highs(real) >= 1, what="its siren")


def test_commands_need_an_operator_and_the_csrf_token(make_hub) -> None:
    hub = make_hub([post_entry("pos-cmd5")])
    assert hub.client("viewer").post("/api/posts/pos-cmd5/commands", json={"name": "ping"}).status_code == 403
    assert hub.client(None).post("/api/posts/pos-cmd5/commands", json={"name": "ping"}).status_code == 401
    assert hub.client("technician").post("/api/posts/pos-cmd5/commands", json={"name": "ping"}).status_code == 403
    assert hub.client("operator").post("/api/posts/pos-nope/commands", json={"name": "ping"}).status_code == 404
    for bad in ({"name": "reload"}, {"name": "ping", "ttl_seconds": 0}, {"name": "ping", "extra": 1}):
        assert hub.client("operator").post("/api/posts/pos-cmd5/commands", json=bad).status_code == 422
    assert hub.client(None).get("/api/posts/pos-cmd5/commands").status_code == 401

    session, csrf = login(hub, "opr5", "operator")
    assert session.post("/api/posts/pos-cmd5/commands", json={"name": "ping"}).status_code == 403  # no CSRF token
    sent = session.post("/api/posts/pos-cmd5/commands", json={"name": "ping"}, headers={"X-CSRF-Token": csrf})
    assert sent.status_code == 202 and sent.json()["actor"] == "opr5"
    listed = hub.client("viewer").get("/api/posts/pos-cmd5/commands").json()
    assert [c["id"] for c in listed] == [sent.json()["id"]]
    viewer, _ = login(hub, "viewer5", "viewer")
    assert 'data-testid="cmd-ping"' not in viewer.get("/posts/pos-cmd5").text
    assert viewer.get("/posts/pos-nope").status_code == 404
    assert httpx.get(f"{hub.web.url}/posts/pos-cmd5", follow_redirects=False).status_code == 303  # login first
