"""hub/posts/commands.py: issue, match replies (own post only), round trip, expiry, resend on `online`, audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.posts.commands import MAX_PENDING_PER_POST, CommandRefused, CommandService, PostCommand
from hub.posts.registry import PostRegistry
from hub.settings import PostSettings
from hub.storage.audit import AuditLog
from kamling.protocol import ProtocolError, decode_command, new_event_id, utc_now
from tests.support import wait_for


class Clocks:
    def __init__(self) -> None:
        self.wall = utc_now()
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono


class Wire:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], int]] = []

    def __call__(self, topic: str, payload: bytes, expiry: int) -> None:
        self.sent.append((topic, json.loads(payload), expiry))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[CommandService, Wire, Clocks, AuditLog]]:
    registry = PostRegistry([PostSettings(device_id=d, name=d) for d in ("pos-a1", "pos-b1")])
    wire, clocks, audit = Wire(), Clocks(), AuditLog(tmp_path / "audit.jsonl")
    service = CommandService(registry, wire, audit, 60.0, clock=clocks.now, monotonic=clocks.monotonic)
    seen: list[PostCommand] = []
    service.listeners.append(seen.append)
    service.start()
    yield service, wire, clocks, audit
    service.stop()


def reply(command_id: str, outcome: str = "done", name: str | None = "ping", **details: Any) -> bytes:
    body: dict[str, Any] = {"id": command_id, "outcome": outcome, "details": details}
    if name is not None:
        body["name"] = name
    return json.dumps(body).encode()


def test_issue_audits_then_sends_a_strict_command_with_its_expiry(rig: Any) -> None:
    service, wire, _clocks, audit = rig
    command = service.issue("pos-a1", "test_siren", "opr", ttl=30, client="10.0.0.9")
    assert command.state == "pending" and command.sends == 1
    ((topic, body, expiry),) = wire.sent
    assert topic == "kamling/v1/pos-a1/cmd" and expiry == 30
    wire_command = decode_command(json.dumps(body).encode())  # what the post will parse
    assert wire_command.id == command.id and wire_command.name == "test_siren"
    assert wire_command.expires_at - wire_command.issued_at == timedelta(seconds=30)
    (entry,) = audit.read(action="post.command")
    assert entry["actor"] == "opr" and entry["target"] == "pos-a1" and entry["client"] == "10.0.0.9"
    assert entry["detail"] == {"command": command.id, "name": "test_siren", "ttl_s": 30}


def test_refusals(rig: Any) -> None:
    service, _wire, _, _ = rig
    for device, name, ttl, reason in (
        ("pos-zz", "ping", None, "unknown_post"),
        ("pos-a1", "format_disk", None, "unknown_command"),
        ("pos-a1", "ping", 0.1, "bad_ttl"),
        ("pos-a1", "ping", 10**6, "bad_ttl"),
    ):
        with pytest.raises(CommandRefused) as err:
            service.issue(device, name, "opr", ttl=ttl)
        assert err.value.reason == reason
    for _ in range(MAX_PENDING_PER_POST):
        service.issue("pos-a1", "ping", "opr")
    with pytest.raises(CommandRefused) as err:
        service.issue("pos-a1", "ping", "opr")
    assert err.value.reason == "too_many_pending"
    service.issue("pos-b1", "ping", "opr")  # another post is not held up


def test_ping_reply_measures_the_round_trip(rig: Any) -> None:
    service, _, clocks, audit = rig
    command = service.issue("pos-a1", "ping", "opr")
    clocks.mono += 0.0425
    service.handle_reply("pos-a1", reply(command.id), received=clocks.mono)
    done = service.get(command.id)
    assert done.state == "done" and done.rtt_ms == 42.5 and done.view()["rtt_ms"] == 42.5
    result = wait_for(lambda: audit.read(action="post.command.result"), what="the result audited")[0]
    assert result["ok"] is True and result["detail"]["outcome"] == "done" and result["detail"]["by"] == "opr"
    service.handle_reply("pos-a1", reply(command.id, "failed"))  # a repeat: the first answer stands
    assert service.get(command.id).state == "done" and service.stats["repeats"] == 1


def test_only_the_post_the_command_went_to_may_answer(rig: Any) -> None:
    service, _, _, audit = rig
    command = service.issue("pos-a1", "test_siren", "opr")
    with pytest.raises(ProtocolError) as err:
        service.handle_reply("pos-b1", reply(command.id, name="test_siren"))
    assert err.value.reason == "command_not_own"
    assert service.get(command.id).state == "pending"  # the real post may still answer
    refused = wait_for(lambda: audit.read(action="post.command.reply_refused"), what="the refusal audited")[0]
    assert refused["actor"] == "pos-b1" and refused["ok"] is False and refused["detail"]["command"] == command.id
    for payload, reason in (
        (reply(new_event_id()), "unknown_command"),  # a forged id
        (reply(command.id, name="ping"), "command_mismatch"),
        (b'{"id": 1}', "schema"),
        (b"\xff", "bad_json"),
        (reply(command.id, outcome="exploded", name="test_siren"), "schema"),
    ):
        with pytest.raises(ProtocolError) as err:
            service.handle_reply("pos-a1", payload)
        assert err.value.reason == reason
    service.handle_reply("pos-a1", reply(command.id, "failed", name="test_siren", reason="no_siren"))
    failed = service.get(command.id)
    assert failed.state == "failed" and failed.view()["reason"] == "no_siren" and failed.rtt_ms is None


def test_unanswered_commands_expire_by_the_hubs_clock(rig: Any) -> None:
    service, _, clocks, audit = rig
    command = service.issue("pos-a1", "ping", "opr", ttl=5)
    clocks.wall += timedelta(seconds=4.9)
    assert service.expire_due() == []
    clocks.wall += timedelta(seconds=0.2)
    (expired,) = service.expire_due()
    assert expired.id == command.id and expired.state == "expired" and expired.view()["reason"] == "no_reply"
    result = wait_for(lambda: audit.read(action="post.command.result"), what="expiry audited")[0]
    assert result["ok"] is False and result["detail"]["outcome"] == "expired"
    service.handle_reply("pos-a1", reply(command.id))  # too late: still expired
    assert service.get(command.id).state == "expired"


def test_a_post_back_online_gets_its_unexpired_commands_again(rig: Any) -> None:
    service, wire, clocks, _ = rig
    short = service.issue("pos-a1", "ping", "opr", ttl=5)
    long = service.issue("pos-a1", "test_siren", "opr", ttl=60)
    answered = service.issue("pos-a1", "snapshot", "opr", ttl=60)
    other = service.issue("pos-b1", "ping", "opr", ttl=60)
    service.handle_reply("pos-a1", reply(answered.id, name="snapshot"))
    wire.sent.clear()
    clocks.wall += timedelta(seconds=10)
    assert service.post_online("pos-a1") == 1
    ((topic, body, expiry),) = wire.sent
    assert topic == "kamling/v1/pos-a1/cmd" and body["id"] == long.id and expiry == 50  # what is left
    assert service.get(long.id).sends == 2
    assert short.id != other.id and service.get(short.id).sends == 1


def test_a_snapshot_command_gets_its_picture_from_the_same_post_only(rig: Any) -> None:
    service, _, _, _ = rig
    command = service.issue("pos-a1", "snapshot", "opr")
    ping = service.issue("pos-a1", "ping", "opr")
    data = {"camera": "gate", "state": "snapshot", "source": "command", "command": command.id}
    service.observe_records(
        [
            {"id": "E-other-post", "device": "pos-b1", "kind": "camera", "data": data},
            {"id": "E-not-command", "device": "pos-a1", "kind": "camera", "data": data | {"source": "camera"}},
            {"id": "E-ping", "device": "pos-a1", "kind": "camera", "data": data | {"command": ping.id}},
            {"id": "E-bad", "device": "pos-a1", "kind": "camera", "data": "junk"},
        ]
    )
    assert service.get(command.id).event_id is None and service.get(ping.id).event_id is None
    service.observe_records([{"id": "E-own", "device": "pos-a1", "kind": "camera", "data": data}])
    assert service.get(command.id).event_id == "E-own"


def test_live_listeners_see_every_change(rig: Any) -> None:
    service, _, _clocks, _ = rig
    seen: list[tuple[str, str]] = []
    service.listeners.append(lambda c: seen.append((c.id, c.state)))
    command = service.issue("pos-a1", "ping", "opr")
    service.handle_reply("pos-a1", reply(command.id))
    wait_for(lambda: (command.id, "done") in seen, what="the result pushed")
    assert seen[0] == (command.id, "pending")


def test_nothing_is_sent_without_its_audit_record(rig: Any) -> None:
    service, wire, _, _ = rig

    class BrokenAudit:
        def record(self, *args: Any, **kwargs: Any) -> None:
            raise OSError("disk full")

    service.audit = BrokenAudit()
    with pytest.raises(CommandRefused) as err:
        service.issue("pos-a1", "test_siren", "opr")
    assert err.value.reason == "audit_unavailable"
    assert wire.sent == [] and service.recent("pos-a1") == []
