"""Commands to posts (issue 15): issue on `cmd`, track, match replies on `reply`, expire; audited, pushed live.

What an operator asks of a post (ping, test_siren, silence_siren, snapshot) becomes a `Command`
with an id, published QoS 1 on the post's `cmd` topic with an MQTT v5 message expiry interval
(what is left of its time to live). Each command ends in exactly one result:

* `done`, `failed`, `unknown` or `expired`: the post's reply on its own `reply` topic (only a
  reply from the post the command went to counts; anything else is rejected by ingest with a
  reason, and the command waits on for the real answer);
* `expired`: no answer by `expires_at` (the hub's clock decides, whatever the post's says).

Offline posts: posts keep no persistent MQTT session, so the broker does not queue for them.
Instead the hub sends every pending, unexpired command again each time a post reports `online`
(its retained status, published on every connect); the post runs a command id at most once and
answers a repeat with its first reply. The hub's clock alone decides expiry for queued commands,
and nothing is sent after it.

Pending commands live in memory (a hub restart forgets them: the audit log keeps who issued
what, and the operator sees no result and may ask again); the last KEEP commands stay for the
post pages. Audit records and live updates are written by this service's own thread, so ingest
(which hands replies here) never waits on the audit log's disk.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from hub.posts.registry import PostRegistry
from hub.storage.audit import AuditRecorder
from kamling.protocol import (
    COMMAND_NAMES,
    Channel,
    Command,
    ProtocolError,
    decode_reply,
    new_event_id,
    topic,
    utc_now,
)

log = logging.getLogger(__name__)

OPERATOR_COMMANDS = ("ping", "test_siren", "silence_siren", "snapshot")
"""What the dashboard and the API offer (`reload` is in the protocol but no post supports it)."""
KEEP = 1000
"""Commands remembered for the post pages (oldest finished ones go first)."""
MAX_PENDING_PER_POST = 20
MIN_TTL = 1.0
MAX_TTL = 24 * 3600.0
TICK = 0.25
"""How often pending commands are checked for expiry (the result shows at most this late)."""

Publish = Callable[[str, bytes, int], None]
"""publish(topic, payload, message_expiry_seconds): QoS 1, not retained."""


class CommandRefused(ValueError):
    """The hub will not send this command (`reason`: unknown_post, unknown_command, too_many_pending, bad_ttl,
    audit_unavailable)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PostCommand:
    """One command and what became of it (state: pending, done, failed, expired, unknown)."""

    id: str
    device: str
    name: str
    actor: str
    issued_at: datetime
    expires_at: datetime
    args: dict[str, Any] = field(default_factory=dict)
    state: str = "pending"
    sends: int = 0
    sent_at: float | None = None  # monotonic, last send
    rtt_ms: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None  # a snapshot command's picture (its `camera` event)
    finished_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.state == "pending"

    def view(self) -> dict[str, Any]:
        """JSON-safe: what the API, the live stream and the post page show."""
        reason = self.details.get("reason")
        return {
            "id": self.id,
            "device": self.device,
            "name": self.name,
            "actor": self.actor,
            "state": self.state,
            "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "sends": self.sends,
            "rtt_ms": self.rtt_ms,
            "reason": reason[:100] if isinstance(reason, str) else None,
            "event_id": self.event_id,
        }


class CommandService:
    """Thread-safe: issue() from web requests, handle_reply()/post_online()/observe_records() from ingest."""

    def __init__(
        self,
        registry: PostRegistry,
        publish: Publish,
        audit: AuditRecorder,
        default_ttl: float = 120.0,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.publish = publish
        self.audit = audit
        self.default_ttl = default_ttl
        self.clock = clock
        self.monotonic = monotonic
        self.listeners: list[Callable[[PostCommand], None]] = []  # hub/web/live.py: pushed to dashboards
        self.stats = {"issued": 0, "replies": 0, "repeats": 0, "expired": 0, "resent": 0}
        self._commands: OrderedDict[str, PostCommand] = OrderedDict()
        self._lock = threading.Lock()
        self._outbox: queue.Queue[tuple[PostCommand, str, dict[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="post-commands", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._outbox.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    # -- operators --------------------------------------------------------------------------------
    def issue(
        self,
        device: str,
        name: str,
        actor: str,
        *,
        args: dict[str, Any] | None = None,
        ttl: float | None = None,
        client: str = "",
    ) -> PostCommand:
        """Audit, then send one command to `device`; raises CommandRefused."""
        if self.registry.get(device) is None:
            raise CommandRefused("unknown_post")
        if name not in COMMAND_NAMES:
            raise CommandRefused("unknown_command")
        ttl = self.default_ttl if ttl is None else ttl
        if not MIN_TTL <= ttl <= MAX_TTL:
            raise CommandRefused("bad_ttl")
        now = self.clock()
        command = PostCommand(
            id=new_event_id(),
            device=device,
            name=name,
            actor=actor,
            issued_at=now,
            expires_at=now + timedelta(seconds=ttl),
            args=dict(args or {}),
        )
        with self._lock:
            if sum(1 for c in self._commands.values() if c.device == device and c.pending) >= MAX_PENDING_PER_POST:
                raise CommandRefused("too_many_pending")
            self._commands[command.id] = command
            self._trim()
        try:  # no command leaves without its audit record
            self.audit.record(actor, "post.command", device, client=client, command=command.id, name=name, ttl_s=ttl)
        except Exception:
            log.exception("commands: audit log unavailable; %s to %s not sent", name, device)
            with self._lock:
                self._commands.pop(command.id, None)
            raise CommandRefused("audit_unavailable") from None
        self.stats["issued"] += 1
        sent = self._send(command.id)
        self._notify(sent or command)
        return sent or command

    def get(self, command_id: str) -> PostCommand | None:
        return self._commands.get(command_id)

    def recent(self, device: str | None = None, limit: int = 20) -> list[PostCommand]:
        """The newest commands first (of one post, or of all)."""
        with self._lock:
            chosen = [c for c in reversed(self._commands.values()) if device is None or c.device == device]
        return chosen[:limit]

    # -- from ingest ------------------------------------------------------------------------------
    def handle_reply(self, device: str, payload: bytes, received: float | None = None) -> None:
        """A `reply` from `device` (the broker-authenticated topic); raises ProtocolError to reject it."""
        received = self.monotonic() if received is None else received
        reply = decode_reply(payload)
        with self._lock:
            command = self._commands.get(reply.id)
            if command is None:
                raise ProtocolError("unknown_command", reply.id)
            if command.device != device:  # a post answering for another post's command
                self._outbox.put((command, "post.command.reply_refused", {"from": device, "reason": "not_own"}))
                raise ProtocolError("command_not_own", f"{device} answered {reply.id} of {command.device}")
            if reply.name is not None and reply.name != command.name:
                raise ProtocolError("command_mismatch", f"{reply.id} is {command.name}, reply says {reply.name[:40]}")
            if not command.pending:
                self.stats["repeats"] += 1
                return
            rtt = None
            if command.name == "ping" and command.sent_at is not None:
                rtt = round(max(0.0, received - command.sent_at) * 1000, 1)
            done = replace(
                command, state=reply.outcome, rtt_ms=rtt, details=dict(reply.details), finished_at=self.clock()
            )
            self._commands[command.id] = done
        self.stats["replies"] += 1
        self._outbox.put((done, "post.command.result", {"outcome": done.state, "rtt_ms": rtt}))

    def post_online(self, device: str) -> int:
        """The post (re)connected: send its pending, unexpired commands again; returns how many."""
        now = self.clock()
        with self._lock:
            due = [c.id for c in self._commands.values() if c.device == device and c.pending and c.expires_at > now]
        for command_id in due:
            self._send(command_id)
        self.stats["resent"] += len(due)
        return len(due)

    def observe_records(self, batch: list[dict[str, Any]]) -> None:
        """Committed events: a snapshot taken on command is its command's picture (same post only)."""
        for record in batch:
            data = record.get("data")
            if record.get("kind") != "camera" or not isinstance(data, dict) or data.get("source") != "command":
                continue
            command_id = data.get("command")
            with self._lock:
                command = self._commands.get(command_id) if isinstance(command_id, str) else None
                if command is None or command.device != record.get("device") or command.name != "snapshot":
                    continue
                updated = replace(command, event_id=str(record.get("id")))
                self._commands[command.id] = updated
            self._outbox.put((updated, "", {}))

    # -- expiry -----------------------------------------------------------------------------------
    def expire_due(self) -> list[PostCommand]:
        """Pending commands past their expiry become `expired` (no answer came in time)."""
        now = self.clock()
        expired: list[PostCommand] = []
        with self._lock:
            for command in list(self._commands.values()):
                if command.pending and command.expires_at <= now:
                    done = replace(command, state="expired", details={"reason": "no_reply"}, finished_at=now)
                    self._commands[command.id] = done
                    expired.append(done)
        for done in expired:
            self.stats["expired"] += 1
            self._outbox.put((done, "post.command.result", {"outcome": "expired"}))
        return expired

    # -- internals --------------------------------------------------------------------------------
    def _send(self, command_id: str) -> PostCommand | None:
        with self._lock:
            command = self._commands.get(command_id)
            if command is None or not command.pending:
                return None
            left = (command.expires_at - self.clock()).total_seconds()
            if left <= 0:
                return None
            sent = replace(command, sends=command.sends + 1, sent_at=self.monotonic())
            self._commands[command_id] = sent
        wire = Command.model_validate(  # the name was checked against COMMAND_NAMES in issue()
            {
                "id": sent.id,
                "name": sent.name,
                "args": sent.args,
                "issued_at": sent.issued_at,
                "expires_at": sent.expires_at,
            }
        )
        try:
            self.publish(topic(sent.device, Channel.CMD), wire.model_dump_json().encode(), max(1, int(left)))
        except Exception:  # the broker link is down: a resend on the post's next `online` may still deliver it
            log.exception("commands: could not publish %s to %s", sent.id, sent.device)
        return sent

    def _trim(self) -> None:
        """Keep at most KEEP commands: the oldest finished go first (caller holds the lock)."""
        if len(self._commands) <= KEEP:
            return
        for command_id in [c.id for c in self._commands.values() if not c.pending]:
            if len(self._commands) <= KEEP:
                return
            del self._commands[command_id]

    def _notify(self, command: PostCommand) -> None:
        for listener in list(self.listeners):
            try:
                listener(command)
            except Exception:
                log.exception("commands: listener failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._outbox.get(timeout=TICK)
            except queue.Empty:
                item = None
            try:
                if item is not None:
                    self._settle(*item)
                self.expire_due()
            except Exception:
                log.exception("commands: result handling failed")
        while True:  # what was queued before stop() is still audited
            try:
                item = self._outbox.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._settle(*item)

    def _settle(self, command: PostCommand, action: str, detail: dict[str, Any]) -> None:
        """Audit one outcome (or a refused reply) and push the command to the dashboards."""
        if action == "post.command.reply_refused":
            self.audit.record(
                str(detail.get("from")),
                action,
                command.device,
                ok=False,
                command=command.id,
                reason=detail.get("reason"),
            )
            return
        if action:
            ok = command.state == "done"
            self.audit.record(
                "hub", action, command.device, ok=ok, command=command.id, name=command.name, by=command.actor, **detail
            )
        self._notify(command)
