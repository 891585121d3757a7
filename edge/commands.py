"""Commands from the hub (issue 15): each runs at most once, only before its deadline, and is answered on `reply`.

The deadline is what the broker says is left of the command's MQTT v5 message expiry interval,
counted from receipt on this Pi's monotonic clock; only without that property (a bridge or an
MQTT 3 broker) does the post compare `expires_at` with its own wall clock, which may be wrong.

* ping: answered at once (the hub measures the round trip).
* test_siren: the siren sounds for `args.seconds` (default 3, at most SIREN_TEST_MAX_SECONDS); never
  while a panic's siren sounds (`failed`, `siren_busy`): a test would cut the alarm short.
* silence_siren: the siren stops, whatever sounds it (a test, or a local panic). Only the sound:
  the panic's event, its alert at the hub and the status LED stay as they are, and a new press
  sounds the siren again.
* snapshot: a fresh picture of the first camera with a recent frame, sent as a `camera` event
  (`state: "snapshot"`, `source: "command"`, `command: <id>`) with its JPEG, through the outbox
  like every event; the reply says which camera. Encoding runs on its own thread.
* reload: known to the protocol, not supported by this post (`failed`).

Replies are remembered by command id (the last REMEMBERED ids): a command delivered twice (the
hub sends pending commands again when a post comes back online) is answered again, not run again.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from edge.core import RaiseEvent
from kamling.protocol import (
    MAX_EVENT_BYTES,
    Command,
    CommandReply,
    EventKind,
    ProtocolError,
    decode_command,
    utc_now,
)

log = logging.getLogger(__name__)

SIREN_TEST_SECONDS = 3.0
SIREN_TEST_MAX_SECONDS = 10.0
REMEMBERED = 256
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


class Siren(Protocol):
    def alarm_sounding(self) -> bool: ...

    def test_siren(self, seconds: float) -> bool: ...

    def silence(self) -> bool: ...


class Cameras(Protocol):
    def snapshot(self) -> tuple[str, bytes] | None: ...


class CommandRunner:
    """Runs commands on the agent's worker thread (a snapshot on a thread of its own); `publish` sends a reply."""

    def __init__(
        self,
        siren: Siren,
        publish: Callable[[bytes], bool],
        raise_event: RaiseEvent,
        cameras: Cameras | None = None,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.siren = siren
        self.publish = publish
        self.raise_event = raise_event
        self.cameras = cameras
        self.clock = clock
        self.wallclock = wallclock
        self._replies: OrderedDict[str, bytes | None] = OrderedDict()  # id -> reply sent (None: still running)
        self._lock = threading.Lock()
        self.stats = {"run": 0, "repeated": 0, "expired": 0, "refused": 0}

    def handle(self, payload: bytes, expiry: float | None = None, received: float | None = None) -> None:
        """One `cmd` message; `expiry`: the MQTT message expiry left at delivery, `received`: clock() then.

        Raises ProtocolError for a payload that is not a command (after answering `unknown` when it names an id).
        """
        received = self.clock() if received is None else received
        try:
            command = decode_command(payload)
        except ProtocolError as exc:
            self.stats["refused"] += 1
            command_id = _readable_id(payload)
            if command_id is not None:
                self._reply(CommandReply(id=command_id, outcome="unknown", details={"reason": exc.reason}))
            raise
        with self._lock:
            if command.id in self._replies:
                self.stats["repeated"] += 1
                earlier = self._replies[command.id]
                if earlier is not None:
                    self.publish(earlier)  # the hub missed our reply: the same answer again
                return
            self._replies[command.id] = None
            while len(self._replies) > REMEMBERED:
                self._replies.popitem(last=False)
        if self._expired(command, expiry, received):
            self.stats["expired"] += 1
            log.warning("command %s %s arrived after it expired: not run", command.name, command.id)
            self._reply(_answer(command, "expired"))
            return
        self.stats["run"] += 1
        log.info("command %s %s", command.name, command.id)
        if command.name == "snapshot":
            threading.Thread(target=self._snapshot, args=(command,), name="edge-snapshot", daemon=True).start()
        else:
            self._reply(self._run(command))

    def _expired(self, command: Command, expiry: float | None, received: float) -> bool:
        if expiry is not None:  # the broker counted it down: no wall clock involved
            ttl = (command.expires_at - command.issued_at).total_seconds()
            return self.clock() >= received + min(expiry, max(0.0, ttl))
        return self.wallclock() >= command.expires_at

    def _run(self, command: Command) -> CommandReply:
        if command.name == "ping":
            return _answer(command, "done")
        if command.name == "test_siren":
            seconds = command.args.get("seconds", SIREN_TEST_SECONDS)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds:
                return _answer(command, "failed", reason="bad_seconds")
            seconds = min(float(seconds), SIREN_TEST_MAX_SECONDS)
            if self.siren.alarm_sounding():  # a panic's siren is on: a test would cut it short
                return _answer(command, "failed", reason="siren_busy")
            if not self.siren.test_siren(seconds):
                return _answer(command, "failed", reason="no_siren")
            return _answer(command, "done", seconds=seconds)
        if command.name == "silence_siren":
            if not self.siren.silence():
                return _answer(command, "failed", reason="no_siren")
            return _answer(command, "done")
        return _answer(command, "failed", reason="not_supported")

    def _snapshot(self, command: Command) -> None:
        try:
            taken = self.cameras.snapshot() if self.cameras is not None else None
        except Exception:
            log.exception("command %s: snapshot failed", command.id)
            taken = None
        if taken is None:
            reason = "no_camera" if self.cameras is None else "no_fresh_frame"
            self._reply(_answer(command, "failed", reason=reason))
            return
        camera, jpeg = taken
        data = {"camera": camera, "state": "snapshot", "source": "command", "command": command.id}
        self.raise_event(EventKind.CAMERA, data, attachment=jpeg)
        self._reply(_answer(command, "done", camera=camera, bytes=len(jpeg)))

    def _reply(self, reply: CommandReply) -> None:
        payload = reply.model_dump_json().encode()
        with self._lock:
            if reply.id in self._replies:
                self._replies[reply.id] = payload
        if not self.publish(payload):
            log.warning("reply to command %s not sent (offline): the hub sends the command again", reply.id)


def _answer(command: Command, outcome: Any, **details: Any) -> CommandReply:
    return CommandReply(id=command.id, name=command.name, outcome=outcome, details=details)


def _readable_id(payload: bytes) -> str | None:
    """The `id` of a command this post cannot run, if it has a well-formed one (to answer `unknown`)."""
    if len(payload) > MAX_EVENT_BYTES:
        return None
    try:
        raw = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and _ULID.fullmatch(value) else None
