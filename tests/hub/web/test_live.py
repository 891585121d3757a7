"""The live feed: ids, replay after Last-Event-ID, reset when too much was missed, post changes."""

from __future__ import annotations

import asyncio
import json
import secrets

import httpx
import pytest

from hub.web.live import LiveFeed, camera_state
from tests.support import post_entry, wait_for


def kinds(events) -> list[str]:
    return [e.kind for e in events]


def test_ids_increase_and_replay_returns_what_came_after() -> None:
    feed = LiveFeed(size=10, epoch="e1")
    ids = [feed.publish("alert", {"n": n}).id for n in range(3)]
    assert ids == [1, 2, 3] and feed.last_id == 3
    assert [e.data["n"] for e in feed.since(1)] == [1, 2]
    assert feed.since(3) == []
    assert [e.data["n"] for e in feed.since(0)] == [0, 1, 2]


def test_fresh_connection_gets_sync_and_continues_after_the_current_id() -> None:
    feed = LiveFeed(epoch="e1")
    feed.publish("alert", {})
    batch, cursor = feed.start(None)
    assert kinds(batch) == ["sync"] and cursor == 1 and feed.to_sse(batch[0])["id"] == "e1.1"
    feed.publish("alert", {"n": 2})
    batch, cursor = feed.follow(cursor)
    assert kinds(batch) == ["alert"] and cursor == 2


def test_reconnect_replays_missed_events_in_order() -> None:
    feed = LiveFeed(epoch="e1")
    first = feed.publish("alert", {"n": 1})
    wire = feed.to_sse(first)["id"]
    feed.publish("post", {"n": 2})
    feed.publish("alert", {"n": 3})
    batch, cursor = feed.start(feed.parse_wire_id(wire))
    assert [e.data["n"] for e in batch] == [2, 3] and cursor == 3
    nothing, same = feed.start(3)
    assert nothing == [] and same == 3


def test_too_old_or_foreign_ids_get_a_reset() -> None:
    feed = LiveFeed(size=3, epoch="e1")
    for n in range(6):
        feed.publish("alert", {"n": n})
    batch, cursor = feed.start(1)  # events 2 and 3 fell out of the ring
    assert kinds(batch) == ["reset"] and cursor == 6
    assert [e.data["n"] for e in feed.start(3)[0]] == [3, 4, 5]  # 4..6 still held
    assert feed.parse_wire_id("old-epoch.4") == -1  # from before a hub restart
    assert kinds(feed.start(-1)[0]) == ["reset"]
    assert feed.parse_wire_id("e1.x") == -1 and feed.parse_wire_id(None) is None and feed.parse_wire_id("") is None
    assert kinds(feed.start(99)[0]) == ["reset"]  # an id from the future


def test_post_changes_are_published_once_and_only_on_change() -> None:
    feed = LiveFeed(epoch="e1")
    describe = lambda device: {"device_id": device}  # noqa: E731
    assert feed.observe_posts({"a": (None, None), "b": (None, None)}, describe) == 0  # first look only records
    assert feed.observe_posts({"a": (True, None), "b": (None, None)}, describe) == 1
    assert feed.observe_posts({"a": (True, None), "b": (None, None)}, describe) == 0  # a second stream sees no change
    assert feed.observe_posts({"a": (False, "lost"), "b": (None, None)}, describe) == 1
    assert [e.data["device_id"] for e in feed.since(0)] == ["a", "a"]


def test_publish_wakes_a_waiting_stream_from_another_thread() -> None:
    feed = LiveFeed(epoch="e1")

    async def wait_for_publish() -> list[str]:
        loop = asyncio.get_running_loop()
        flag = asyncio.Event()
        feed.subscribe(loop, flag)
        loop.run_in_executor(None, feed.publish, "alert", {"n": 1})
        await asyncio.wait_for(flag.wait(), 5)
        feed.unsubscribe(loop, flag)
        return kinds(feed.since(0))

    assert asyncio.run(wait_for_publish()) == ["alert"]


def test_camera_state_from_health() -> None:
    assert camera_state({"camera": {"state": "lost"}}) == "lost"
    assert camera_state({"camera": "ok"}) == "ok"
    assert camera_state({}) is None


def read_events(response: httpx.Response, count: int) -> list[dict]:
    """Parse SSE frames until `count` non-ping events arrived."""
    events: list[dict] = []
    frame: dict = {}
    for line in response.iter_lines():
        if line == "":
            if frame.get("event"):
                events.append(frame)
                if len(events) >= count:
                    return events
            frame = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            frame[key] = value[1:] if value.startswith(" ") else value
    return events


@pytest.mark.e2e
def test_stream_needs_a_login_and_replays_after_last_event_id(make_hub, make_post) -> None:
    hub = make_hub([post_entry("pos-a")])
    base = hub.web.url
    refused = httpx.get(f"{base}/api/stream", timeout=5)
    assert refused.status_code == 401, refused.text
    password = "Pw-" + secrets.token_urlsafe(16)
    hub.service.users.create("viewer1", password, "viewer")
    client = httpx.Client(base_url=base, timeout=10)
    client.post("/login", data={"username": "viewer1", "password": password})
    with client.stream("GET", "/api/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        (sync,) = read_events(response, 1)
    assert sync["event"] == "sync"
    post = make_post("pos-a")
    wait_for(lambda: hub.service.registry.state("pos-a").online, what="online")
    post.press()
    wait_for(lambda: hub.service.alerts.all(), what="alert raised")
    alert_id = hub.service.alerts.all()[0].id
    # Reconnect as EventSource would, with the last id it saw: the alert is replayed.
    with client.stream("GET", "/api/stream", headers={"Last-Event-ID": sync["id"]}) as response:
        replay = read_events(response, 1)
    assert replay[0]["event"] == "alert"
    data = json.loads(replay[0]["data"])
    assert data["id"] == alert_id and data["kind"] == "panic" and data["post_name"] == "Pos pos-a"
    # An id from another hub run gets a reset, not a wrong replay.
    with client.stream("GET", "/api/stream", headers={"Last-Event-ID": "0000.1"}) as response:
        assert read_events(response, 1)[0]["event"] == "reset"
