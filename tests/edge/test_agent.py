"""The edge agent with a fake MQTT link, a real outbox on disk and MockFactory-pinned hardware.

The agent's clock is injected, so ack timeouts are reached by moving the clock, never by waiting.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from edge.agent import EdgeAgent
from edge.config import BuzzerConfig, EdgeConfig
from edge.hardware import PostHardware
from edge.outbox import Outbox
from kamling.protocol import Ack, AlertState, AlertUpdate, Channel, EventKind
from poskamling.sim import BUZZER_PIN, PANIC_PIN, sim_edge_config
from tests.support import wait_for

DEVICE = "pos-rw01"
ACK_TIMEOUT = 5.0  # sim_edge_config's


class FakeLink:
    """EdgeLink's small interface (start/stop/publish/connected); the test plays the broker and hub."""

    def __init__(
        self,
        config: EdgeConfig,
        on_message: Callable[[Channel, str | None, bytes], None],
        on_connection: Callable[[bool], None],
        version: str | None = None,
        on_hubs: Callable[[bool], None] | None = None,
    ) -> None:
        self.config = config
        self.on_message = on_message
        self.on_connection = on_connection
        self.on_hubs = on_hubs
        self.connected = False
        self.started = False
        self._published: list[tuple[Channel, str | None, bytes]] = []
        self._lock = threading.Lock()
        self.on_puback: Callable[[int], None] | None = None  # set by the agent
        self.auto_puback = True  # the broker PUBACKs at once; False: the test does (puback_all)
        self.unacked: list[int] = []  # tracked publishes not PUBACKed yet (auto_puback False)
        self._mid = 0

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False
        self.connected = False

    def publish(self, channel: Channel, payload: bytes, suffix: str | None = None, qos: int = 1) -> bool:
        if not self.connected:
            return False
        with self._lock:
            self._published.append((channel, suffix, bytes(payload)))
        return True

    def publish_tracked(self, channel: Channel, payload: bytes, suffix: str | None = None) -> int | None:
        if not self.publish(channel, payload, suffix):
            return None
        self._mid += 1
        if self.auto_puback and self.on_puback is not None:
            self.on_puback(self._mid)
        else:
            self.unacked.append(self._mid)
        return self._mid

    # -- test controls -----------------------------------------------------------------------
    def puback_all(self) -> None:
        mids, self.unacked = self.unacked, []
        assert self.on_puback is not None
        for mid in mids:
            self.on_puback(mid)

    def published(self) -> list[tuple[Channel, str | None, bytes]]:
        with self._lock:
            return list(self._published)

    def up(self) -> None:
        self.connected = True
        self.on_connection(True)

    def down(self) -> None:
        self.connected = False
        self.on_connection(False)

    def hubs(self, online: bool) -> None:
        """Whether some hub announces itself on the broker (edge/link.py reports it from kamling/v1/_hub/+/status)."""
        assert self.on_hubs is not None
        self.on_hubs(online)

    def deliver(self, channel: Channel, payload: bytes) -> None:
        self.on_message(channel, None, payload)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(p) for c, _, p in self._published if c is Channel.EVENT]

    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.events()]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class Post:
    """One agent under test and its fakes."""

    def __init__(self, tmp_path: Path, **overrides: Any) -> None:
        config = sim_edge_config(DEVICE, "127.0.0.1", 1, "secret", tmp_path / "post")
        config = config.model_copy(update={"health_interval": 3600.0, **overrides})
        self.config = config
        self.factory = MockFactory()
        self.hardware = PostHardware(config, pin_factory=self.factory)
        self.outbox_path = config.data_dir / "outbox.sqlite"
        self.clock = Clock()
        self.links: list[FakeLink] = []

        def link_factory(*args: Any, **kwargs: Any) -> FakeLink:
            link = FakeLink(*args, **kwargs)
            self.links.append(link)
            return link

        self.agent = EdgeAgent(config, self.hardware, Outbox(self.outbox_path, DEVICE), link_factory, clock=self.clock)

    @property
    def link(self) -> FakeLink:
        return self.links[-1]

    def led(self) -> str:
        pattern = self.hardware.led_pattern
        return pattern.name if pattern else "unknown"

    def buzzer_sounded(self) -> bool:
        return any(state.state for state in self.factory.pin(BUZZER_PIN).states)

    def press(self) -> None:
        pin = self.factory.pin(PANIC_PIN)
        pin.drive_low()
        pin.drive_high()

    def ack(self, ids: list[str]) -> None:
        self.link.deliver(Channel.ACK, Ack(ids=ids).model_dump_json().encode())

    def alert(self, state: AlertState) -> None:
        update = AlertUpdate(alert_id="A1", state=state, kind=EventKind.PANIC, ts=datetime.now(UTC))
        self.link.deliver(Channel.ALERT, update.model_dump_json().encode())

    def pending_after_stop(self) -> list[int]:
        """The seqs left in the outbox on disk, read after the agent stopped."""
        box = Outbox(self.outbox_path, DEVICE)
        box.open()
        try:
            return [p.event.seq for p in box.pending(limit=10_000)]
        finally:
            box.close()


@pytest.fixture
def post(tmp_path: Path) -> Iterator[Post]:
    instance = Post(tmp_path)
    instance.agent.start()
    yield instance
    instance.agent.stop()


def raise_events(post: Post, count: int) -> None:
    for n in range(count):
        post.agent.raise_event(EventKind.MOTION, {"n": n})


def test_events_are_published_in_seq_order(post: Post) -> None:
    raise_events(post, 5)  # stored while offline
    wait_for(lambda: post.agent.outbox.last_seq() == 5, what="five events in the outbox")
    assert post.link.seqs() == []
    post.link.up()
    wait_for(lambda: len(post.link.seqs()) == 5, what="backlog published on connect")
    raise_events(post, 3)  # and live ones after it
    wait_for(lambda: len(post.link.seqs()) == 8, what="live events published")
    assert post.link.seqs() == list(range(1, 9))
    assert {e["device"] for e in post.link.events()} == {DEVICE}
    assert post.agent.stats["published"] == 8 and post.agent.stats["resent"] == 0


def test_ack_removes_events_from_the_outbox(post: Post) -> None:
    post.link.up()
    raise_events(post, 4)
    wait_for(lambda: len(post.link.seqs()) == 4, what="four published")
    ids = [e["id"] for e in post.link.events()]
    post.ack([ids[0], ids[2]])
    wait_for(lambda: post.agent.stats["acked"] == 2, what="ack handled")
    post.ack([ids[0]])  # a repeated ack changes nothing
    post.ack([ids[1], ids[3]])
    wait_for(lambda: post.agent.stats["acked"] == 4, what="second ack handled")
    post.agent.stop()
    assert post.pending_after_stop() == []
    post.agent.start()  # for the fixture's stop()


def test_unacked_events_stay_in_the_outbox_across_a_restart(post: Post) -> None:
    post.link.up()
    raise_events(post, 3)
    wait_for(lambda: len(post.link.seqs()) == 3, what="three published")
    post.ack([post.link.events()[1]["id"]])
    wait_for(lambda: post.agent.stats["acked"] == 1, what="ack handled")
    post.agent.stop()
    assert post.pending_after_stop() == [1, 3]
    post.agent.start()
    post.link.up()
    wait_for(lambda: len(post.link.seqs()) == 2, what="replay by the restarted agent")
    assert post.link.seqs() == [1, 3]


def test_unacked_event_is_resent_after_ack_timeout_in_seq_order(post: Post) -> None:
    post.link.up()
    raise_events(post, 4)
    wait_for(lambda: len(post.link.seqs()) == 4, what="four published")
    ids = [e["id"] for e in post.link.events()]
    post.ack([ids[1]])  # seq 2 made it; 1, 3 and 4 did not
    wait_for(lambda: post.agent.stats["acked"] == 1, what="ack handled")

    post.clock.advance(ACK_TIMEOUT)
    wait_for(lambda: len(post.link.seqs()) == 7, what="resend after the ack timeout")
    assert post.link.seqs() == [1, 2, 3, 4, 1, 3, 4]  # the oldest first, nothing acked again
    assert post.agent.stats["resent"] == 3 and post.agent.stats["replays"] == 1

    # Back-off: the next replay waits twice as long while the hub stays silent.
    post.clock.advance(ACK_TIMEOUT)
    post.agent.raise_event(EventKind.CHECKIN)  # published by the same pass that checks the timeout
    wait_for(lambda: len(post.link.seqs()) == 8, what="new event published")
    assert post.link.seqs()[-1] == 5 and post.agent.stats["replays"] == 1
    post.clock.advance(ACK_TIMEOUT)
    wait_for(lambda: post.agent.stats["replays"] == 2, what="second replay")
    wait_for(lambda: len(post.link.seqs()) == 12, what="second resend")
    assert post.link.seqs()[8:] == [1, 3, 4, 5]

    post.ack(list(dict.fromkeys(e["id"] for e in post.link.events())))  # seqs 1-5
    wait_for(lambda: post.agent.stats["acked"] == 5, what="everything acked")
    post.clock.advance(10 * ACK_TIMEOUT)
    post.agent.raise_event(EventKind.CHECKIN)
    wait_for(lambda: len(post.link.seqs()) == 13, what="new event after the acks")
    assert post.link.seqs()[-1] == 6  # nothing acked was replayed


def test_everything_unacked_is_replayed_in_order_after_reconnect(post: Post) -> None:
    post.link.up()
    raise_events(post, 3)
    wait_for(lambda: len(post.link.seqs()) == 3, what="three published")
    post.ack([post.link.events()[0]["id"]])
    wait_for(lambda: post.agent.stats["acked"] == 1, what="ack handled")
    post.link.down()
    wait_for(lambda: post.led() == "disconnected", what="LED shows the lost link")
    raise_events(post, 2)  # stored while the link is down
    wait_for(lambda: post.agent.outbox.last_seq() == 5, what="stored offline")
    assert len(post.link.seqs()) == 3
    post.link.up()
    wait_for(lambda: len(post.link.seqs()) == 7, what="replay after reconnect")
    assert post.link.seqs() == [1, 2, 3, 2, 3, 4, 5]
    assert post.led() == "connected"


def test_bad_ack_and_alert_payloads_are_counted_and_ignored(post: Post) -> None:
    post.link.up()
    raise_events(post, 1)
    wait_for(lambda: len(post.link.seqs()) == 1, what="published")
    bad = [
        (Channel.ACK, b"{not json"),
        (Channel.ACK, b'{"ids": []}'),
        (Channel.ACK, b"\xff\xfe"),
        (Channel.ALERT, b'{"alert_id": "A1", "state": "exploded", "kind": "panic", "ts": "2026-11-22T15:00:00Z"}'),
        (Channel.ALERT, b"[]"),
        (Channel.CMD, b'{"name": "format_disk"}'),
    ]
    for channel, payload in bad:
        post.link.deliver(channel, payload)
    wait_for(lambda: post.agent.stats["bad_messages"] == len(bad), what="bad messages counted")
    assert post.agent.alert_state is None and post.led() == "connected"
    post.ack([post.link.events()[0]["id"]])  # the agent still works
    wait_for(lambda: post.agent.stats["acked"] == 1, what="good ack after the bad ones")


def test_alert_updates_change_the_led_pattern(post: Post) -> None:
    post.link.up()
    wait_for(lambda: post.led() == "connected", what="connected LED")
    post.press()
    wait_for(lambda: post.led() == "panic_pending", what="panic pending until the hub acks")
    wait_for(lambda: len(post.link.seqs()) == 1, what="panic published")
    assert post.link.events()[0]["kind"] == "panic"
    post.ack([post.link.events()[0]["id"]])
    wait_for(lambda: post.led() == "connected", what="ack clears the pending panic")
    for state, expected in [
        (AlertState.NOTIFIED, "alert_open"),
        (AlertState.ACKNOWLEDGED, "alert_acknowledged"),
        (AlertState.EN_ROUTE, "alert_en_route"),
        (AlertState.RESOLVED, "connected"),
    ]:
        post.alert(state)
        wait_for(lambda expected=expected: post.led() == expected, what=f"LED {expected} for {state}")
    assert post.agent.alert_state is None


def test_panic_press_sounds_the_buzzer(post: Post) -> None:
    post.press()
    wait_for(post.buzzer_sounded, what="buzzer on at the press")
    wait_for(lambda: post.agent.outbox.last_seq() == 1, what="panic stored")


def test_silent_panic_does_not_sound_the_buzzer(tmp_path: Path) -> None:
    quiet = Post(tmp_path, buzzer=BuzzerConfig(pin=BUZZER_PIN, alarm_seconds=1.0, silent_panic=True))
    quiet.agent.start()
    try:
        quiet.link.up()
        quiet.press()
        wait_for(lambda: len(quiet.link.seqs()) == 1, what="panic published")
        assert quiet.link.events()[0]["kind"] == "panic"
        assert quiet.led() == "panic_pending"
        assert not quiet.buzzer_sounded()  # sound_alarm returned before starting any beep
    finally:
        quiet.agent.stop()


def test_no_hub_on_the_broker_shows_on_the_led_and_events_wait(post: Post) -> None:
    post.link.up()
    wait_for(lambda: post.led() == "connected", what="connected LED")
    post.link.hubs(False)  # the broker answers, but no hub serves it
    wait_for(lambda: post.led() == "no_hub", what="LED tells 'no hub' from 'no broker'")
    post.press()
    wait_for(lambda: post.led() == "panic_pending", what="an unconfirmed panic still shows first")
    wait_for(lambda: len(post.link.seqs()) == 1, what="panic published to the broker")
    assert post.agent.outbox.has_pending(EventKind.PANIC)  # kept until a hub acks it
    post.link.hubs(True)
    post.ack([post.link.events()[0]["id"]])
    wait_for(lambda: post.led() == "connected", what="a hub is back and acked")
    post.link.down()
    wait_for(lambda: post.led() == "disconnected", what="no broker")


class FakeCameras:
    """CameraManager's interface to the agent; evidence requests answered with one picture each at once."""

    def __init__(self, raise_event: Callable[..., None], link: Callable[[], FakeLink]) -> None:
        self.raise_event = raise_event
        self.link = link
        self.asked: list[tuple[str, list[str]]] = []  # (event id, ids of the events published at that moment)

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def fps(self) -> dict[str, float | None]:
        return {}

    def capture_evidence(self, event_id: str) -> None:
        self.asked.append((event_id, [e["id"] for e in self.link().events()]))
        data = {"camera": "gate", "state": "evidence", "evidence_for": event_id, "offset_s": 0.0, "severity": "info"}
        self.raise_event(EventKind.CAMERA, data, attachment=b"\xff\xd8\xff picture")


def test_a_panic_is_published_before_its_cameras_are_asked_and_its_pictures_follow_it(tmp_path: Path) -> None:
    post = Post(tmp_path)
    cameras: list[FakeCameras] = []

    def make_cameras(raise_event: Callable[..., None]) -> FakeCameras:
        cameras.append(FakeCameras(raise_event, lambda: post.link))
        return cameras[-1]

    links: list[FakeLink] = []

    def link_factory(*args: Any, **kwargs: Any) -> FakeLink:
        links.append(FakeLink(*args, **kwargs))
        post.links.append(links[-1])
        return links[-1]

    post.agent = EdgeAgent(
        post.config,
        post.hardware,
        Outbox(post.outbox_path, DEVICE),
        link_factory,
        clock=post.clock,
        cameras=make_cameras,
    )
    post.agent.start()
    try:
        post.link.up()
        post.press()
        wait_for(lambda: len(post.link.events()) == 2, what="the panic and its picture published")
        post.agent.raise_event(EventKind.TAMPER, {"source": "enclosure", "state": "closed"})  # an all-clear
        post.agent.raise_event(EventKind.CHECKIN, {"source": "button"})
        post.agent.raise_event(EventKind.TAMPER, {"source": "enclosure", "state": "open"})
        wait_for(lambda: len(post.link.events()) == 6, what="the other events and the tamper's picture")
        picture_id = post.link.events()[1]["id"]
        assert not any(c is Channel.SNAPSHOT for c, _, _ in post.link.published())  # pictures wait for the ack
        post.ack([picture_id])
        wait_for(
            lambda: (Channel.SNAPSHOT, picture_id) in [(c, s) for c, s, _ in post.link.published()],
            what="the picture, once its event is acked",
        )
    finally:
        post.agent.stop()
    panic, picture, closed, checkin, tamper, tamper_picture = post.link.events()
    assert (panic["kind"], picture["kind"], tamper["kind"], tamper_picture["kind"]) == (
        "panic",
        "camera",
        "tamper",
        "camera",
    )
    assert closed["data"]["state"] == "closed" and checkin["kind"] == "checkin"
    (camera,) = cameras
    assert [event_id for event_id, _ in camera.asked] == [
        panic["id"],
        tamper["id"],
    ]  # not the all-clear, not a check-in
    assert panic["id"] in camera.asked[0][1]  # the panic had left before the cameras were asked
    assert picture["data"]["evidence_for"] == panic["id"] and picture["seq"] > panic["seq"]
    snapshots = [(c, s) for c, s, _ in post.link._published if c is Channel.SNAPSHOT]
    assert (Channel.SNAPSHOT, picture["id"]) in snapshots


def test_a_panic_sends_its_alarm_copy_before_its_commit_then_its_event_copy_and_replays_both(post: Post) -> None:
    committed_when_sent: list[bool] = []
    reader = sqlite3.connect(post.outbox_path, check_same_thread=False)  # another connection sees commits only
    publish = post.link.publish if post.links else None
    assert publish is not None

    def watching(channel: Channel, payload: bytes, suffix: str | None = None, qos: int = 1) -> bool:
        if channel is Channel.ALARM:
            event_id = json.loads(payload)["id"]
            committed_when_sent.append(
                reader.execute("SELECT 1 FROM outbox WHERE id=?", (event_id,)).fetchone() is not None
            )
        return publish(channel, payload, suffix, qos)

    post.link.publish = watching  # type: ignore[method-assign]
    post.link.up()
    raise_events(post, 1)  # motion: never on the alarm channel
    wait_for(lambda: len(post.link.seqs()) == 1, what="motion published")
    post.ack([post.link.events()[0]["id"]])  # a quiet post: nothing older unacked
    wait_for(lambda: post.agent.stats["acked"] == 1, what="ack handled")
    post.press()
    wait_for(lambda: len(post.link.seqs()) == 2, what="panic published")
    alarm = [json.loads(p) for c, _, p in post.link._published if c is Channel.ALARM]
    assert [e["kind"] for e in alarm] == ["panic"] and alarm[0]["seq"] == 2
    assert committed_when_sent == [False]  # left while its commit was still under way
    assert post.agent.outbox.depth() == 1  # and the commit happened all the same

    post.clock.advance(ACK_TIMEOUT)  # nothing acked: the replay sends both copies of the panic
    wait_for(lambda: len(post.link.seqs()) == 3, what="replay")
    copies = [(c, json.loads(p)) for c, _, p in post.link._published if c in (Channel.ALARM, Channel.EVENT)]
    channels = [c for c, event in copies if event["seq"] == 2]
    assert channels == [Channel.ALARM, Channel.EVENT, Channel.ALARM, Channel.EVENT]
    reader.close()


def test_with_older_events_unacked_the_alarm_copy_waits_its_turn(post: Post) -> None:
    post.link.up()
    raise_events(post, 2)  # in flight, not acked
    wait_for(lambda: len(post.link.seqs()) == 2, what="motion published")
    post.press()
    wait_for(lambda: len(post.link.seqs()) == 3, what="panic published")
    copies = [(c, json.loads(p)["seq"]) for c, _, p in post.link._published if c in (Channel.ALARM, Channel.EVENT)]
    assert copies == [(Channel.EVENT, 1), (Channel.EVENT, 2), (Channel.ALARM, 3), (Channel.EVENT, 3)]


def test_a_camera_that_starts_delivering_frames_is_reported_at_once(tmp_path: Path) -> None:
    """A camera slower to start than the warm-up is first reported as not delivering; when its frames
    come, the hub hears so at the next loop, not a health_interval (here an hour) later."""
    post = Post(tmp_path)
    rates: dict[str, float | None] = {"gate": None}

    class Cameras(FakeCameras):
        def fps(self) -> dict[str, float | None]:
            return dict(rates)

    post.agent = EdgeAgent(
        post.config,
        post.hardware,
        Outbox(post.outbox_path, DEVICE),
        lambda *a, **k: post.links.append(FakeLink(*a, **k)) or post.links[-1],
        clock=post.clock,
        cameras=lambda raise_event: Cameras(raise_event, lambda: post.link),
    )

    def reports() -> list[dict[str, Any]]:
        return [json.loads(p) for c, _, p in post.link.published() if c is Channel.HEALTH]

    post.agent.start()
    try:
        post.link.up()
        first = wait_for(reports, what="the health report at connect")
        assert first[0]["cameras"]["gate"] is None
        rates["gate"] = 5.0
        wait_for(lambda: len(reports()) == 2, what="a report as soon as the camera delivers")
        assert reports()[1]["cameras"]["gate"] == 5.0
    finally:
        post.agent.stop()
