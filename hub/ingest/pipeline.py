"""Ingest: validate every inbound message, route events to the alert path and the log path.

Runs on its own thread, fed by the MQTT adapter's queue. Bad input is logged, counted
and dropped; the worker keeps running. One exception: a panic's (tamper's) alarm copy runs its
alert path on the alarm session's own thread before it is queued (`early_alarm`, issue 17); the
worker then stores, acks and settles it as any other message, and skips its alert path.

Delivery: an event is acked to its post (and PUBACKed to the broker, `Inbound.done`) only
after the event log committed it; ingest is idempotent by event id, and gaps in a post's
`seq` are counted per device (`seq_gaps`).

Every message ends in a definite outcome: stored, rejected with a reason, or dead-lettered
(hub/storage/deadletters.py). A message whose handling fails in any other way, here or in the
log writer's commit, is written to the dead letters, PUBACKed and acked to its post, and its
event id stops being pending: no message can hold the broker's in-flight window (issue 18).
Resends of a dead-lettered event are PUBACKed and counted, never stored.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from hub.alerting.rules import AlertKind
from hub.alerting.service import AlertService
from hub.ingest.mqtt_session import Inbound
from hub.ingest.ratelimit import DeviceRateLimiter, message_cost, message_kind
from hub.ingest.snapshot_gate import SnapshotGate
from hub.ingest.snapshot_parts import SnapshotParts
from hub.posts.registry import PostRegistry
from hub.storage.deadletters import DeadLetter, DeadLetterStore, letter_key
from hub.storage.eventlog import EventLogWriter
from hub.storage.events import EventStore, Record
from hub.storage.snapshots import SnapshotRefused, is_safe_key
from kamling.protocol import (
    ALARM_KINDS,
    Ack,
    Channel,
    Event,
    ProtocolError,
    check_snapshot,
    clock_skew,
    decode_event,
    decode_health,
    decode_status,
    parse_snapshot_suffix,
    parse_topic,
    topic,
    utc_now,
)

log = logging.getLogger(__name__)

RECENT_IDS = 100_000
REACK_INTERVAL = 5.0  # seconds between acks of one dead-lettered event's resends
RECENT_DEAD_ACKS = 10_000
DRAIN = 256
"""Messages the ingest worker takes from its queue at once: their event ids are looked up in the store in
one query (a look-up per event cost more than validating it), then each is handled in order."""
_ID_HINT = re.compile(rb'"id"\s*:\s*"([0-9A-Za-z_-]{1,64})"')
HINT_BYTES = 4096  # payloads larger than this get no id look-up ahead (decode_event refuses most of them)


class SnapshotSink(Protocol):
    def save(self, device: str, event_id: str, jpeg: bytes) -> bool | None:
        """Store one snapshot (False/None: a replay); may raise hub.storage.snapshots.SnapshotRefused."""


class Ingest:
    def __init__(
        self,
        inbox: queue.Queue[Inbound],
        registry: PostRegistry,
        store: EventStore,
        writer_factory: Callable[..., EventLogWriter],
        alerts: AlertService,
        publish: Callable[[str, bytes], None],
        snapshots: SnapshotSink | None = None,
        limiter: DeviceRateLimiter | None = None,
        clock: Callable[[], datetime] = utc_now,
        max_batch: int = 500,
        dead_letters: DeadLetterStore | None = None,
    ) -> None:
        self.inbox = inbox
        self.registry = registry
        self.store = store
        self.alerts = alerts
        self.publish = publish
        self.snapshots = snapshots
        self.limiter = limiter or DeviceRateLimiter()  # per-device token buckets (hub/ingest/ratelimit.py)
        self.clock = clock
        self.on_health: Callable[[str, dict], None] | None = None  # set by HubService
        self.on_commit: Callable[[list[Record]], None] | None = None  # set by HubService
        self.on_rate_limited: Callable[[str], None] | None = None  # hub/ingest/quarantine.py (paho's thread: cheap)
        self.on_tick: Callable[[], None] | None = None  # kamling/runtime.py: systemd watchdog, from this loop
        self.on_dead_letter: Callable[[DeadLetter], None] | None = None  # hub/ingest/poison.py: alert on repeats
        self.on_reply: Callable[[str, bytes, float], None] | None = None  # hub/posts/commands.py (raises ProtocolError)
        # hub/ingest/brokers.py BrokerLossHold.defer: True when an offline post's alert must wait (issue 13)
        self.defer_offline: Callable[[str], bool] | None = None
        self.post_offline: Callable[[str], object] | None = None  # hub/alerting/offline_hold.py; None: page at once
        self.on_status: Callable[[str, bool], None] | None = None  # every status message: commands resent on `online`
        self.writer = writer_factory(store, self._on_committed, max_batch=max_batch)
        # no snapshot without an event of the same post (issue 18); HubService.configure()s its limits
        self.snapshot_gate = SnapshotGate(self._store_snapshot, self._event_owner, self._reject)
        self.snapshot_parts = SnapshotParts(self._reject)  # pictures a post on a slow link sends in parts
        self.writer.on_failed = self._on_commit_failed  # a record the store refused: dead-lettered
        if dead_letters is None:  # embedding and tests: in memory
            dead_letters = DeadLetterStore(None)
            dead_letters.open()
        self.dead_letters = dead_letters
        self.dead_lettered = 0  # messages written to the dead letters by this run
        self.dead_letter_resends = 0  # copies of dead-lettered messages PUBACKed and dropped
        self.rejected: Counter[str] = Counter()
        self.accepted = 0
        self.duplicates = 0
        self._pending: dict[str, list[Inbound]] = {}  # event id -> messages to settle at commit
        self.seq_gaps: Counter[str] = Counter()
        self.clock_skewed: Counter[str] = (
            Counter()
        )  # per post: events whose time is far from the hub's (kamling.protocol.clock_skew)
        self._alerted: OrderedDict[str, None] = OrderedDict()  # event ids whose alert path ran (_alert_once)
        self._alert_lock = threading.Lock()  # the alert path of one event runs once: here or in early_alarm
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._current: Inbound | None = None  # the message being handled now (oldest_unacked)
        self._drained: list[Inbound] = []  # taken from the queue, not yet handled (oldest_unacked)
        self._absent: set[str] = set()  # event ids of this drain the store did not hold at its look-up
        self._dead_acked: OrderedDict[str, float] = OrderedDict()  # dead-lettered id -> last ack (monotonic)

    def start(self) -> None:
        self.registry.prime_seqs(self.store.last_seqs())
        self.writer.start()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.writer.stop()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                first = self.inbox.get(timeout=0.2)
            except queue.Empty:
                items: list[Inbound] = []
            else:
                items = self._drain(first)
            if items:
                self._look_up(items)
            for position, item in enumerate(items):
                self._current = item
                self._drained = items[position + 1 :]
                try:
                    self.handle(item)
                except Exception:  # handle() dead-letters its failures; this is the last net
                    self.rejected["internal_error"] += 1
                    log.exception("ingest: unexpected error on %s", item.topic[:200])
                    self._settle(item)
                finally:
                    self._current = None
            self._drained = []
            with self._lock:
                self._absent.clear()
            self.snapshot_gate.run_due()  # snapshots released by a commit, or waiting too long for one
            self.snapshot_parts.run_due()  # pictures in parts whose next part is overdue
            tick = self.on_tick
            if tick is not None:
                tick()

    def _drain(self, first: Inbound) -> list[Inbound]:
        """`first` and what else is queued now, up to DRAIN messages."""
        items = [first]
        while len(items) < DRAIN:
            try:
                items.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return items

    def _look_up(self, items: list[Inbound]) -> None:
        """Ask the store once which of these messages' event ids it holds; the rest go to `_absent`.

        The ids are read ahead with a pattern, as hints: a hint that is wrong (hostile or malformed
        input, an "id" inside `data`) only means that event's id was not looked up here, and `_handle_event` asks
        the store for it alone. An id the writer commits after this look-up leaves `_absent` in
        `_on_committed`, under the same lock, so it is never taken for a new event."""
        stored_among = getattr(self.store, "stored_among", None)
        if stored_among is None or len(items) < 2:
            return
        ids: set[str] = set()
        for item in items:
            if len(item.payload) > HINT_BYTES or not item.topic.endswith("/event"):
                continue
            found = _ID_HINT.search(item.payload)
            if found is not None:
                ids.add(found.group(1).decode("ascii"))
        if len(ids) < 2:
            return
        with self._lock:
            ids.difference_update(self._pending)  # pending ids are settled at their commit anyway
        try:
            stored = stored_among(ids)
        except Exception:  # the database away: each event asks for itself (and gets False)
            return
        with self._lock:
            self._absent = ids - set(stored)

    def admit(self, topic_name: str, payload: bytes) -> bool:
        """The rate-limit check alone, cheap enough for paho's thread (HubMqtt.admit): topic split and
        the device's token bucket; a substring test picks the panic bucket (a real panic always has
        `"panic"`; a device faking it only spends its own panic bucket). False: drop the message."""
        parts = topic_name.split("/", 4)
        if len(parts) < 4:
            return True  # handle() rejects it with the right reason
        kind = parts[3] if parts[3] == "alarm" else "panic" if parts[3] == "event" and b'"panic"' in payload else None
        if self.limiter.allow(parts[2], kind, message_cost(topic_name)):
            return True
        self.rejected["rate_limited"] += 1
        if self.on_rate_limited is not None:
            self.on_rate_limited(parts[2])
        return False

    def _reject(self, reason: str, topic_name: str, detail: str) -> None:
        self.rejected[reason] += 1
        log.warning("ingest: rejected message on %r: %s (%s)", topic_name[:200], reason, detail[:300])

    def alive(self) -> bool:
        """The ingest worker and the log writer are both running."""
        writer_alive = getattr(self.writer, "alive", None)
        thread = self._thread
        return thread is not None and thread.is_alive() and (writer_alive is None or writer_alive())

    def oldest_unacked_age(self, now: float | None = None) -> float:
        """Seconds since the oldest message not yet PUBACKed was received (0: none waiting): the one in
        hand, the head of the queue, and those awaiting their commit."""
        now = time.monotonic() if now is None else now
        oldest: float | None = None
        current = self._current
        if current is not None:
            oldest = current.received
        drained = self._drained
        if drained and (oldest is None or drained[0].received < oldest):
            oldest = drained[0].received
        with self.inbox.mutex:
            head = self.inbox.queue[0] if self.inbox.queue else None
        if head is not None and (oldest is None or head.received < oldest):
            oldest = head.received
        with self._lock:
            for waiting in self._pending.values():
                for item in waiting:
                    if oldest is None or item.received < oldest:
                        oldest = item.received
        return max(0.0, now - oldest) if oldest is not None else 0.0

    def handle(self, item: Inbound) -> None:
        """Validate and route one message; settles it now unless an event awaits its commit."""
        deferred = False
        device: str | None = None
        event: Event | None = None
        try:
            parts = parse_topic(item.topic)
            device = parts.device
            if self.registry.get(parts.device) is None:
                raise ProtocolError("unknown_device", parts.device)
            if not item.admitted and not self.limiter.allow(
                parts.device, message_kind(parts.channel.value, item.payload), message_cost(item.topic)
            ):
                if self.on_rate_limited is not None:
                    self.on_rate_limited(parts.device)
                raise ProtocolError("rate_limited", parts.device)
            if parts.channel is Channel.EVENT or parts.channel is Channel.ALARM:  # alarm: the same event's fast copy
                event = decode_event(parts.device, item.payload)
                if parts.channel is Channel.ALARM and event.kind not in ALARM_KINDS:
                    raise ProtocolError("not_an_alarm", event.kind.value)
                deferred = self._handle_event(event, item)
            elif parts.channel is Channel.STATUS:
                self._handle_status(parts.device, item.payload, item.broker)
            elif parts.channel is Channel.HEALTH:
                health = decode_health(item.payload)
                self.registry.set_health(parts.device, health, self.clock())
                if self.on_health is not None:  # hub/alerting/health_watch.py: warning alerts
                    self.on_health(parts.device, health)
            elif parts.channel is Channel.REPLY and self.on_reply is not None:
                self.on_reply(parts.device, item.payload, item.received)
            elif parts.channel is Channel.SNAPSHOT and self.snapshots is not None:
                assert parts.suffix is not None
                event_id, part, count = parse_snapshot_suffix(parts.suffix)
                if count == 1:
                    self._handle_snapshot(parts.device, event_id, check_snapshot(item.payload))
                else:  # a picture in parts (issue 17 item 3): joined first, then checked like any other
                    self._check_snapshot_key(parts.device, event_id)
                    jpeg = self.snapshot_parts.add(parts.device, event_id, part, count, item.payload)
                    if jpeg is not None:  # its key checked above
                        self.snapshot_gate.offer(parts.device, event_id, check_snapshot(jpeg))
            else:
                raise ProtocolError("unexpected_channel", parts.channel.value)
        except ProtocolError as exc:
            self._reject(exc.reason, item.topic, exc.detail)
        except Exception as exc:  # valid but unprocessable: dead-lettered, never left pending
            deferred = False
            self._dead_letter(item, device if device and self.registry.get(device) else None, event, exc)
        finally:
            if not deferred:
                self._settle(item)

    def _settle(self, item: Inbound) -> None:
        try:
            item.done()
        except Exception:
            log.exception("ingest: PUBACK of a message on %s failed", item.topic[:200])

    def _dead_letter(self, item: Inbound, device: str | None, event: Event | None, exc: Exception) -> None:
        """Handling `item` failed: write it to the dead letters; its event stops being pending."""
        log.error(
            "ingest: dead-lettering a message on %r (%s: %s)", item.topic[:200], type(exc).__name__, str(exc)[:200]
        )
        waiting: list[Inbound] = []
        if event is not None:
            with self._lock:
                waiting = [w for w in self._pending.pop(event.id, []) if w is not item]
        self._record_dead_letter(item.topic, item.payload, device, event.id if event else None, "handle", exc)
        for other in waiting:  # resends held while it was pending: the same poison
            self._count_resend(event.id if event else None)
            self._settle(other)
        if event is not None:
            self._alert_if_missed(event)
            self._ack_quietly(event.device, event.id)

    def _on_commit_failed(self, record: Record, exc: Exception) -> None:
        """The log writer's store refused this record alone (the rest of its batch is committed)."""
        event_id = str(record.get("id"))
        with self._lock:
            waiting = self._pending.pop(event_id, [])
        first = waiting[0] if waiting else None
        device = str(record.get("device"))
        topic_name = first.topic if first is not None else f"(event log record of {device[:64]})"
        payload = first.payload if first is not None else repr(record).encode("utf-8", "replace")
        self._record_dead_letter(topic_name, payload, device, event_id, "commit", exc)
        for _held in waiting[1:]:  # resends held while it was pending: the same poison
            self._count_resend(event_id)
        for item in waiting:
            self._settle(item)
        self._ack_quietly(device, event_id)

    def _record_dead_letter(
        self, topic_name: str, payload: bytes, device: str | None, event_id: str | None, stage: str, exc: Exception
    ) -> None:
        try:
            letter = self.dead_letters.add(
                topic=topic_name, payload=payload, device=device, event_id=event_id, reason=f"{stage}_failed", error=exc
            )
        except Exception:  # the store itself failed beyond a disk error: still no stall
            log.exception("ingest: writing a dead letter failed")
            self.rejected["dead_letter_failed"] += 1
            return
        if letter is None:  # the same poison again (already a dead letter)
            self.dead_letter_resends += 1
            return
        self.dead_lettered += 1
        callback = self.on_dead_letter
        if callback is not None:
            try:
                callback(letter)
            except Exception:
                log.exception("ingest: dead letter listener failed")

    def _reack_dead(self, device: str, event_id: str) -> None:
        """Ack a resent dead letter again, at most every REACK_INTERVAL s: an honest post that missed the ack
        gets it; a hostile post's storm of resends does not become a storm of acks queued before other posts'."""
        now = time.monotonic()
        last = self._dead_acked.get(event_id)
        if last is not None and now - last < REACK_INTERVAL:
            return
        self._dead_acked[event_id] = now
        self._dead_acked.move_to_end(event_id)
        if len(self._dead_acked) > RECENT_DEAD_ACKS:
            self._dead_acked.popitem(last=False)
        self._ack(device, [event_id])

    def _count_resend(self, event_id: str | None) -> None:
        self.dead_letter_resends += 1
        if event_id is not None:
            self.dead_letters.resent(letter_key("", b"", event_id))

    def _alert_if_missed(self, event: Event) -> None:
        """The alert path runs before anything that can poison an event; if it did not, try it now."""
        try:
            self._alert_once(event)
        except Exception:
            log.exception("ingest: alert for dead-lettered event %s failed", event.id)

    def _alert_once(self, event: Event, again_on_failure: bool = False) -> None:
        """The alert path of `event`, once per event id (from the ingest thread or paho's alarm thread).

        Tried once from the ingest thread, as before: a failure there dead-letters the message.
        `again_on_failure` (the early path): a failure leaves the id unmarked, so the ingest thread
        tries again when the message reaches it (a page is never lost to the early path)."""
        with self._alert_lock:
            if event.id in self._alerted:
                return
            self._alerted[event.id] = None
            if len(self._alerted) > RECENT_IDS:
                self._alerted.popitem(last=False)
            try:
                self.alerts.handle_event(event)
            except Exception:
                if again_on_failure:
                    self._alerted.pop(event.id, None)
                raise

    def early_alarm(self, topic_name: str, payload: bytes) -> None:
        """An admitted message of the alarm session, on paho's thread before it is queued (issue 17).

        A panic's (tamper's) alarm copy opens its alert and pages from here, without waiting for the
        ingest thread to wake up or for messages queued before it. Only what `handle` would let
        through reaches the alert path: a known post, a valid alarm event, not dead-lettered, not
        pending or stored already (a resend). Everything else, and the storing, acking and PUBACK
        of this same message, is left to the ingest thread, which then skips the alert path (one
        page per event id). Never raises: the message is queued whatever happens here."""
        try:
            parts = parse_topic(topic_name)
            if parts.channel is not Channel.ALARM or self.registry.get(parts.device) is None:
                return
            event = decode_event(parts.device, payload)
            if event.kind not in ALARM_KINDS or self.dead_letters.known(letter_key("", b"", event.id)):
                return
            with self._lock:
                if event.id in self._pending or self.store.contains(event.id):
                    return  # a resend: the ingest thread acks it again
            self._alert_once(event, again_on_failure=True)
        except ProtocolError:
            return  # the ingest thread rejects it with its reason
        except Exception:
            log.exception("ingest: early alarm path failed on %s; the ingest thread handles it", topic_name[:200])

    def _ack_quietly(self, device: str, event_id: str) -> None:
        """Ack a dead-lettered event to its post, so it stops resending it (the letter keeps the payload)."""
        try:
            self._reack_dead(device, event_id)
        except Exception:
            log.exception("ingest: ack of dead-lettered event %s failed", event_id)

    def _handle_snapshot(self, device: str, event_id: str, jpeg: bytes) -> None:
        """Stored now if `event_id` is a stored event of `device`, else held until it commits (or rejected)."""
        self._check_snapshot_key(device, event_id)
        self.snapshot_gate.offer(device, event_id, jpeg)

    @staticmethod
    def _check_snapshot_key(device: str, event_id: str) -> None:
        if not is_safe_key(device, event_id):
            raise ProtocolError("bad_topic", f"snapshot event id {event_id[:40]!r} is not an event id")

    def _store_snapshot(self, device: str, event_id: str, jpeg: bytes) -> None:
        assert self.snapshots is not None
        try:
            self.snapshots.save(device, event_id, jpeg)
        except SnapshotRefused as exc:  # the post's quota is full of pinned alert evidence
            raise ProtocolError(exc.reason, exc.detail) from None

    def _event_owner(self, event_id: str) -> str | None:
        """The device of a stored event (None: not stored); `contains` is O(1), so orphans cost no read."""
        if not self.store.contains(event_id):
            return None
        record = self.store.get(event_id)
        return str(record["device"]) if record is not None else None

    def _handle_status(self, device: str, payload: bytes, broker: str = "") -> None:
        status = decode_status(payload)
        now = self.clock()
        online = status.state == "online"
        changed = self.registry.set_status(device, online, now, status.version, broker)  # merged across brokers
        if self.on_status is not None:
            self.on_status(device, online)
        if not changed:
            return
        if online:
            log.info("post %s is online", device)
            self.alerts.clear_condition(device, AlertKind.OFFLINE, "post back online")
        else:
            log.warning("post %s went OFFLINE", device)
            if self.defer_offline is not None and self.defer_offline(device):
                return  # the hub cannot see every broker now: the post may be on one it cannot see
            (self.post_offline or self.alerts.post_offline)(device)

    def _handle_event(self, event: Event, item: Inbound | None = None) -> bool:
        """Returns True when settling `item` waits for the commit."""
        now = self.clock()
        if self.dead_letters.known(letter_key("", b"", event.id)):  # already dead-lettered: PUBACK, count
            self._count_resend(event.id)
            self._reack_dead(event.device, event.id)
            return False
        with self._lock:
            waiting = self._pending.get(event.id)
            duplicate_pending = waiting is not None
            stored = event.id not in self._absent and self.store.contains(event.id)
            if waiting is not None and item is not None:
                waiting.append(item)
            if not duplicate_pending and not stored:
                self._pending[event.id] = [item] if item is not None else []
        if stored:  # already durable: the edge missed our ack, so ack again
            self.duplicates += 1
            self._ack(event.device, [event.id])
            return False
        if duplicate_pending:
            self.duplicates += 1
            return item is not None
        gap = self.registry.seen(event.device, now, event.seq)
        if gap:
            self.seq_gaps[event.device] += gap
            log.warning("ingest: %s skipped %d seq number(s) before %d", event.device, gap, event.seq)
        self.accepted += 1
        # Alert path first: it must never wait for the log commit (an alarm copy's ran in early_alarm).
        self._alert_once(event)
        record: Record = event.model_dump(mode="json")
        record["received_at"] = now.isoformat()
        skew = clock_skew(event.ts, now)
        if skew is not None:  # accepted (never lose a panic to a wrong clock), but flagged for people
            record["clock_skew_s"] = round(skew.total_seconds(), 3)
            self.clock_skewed[event.device] += 1
        self.writer.submit(record)
        return item is not None

    def _on_committed(self, batch: list[Record], _added: list[Record]) -> None:
        by_device: dict[str, list[str]] = {}
        for record in batch:
            by_device.setdefault(record["device"], []).append(record["id"])
        settled: list[Inbound] = []
        with self._lock:
            for record in batch:
                settled.extend(self._pending.pop(record["id"], ()))
                self._absent.discard(record["id"])  # stored now: a resend in the current drain is a duplicate
        try:
            for device, ids in by_device.items():
                self._ack(device, ids)
        finally:  # committed: PUBACK whatever happens to the acks
            for item in settled:
                self._settle(item)
        self.snapshot_gate.committed(batch)  # releases snapshots that arrived before their event
        if self.on_commit is not None:  # hub/integrations/metrics.py: events by kind, ingest latency
            self.on_commit(batch)

    def _ack(self, device: str, ids: list[str]) -> None:
        for start in range(0, len(ids), 1000):
            payload = Ack(ids=ids[start : start + 1000]).model_dump_json().encode()
            self.publish(topic(device, Channel.ACK), payload)
