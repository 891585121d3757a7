"""edge/commands.py: hub commands on real MockFactory-pinned hardware, with injected clocks (no waiting on time)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from edge.commands import SIREN_TEST_MAX_SECONDS, CommandRunner
from edge.hardware import PostHardware
from kamling.protocol import EventKind, ProtocolError, new_event_id, utc_now
from poskamling.sim import BUZZER_PIN, sim_edge_config
from tests.support import wait_for


class Recorder:
    """The runner's outputs: replies published and events raised."""

    def __init__(self) -> None:
        self.replies: list[dict[str, Any]] = []
        self.events: list[tuple[EventKind, dict[str, Any], bytes | None]] = []
        self.connected = True
        self.lock = threading.Lock()

    def publish(self, payload: bytes) -> bool:
        if not self.connected:
            return False
        with self.lock:
            self.replies.append(json.loads(payload))
        return True

    def raise_event(
        self,
        kind: EventKind,
        data: dict[str, Any] | None = None,
        *,
        test: bool = False,
        attachment: bytes | None = None,
    ) -> None:
        with self.lock:
            self.events.append((kind, dict(data or {}), attachment))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeCameras:
    def __init__(self, picture: tuple[str, bytes] | None) -> None:
        self.picture = picture

    def snapshot(self) -> tuple[str, bytes] | None:
        return self.picture


@pytest.fixture
def hardware(tmp_path: Path) -> Iterator[PostHardware]:
    config = sim_edge_config("pos-cmd01", "127.0.0.1", 1883, "x", tmp_path)
    config = config.model_copy(update={"buzzer": config.buzzer.model_copy(update={"alarm_seconds": 30.0})})  # type: ignore[union-attr]
    factory = MockFactory()
    hw = PostHardware(config, pin_factory=factory)
    hw.start(on_panic=lambda: None)
    hw.factory = factory  # type: ignore[attr-defined]
    yield hw
    hw.stop()


def command(name: str, ttl: float = 60.0, **extra: Any) -> bytes:
    now = utc_now()
    body = {
        "id": new_event_id(),
        "name": name,
        "args": {},
        "issued_at": now.isoformat(),
        "expires_at": (now + timedelta(seconds=ttl)).isoformat(),
    } | extra
    return json.dumps(body).encode()


def buzzer_highs(hw: PostHardware) -> int:
    return sum(1 for state in hw.factory.pin(BUZZER_PIN).states if state.state)  # type: ignore[attr-defined]


def beeping(hw: PostHardware) -> bool:
    thread = hw.buzzer._blink_thread  # type: ignore[union-attr]  # gpiozero's background beep
    return thread is not None and thread.is_alive()


def make_runner(hw: PostHardware, out: Recorder, cameras: Any = None, clock: Clock | None = None) -> CommandRunner:
    return CommandRunner(hw, out.publish, out.raise_event, cameras, clock=clock or Clock())


def test_ping_is_answered_done(hardware: PostHardware) -> None:
    out = Recorder()
    payload = command("ping")
    make_runner(hardware, out).handle(payload, expiry=60)
    (reply,) = out.replies
    assert reply == {"id": json.loads(payload)["id"], "name": "ping", "outcome": "done", "details": {}}


def test_siren_test_sounds_the_buzzer_for_a_bounded_time(hardware: PostHardware) -> None:
    out = Recorder()
    runner = make_runner(hardware, out)
    runner.handle(command("test_siren", args={"seconds": 1}), expiry=60)
    assert out.replies[-1]["outcome"] == "done" and out.replies[-1]["details"] == {"seconds": 1.0}
    wait_for(lambda: buzzer_highs(hardware) >= 2, what="the siren pin beeping")
    wait_for(lambda: not beeping(hardware), timeout=5, what="the test ends by itself")
    assert hardware.factory.pin(BUZZER_PIN).state == 0 and buzzer_highs(hardware) == 2  # type: ignore[attr-defined]  # 1 s: two beeps
    runner.handle(command("test_siren", args={"seconds": 3600}), expiry=60)  # bounded, not an hour
    assert out.replies[-1]["details"] == {"seconds": SIREN_TEST_MAX_SECONDS}
    runner.handle(command("test_siren", args={"seconds": "10"}), expiry=60)
    assert out.replies[-1]["outcome"] == "failed" and out.replies[-1]["details"] == {"reason": "bad_seconds"}
    hardware.silence()


def test_silence_stops_a_panic_siren(hardware: PostHardware) -> None:
    out = Recorder()
    hardware.sound_alarm()  # a panic press: 30 s of siren
    wait_for(lambda: buzzer_highs(hardware) >= 1, what="the panic siren")
    make_runner(hardware, out).handle(command("silence_siren"), expiry=60)
    assert out.replies[-1]["outcome"] == "done"
    assert hardware.factory.pin(BUZZER_PIN).state == 0  # type: ignore[attr-defined]
    assert not beeping(hardware)  # nothing left to turn it on again


def test_a_siren_test_never_cuts_a_panic_siren_short(hardware: PostHardware) -> None:
    out = Recorder()
    runner = make_runner(hardware, out)
    hardware.sound_alarm()  # 30 s
    runner.handle(command("test_siren", args={"seconds": 1}), expiry=60)
    assert out.replies[-1]["outcome"] == "failed" and out.replies[-1]["details"] == {"reason": "siren_busy"}
    assert beeping(hardware)  # the panic's siren goes on
    runner.handle(command("silence_siren"), expiry=60)
    runner.handle(command("test_siren", args={"seconds": 1}), expiry=60)  # silenced: a test may run again
    assert out.replies[-1]["outcome"] == "done"
    hardware.silence()


def test_without_a_buzzer_siren_commands_fail(tmp_path: Path) -> None:
    config = sim_edge_config("pos-cmd02", "127.0.0.1", 1883, "x", tmp_path).model_copy(update={"buzzer": None})
    hw = PostHardware(config, pin_factory=MockFactory())
    hw.start(on_panic=lambda: None)
    try:
        out = Recorder()
        runner = make_runner(hw, out)
        runner.handle(command("test_siren"), expiry=60)
        runner.handle(command("silence_siren"), expiry=60)
        assert [r["details"] for r in out.replies] == [{"reason": "no_siren"}] * 2
        assert {r["outcome"] for r in out.replies} == {"failed"}
    finally:
        hw.stop()


def test_expiry_counts_from_receipt_on_the_monotonic_clock(hardware: PostHardware) -> None:
    out = Recorder()
    clock = Clock()
    runner = make_runner(hardware, out, clock=clock)
    runner.wallclock = lambda: utc_now() + timedelta(days=3)  # a wrong wall clock does not matter
    runner.handle(command("test_siren", ttl=60), expiry=10, received=clock.now)
    assert out.replies[-1]["outcome"] == "done"
    hardware.silence()
    received = clock.now
    clock.now += 10.5  # the agent's queue held it past what the broker said was left
    runner.handle(command("test_siren", ttl=60), expiry=10, received=received)
    assert out.replies[-1]["outcome"] == "expired"
    assert runner.stats["expired"] == 1


def test_without_a_message_expiry_the_wall_clock_decides(hardware: PostHardware) -> None:
    out = Recorder()
    runner = make_runner(hardware, out)
    runner.handle(command("ping", ttl=60))
    assert out.replies[-1]["outcome"] == "done"
    runner.wallclock = lambda: utc_now() + timedelta(minutes=2)
    before = buzzer_highs(hardware)
    runner.handle(command("test_siren", ttl=60))
    assert out.replies[-1]["outcome"] == "expired"
    assert buzzer_highs(hardware) == before  # not run


def test_a_repeated_command_is_answered_again_not_run_again(hardware: PostHardware) -> None:
    out = Recorder()
    runner = make_runner(hardware, out)
    payload = command("test_siren", args={"seconds": 0.5})
    out.connected = False  # the first reply is lost (post offline)
    runner.handle(payload, expiry=60)
    out.connected = True
    hardware.silence()
    before = buzzer_highs(hardware)
    runner.handle(payload, expiry=60)  # the hub sends it again when the post is back
    assert out.replies == [out.replies[0]] and out.replies[0]["outcome"] == "done"
    assert buzzer_highs(hardware) == before and runner.stats == {"run": 1, "repeated": 1, "expired": 0, "refused": 0}


def test_unknown_and_malformed_commands(hardware: PostHardware) -> None:
    out = Recorder()
    runner = make_runner(hardware, out)
    unknown = command("format_disk")
    with pytest.raises(ProtocolError):
        runner.handle(unknown, expiry=60)
    assert out.replies[-1] == {
        "id": json.loads(unknown)["id"],
        "name": None,
        "outcome": "unknown",
        "details": {"reason": "schema"},
    }
    for bad in (b"{not json", b'{"id": "nope", "name": "ping"}', b"[]", b'{"name": "ping"}'):
        with pytest.raises(ProtocolError):
            runner.handle(bad, expiry=60)
    assert len(out.replies) == 1  # no id to answer to
    runner.handle(command("reload"), expiry=60)
    assert out.replies[-1]["outcome"] == "failed" and out.replies[-1]["details"] == {"reason": "not_supported"}


def test_snapshot_raises_a_camera_event_with_the_picture(hardware: PostHardware) -> None:
    out = Recorder()
    payload = command("snapshot")
    command_id = json.loads(payload)["id"]
    make_runner(hardware, out, FakeCameras(("gate", b"\xff\xd8\xff-jpeg"))).handle(payload, expiry=60)
    wait_for(lambda: out.replies, what="the snapshot reply")
    assert out.replies[-1]["outcome"] == "done" and out.replies[-1]["details"] == {"camera": "gate", "bytes": 8}
    kind, data, attachment = out.events[-1]
    assert kind is EventKind.CAMERA and attachment == b"\xff\xd8\xff-jpeg"
    assert data == {"camera": "gate", "state": "snapshot", "source": "command", "command": command_id}


@pytest.mark.parametrize(("cameras", "reason"), [(None, "no_camera"), (FakeCameras(None), "no_fresh_frame")])
def test_snapshot_without_a_picture_fails(hardware: PostHardware, cameras: Any, reason: str) -> None:
    out = Recorder()
    make_runner(hardware, out, cameras).handle(command("snapshot"), expiry=60)
    wait_for(lambda: out.replies, what="the snapshot reply")
    assert out.replies[-1]["outcome"] == "failed" and out.replies[-1]["details"] == {"reason": reason}
    assert out.events == []
