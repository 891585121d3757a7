"""The edge agent: wires button, outbox, MQTT link and LED feedback on one worker thread."""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge.checkin import CheckinGate
from edge.commands import CommandRunner
from edge.config import EdgeConfig
from edge.core import PostView, feedback_chirps, led_pattern
from edge.hardware import PostHardware
from edge.link import EdgeLink
from edge.outbox import Outbox, PendingEvent
from edge.rfid import CardReader
from edge.telemetry import HostProbe, build_health
from kamling.backoff import Backoff
from kamling.protocol import (
    ALARM_KINDS,
    AlertState,
    Channel,
    Event,
    EventKind,
    ProtocolError,
    decode_ack,
    decode_alert_update,
    snapshot_suffix,
)

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 200
"""Events sent and not yet acked at once; the rest wait in the outbox, in order."""
MAX_REPLAY_WAIT = 60.0
"""Longest wait before replaying unacked events again while the hub stays silent."""
IDLE_WAIT_S = 2.0
"""With nothing arriving and nothing due, the loop still wakes this often (the systemd watchdog ping
rides on it: WatchdogSec=30). Each wake-up of an idle post cost about 0.3 ms of CPU on a busy 2-core
VM, so the loop sleeps until the next replay or health report is due instead (issue 17 item 5)."""
RETRY_S = 0.5
"""After a publish the link refused, the next attempt."""
SEND_WINDOW_BYTES = 4096
"""Bytes of events and picture parts handed to the link and not yet PUBACKed by the broker (issue 17
item 3). Whatever sits in paho's queue and the socket is ahead of a panic pressed now: on a 64 kbit/s
GSM link 4 KB is half a second, and still more than the link carries in one 300 ms round trip, so
the link stays full. A panic or tamper is sent whatever the window holds."""
SNAPSHOT_PART_BYTES = 2048
"""A picture larger than this goes in parts of this size (kamling/protocol.py snapshot_suffix)."""


@dataclass(frozen=True)
class _NewEvent:
    kind: EventKind
    data: dict[str, Any]
    test: bool
    attachment: bytes | None


@dataclass(frozen=True)
class _Incoming:
    channel: Channel
    suffix: str | None
    payload: bytes
    expiry: float | None = None  # a command's MQTT message expiry left at receipt (edge/commands.py)
    received: float = 0.0


@dataclass(frozen=True)
class _Puback:
    mid: int  # the broker has this tracked publish (edge/link.py publish_tracked)


@dataclass
class _Upload:
    """The picture being sent, part by part; it goes from the outbox when every part is PUBACKed."""

    event_id: str
    jpeg: bytes
    parts: int
    sent: int = 0  # parts handed to the link
    unacked: set[int] = field(default_factory=set)  # their message ids not yet PUBACKed


@dataclass(frozen=True)
class _Connection:
    up: bool


@dataclass(frozen=True)
class _Hubs:
    online: bool  # some hub is online on the broker this post is connected to


class _Stop:
    pass


class EdgeAgent:
    """One post: a panic press becomes a durable event, sent until the hub acks it."""

    def __init__(
        self,
        config: EdgeConfig,
        hardware: PostHardware,
        outbox: Outbox,
        link_factory: Callable[..., EdgeLink] = EdgeLink,
        clock: Callable[[], float] = time.monotonic,
        version: str | None = None,
        on_tick: Callable[[], None] | None = None,
        probe: HostProbe | None = None,
        cameras: Callable[[Callable[..., None]], Any] | None = None,
        card_reader: Any | None = None,
    ) -> None:
        self.config = config
        self.hardware = hardware
        self.outbox = outbox
        self.link_factory = link_factory
        self.clock = clock
        self.version = version
        self.on_tick = on_tick
        self.probe = probe  # where health readings come from (tests inject a fake HostProbe)
        if (
            cameras is None and config.cameras
        ):  # edge/camera/manager.py; imports OpenCV only when cameras are configured
            from edge.camera.manager import CameraManager, post_clock

            cameras = lambda raise_event: CameraManager(  # noqa: E731
                config.cameras, raise_event, worker_options={"wallclock": post_clock(config.timezone)}
            )
        self.cameras = cameras(self.raise_event) if cameras is not None else None  # start()/stop()/fps()
        # Ronda check-ins (issue 14): the button and each card pass one gate each (edge/checkin.py).
        checkin_cfg, rfid_cfg = config.checkin_button, config.rfid
        self._checkins = CheckinGate(checkin_cfg.min_interval if checkin_cfg else 30.0, clock)
        self._cards = CheckinGate(rfid_cfg.min_interval if rfid_cfg else 30.0, clock)
        if card_reader is None and rfid_cfg is not None:  # edge/rfid.py; evdev is imported only when it opens
            card_reader = CardReader(rfid_cfg.device, self.present_card, grab=rfid_cfg.grab)
        self.card_reader = card_reader  # start()/stop(); tests pass a CardReader on a fake input device
        self.link: EdgeLink | None = None
        # Hub commands (issue 15): siren test/silence, snapshot, ping; answered on `reply` (edge/commands.py).
        self.commands = CommandRunner(
            hardware, lambda payload: self._publish(Channel.REPLY, payload), self.raise_event, self.cameras, clock
        )
        self.alert_state: AlertState | None = None
        self.alert_id: str | None = None
        self.connected = False
        self.hub_online = True  # until the link says no hub serves its broker (edge/link.py)
        self._inbox: queue.Queue[object] = queue.Queue()
        self._sent_at: OrderedDict[str, float] = OrderedDict()  # in flight: id -> sent at, seq order
        self._sent_upto = 0  # highest seq published since the last (re)connect or replay
        self._last_health: float | None = None
        self._stored_upto = 0  # highest seq in the outbox (from open and every add): nothing to send above it
        self._retry_soon = False  # a publish was refused: try again after RETRY_S, not IDLE_WAIT_S
        # cameras in the last health report, each with whether it was delivering frames
        self._cameras_reported: frozenset[tuple[str, bool]] = frozenset()
        # The replay wait starts at ack_timeout and doubles while replays go unacked.
        self._replay_backoff = Backoff(config.ack_timeout, max(config.ack_timeout, MAX_REPLAY_WAIT))
        self._replay_wait = self._replay_backoff.next()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.stats = {"published": 0, "acked": 0, "resent": 0, "bad_messages": 0, "replays": 0, "snapshots": 0}
        self._ever_sent: set[str] = set()  # ids published at least once (for the `resent` count)
        self._alarm_sent: set[str] = set()  # alarm copies sent before their commit, event copy not yet
        # What the link holds ahead of the next publish (issue 17 item 3): message id -> bytes, not PUBACKed.
        self.send_window = SEND_WINDOW_BYTES
        self.part_bytes = SNAPSHOT_PART_BYTES
        self._in_link: dict[int, int] = {}
        self._in_link_bytes = 0
        self._upload: _Upload | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self.outbox.open()
        self._stored_upto = self.outbox.last_seq()
        self.link = self.link_factory(
            self.config, self._on_message, self._on_connection, version=self.version, on_hubs=self._on_hubs
        )
        self.link.on_puback = self._on_puback
        self.hardware.start(on_panic=self.press_panic, on_tamper=self._on_tamper, on_checkin=self.press_checkin)
        self._refresh_led()
        self._thread = threading.Thread(target=self._run, name=f"agent-{self.config.device_id}", daemon=True)
        self._thread.start()
        self.link.start()
        if self.cameras is not None:
            self.cameras.start()
        if self.card_reader is not None:
            self.card_reader.start()

    def stop(self) -> None:
        if self.cameras is not None:  # first: a worker's last "motion end" still reaches the outbox
            self.cameras.stop()
        if self.card_reader is not None:
            self.card_reader.stop()
        if self._thread is not None:
            self._inbox.put(_Stop())
            self._thread.join(timeout=10)
            self._thread = None
        if self.link is not None:
            self.link.stop()
            self.link = None
        self.hardware.stop()
        self.outbox.close()

    # -- inputs (any thread) ---------------------------------------------------------------
    def press_panic(self) -> None:
        """The guard pressed the panic button: a durable event, and the siren at once."""
        self.raise_event(EventKind.PANIC, {"source": "button"})  # first: starting the siren's thread takes ~0.5 ms
        self.hardware.sound_alarm()

    def press_checkin(self) -> None:
        """The guard pressed "Lapor ronda": a receipt at once, then a durable `checkin` event (one per press)."""
        if not self._checkins.allow("button"):
            return
        self.hardware.receipt()
        self.raise_event(EventKind.CHECKIN, {"source": "button"})

    def present_card(self, card: str) -> None:
        """A guard's card on the reader: a check-in that says who (the hub looks the number up)."""
        if not self._cards.allow(f"card:{card}"):
            return
        self.hardware.receipt()
        self.raise_event(EventKind.CHECKIN, {"source": "card", "card": card})

    def raise_event(
        self,
        kind: EventKind,
        data: dict[str, Any] | None = None,
        *,
        test: bool = False,
        attachment: bytes | None = None,
    ) -> None:
        self._inbox.put(_NewEvent(kind, data or {}, test, attachment))

    def _on_tamper(self, opened: bool) -> None:
        self.raise_event(EventKind.TAMPER, {"source": "enclosure", "state": "open" if opened else "closed"})

    def _on_message(self, channel: Channel, suffix: str | None, payload: bytes, expiry: float | None = None) -> None:
        self._inbox.put(_Incoming(channel, suffix, payload, expiry, self.clock()))

    def _publish(self, channel: Channel, payload: bytes) -> bool:
        link = self.link
        return link is not None and link.publish(channel, payload)

    def _on_connection(self, up: bool) -> None:
        self._inbox.put(_Connection(up))

    def _on_puback(self, mid: int) -> None:
        self._inbox.put(_Puback(mid))

    def _on_hubs(self, online: bool) -> None:
        self._inbox.put(_Hubs(online))

    # -- worker thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                item = self._inbox.get(timeout=self._wait_s())
            except queue.Empty:
                item = None
            try:
                if isinstance(item, _Stop):
                    return
                if isinstance(item, _NewEvent):
                    event = self._store(item)
                    self._send_due()  # a new event leaves first; the LED and the log can wait a moment
                    self._ask_for_evidence(event)  # its pictures follow it as events of their own
                    log.info("event %s seq=%s kind=%s stored in outbox", event.id, event.seq, event.kind)
                    self._refresh_led()
                elif isinstance(item, _Puback):
                    self._handle_puback(item.mid)
                elif isinstance(item, _Incoming):
                    self._handle_incoming(item)
                elif isinstance(item, _Connection):
                    self._handle_connection(item.up)
                elif isinstance(item, _Hubs):
                    if item.online != self.hub_online:
                        log.log(logging.INFO if item.online else logging.WARNING, "hub online: %s", item.online)
                    self.hub_online = item.online
                    self._refresh_led()
                self._send_due()
                self._health_due()
                if self.on_tick:
                    self.on_tick()
            except Exception:  # the agent must keep running whatever one message does
                log.exception("edge agent: error while handling %r", item)

    def _wait_s(self) -> float:
        """How long the loop may wait for the next message: until a replay or health report is due, at most IDLE_WAIT_S."""
        wait = RETRY_S if self._retry_soon else IDLE_WAIT_S
        now = self.clock()
        if self._sent_at and self.connected:
            wait = min(wait, next(iter(self._sent_at.values())) + self._replay_wait - now)
        if self._last_health is not None and self.connected:
            wait = min(wait, self._last_health + self.config.health_interval - now)
        return max(wait, 0.01)

    def _store(self, item: _NewEvent) -> Event:
        # Early only when it overtakes nothing: everything older is acked (none in flight or unsent).
        quiet = item.kind in ALARM_KINDS and not self._sent_at and self._sent_upto >= self._stored_upto
        early = self._send_alarm_copy if quiet else None
        event = self.outbox.add(item.kind, item.data, test=item.test, attachment=item.attachment, before_commit=early)
        self._stored_upto = max(self._stored_upto, event.seq)
        return event

    def _send_alarm_copy(self, event: Event, payload: bytes) -> None:
        """A panic's (tamper's) alarm copy leaves while its outbox commit is being fsync'd (issue 17).

        Only on a quiet post (see _store): with older events unacked, the copies go from _send_due in
        seq order (overtaking a backlog broke the hub's per-post order past the in-flight window in
        the hub-SIGKILL fault test). The `event` copy follows once committed; replays send both."""
        link = self.link
        if link is not None and self.connected and link.publish(Channel.ALARM, payload):
            self._alarm_sent.add(event.id)

    def _ask_for_evidence(self, event: Event) -> None:
        """A panic or tamper (not its all-clear): the cameras send frames from before, at and after it."""
        if self.cameras is None or event.kind not in (EventKind.PANIC, EventKind.TAMPER):
            return
        if event.kind is EventKind.TAMPER and event.data.get("state") in ("closed", "restored"):
            return
        capture = getattr(self.cameras, "capture_evidence", None)
        if capture is not None:
            try:
                capture(event.id)
            except Exception:  # pictures are a bonus: never at the cost of the event loop
                log.exception("edge agent: asking the cameras for evidence of %s failed", event.id)

    def _handle_connection(self, up: bool) -> None:
        self.connected = up
        self._forget_link()  # a new session: nothing of the old one is queued ahead any more
        self._replay_from_oldest()  # after a reconnect, replay everything not acked, in order
        if up:
            self._last_health = None  # tell the hub our outbox state at once
        self._refresh_led()

    def _forget_link(self) -> None:
        self._in_link.clear()
        self._in_link_bytes = 0
        self._upload = None  # the picture in progress starts again from its first part

    def _replay_from_oldest(self) -> None:
        self._sent_at.clear()
        self._sent_upto = 0

    def _handle_incoming(self, item: _Incoming) -> None:
        try:
            if item.channel is Channel.ACK:
                ack = decode_ack(item.payload)
                removed = self.outbox.remove(ack.ids)
                if removed:
                    self._replay_backoff.reset()  # the hub is back: replay promptly
                    self._replay_wait = self._replay_backoff.next()
                for event_id in ack.ids:
                    self._sent_at.pop(event_id, None)
                    self._ever_sent.discard(event_id)
                    self._alarm_sent.discard(event_id)
                self.stats["acked"] += removed
                self._refresh_led()
            elif item.channel is Channel.ALERT:
                update = decode_alert_update(item.payload)
                chirps = feedback_chirps(self.alert_state, update.state)
                self.alert_id, self.alert_state = update.alert_id, update.state
                if update.state is AlertState.RESOLVED:
                    self.alert_state = None
                self.hardware.chirp(chirps)
                self._refresh_led()
                log.info("alert %s is now %s", update.alert_id, update.state)
            elif item.channel is Channel.CMD:
                self.commands.handle(item.payload, item.expiry, item.received)
        except ProtocolError as exc:
            self.stats["bad_messages"] += 1
            log.warning("ignoring bad %s message from hub: %s", item.channel, exc)

    def _send_due(self) -> None:
        """Publish what is due: panic and tamper first, then events oldest first, then pictures.

        Events other than alarms go in seq order, at most MAX_IN_FLIGHT unacked by the hub and at
        most `send_window` bytes unacked by the broker; pictures only when no event waits. When the
        oldest event in flight has waited ack_timeout, everything unacked is replayed from the
        oldest, so the hub receives each post's events in seq order. While replays go unacked (hub
        down) the wait doubles up to MAX_REPLAY_WAIT, so that posts do not bury a returning hub in
        duplicates.
        """
        self._retry_soon = False
        link = self.link
        if link is None or not self.connected:
            return
        now = self.clock()
        if self._sent_at:
            oldest = next(iter(self._sent_at.values()))
            if now - oldest >= self._replay_wait:
                self.stats["replays"] += 1
                self._replay_wait = self._replay_backoff.next()
                self._replay_from_oldest()
                self._forget_link()  # a PUBACK that never came must not hold the window shut
        # Everything stored has been published since the last (re)connect or replay, alarms included:
        # no outbox query (the loop wakes for every PUBACK of a picture's parts).
        all_sent = self._sent_upto >= self._stored_upto
        for alarm in () if all_sent else self.outbox.pending_alarms():  # ahead of any backlog and window
            if alarm.event.id not in self._sent_at and not self._send_event(link, alarm, now):
                self._retry_soon = True
                return
        room = MAX_IN_FLIGHT - len(self._sent_at)
        if room <= 0:
            return  # events wait for the hub's acks; pictures wait for the events
        if all_sent:
            self._send_picture(link)
            return
        due = self.outbox.pending(limit=room, after_seq=self._sent_upto)
        for pending in due:
            if pending.event.id in self._sent_at:  # an alarm that went ahead
                self._sent_upto = pending.event.seq
                continue
            if self._link_full():
                return  # a PUBACK wakes the loop
            if not self._send_event(link, pending, now):
                self._retry_soon = True
                return
            self._sent_upto = pending.event.seq
        if len(due) < room:  # no event waits: the link may carry a picture
            self._send_picture(link)

    def _send_event(self, link: EdgeLink, pending: PendingEvent, now: float) -> bool:
        event_id = pending.event.id
        if pending.event.kind in ALARM_KINDS and event_id not in self._alarm_sent:
            link.publish(Channel.ALARM, pending.payload)  # for the hub's alarm session, which no flood shares
        mid = link.publish_tracked(Channel.EVENT, pending.payload)
        if mid is None:
            return False
        self._hand_to_link(mid, len(pending.payload))
        self._alarm_sent.discard(event_id)  # a replay sends the alarm copy again
        self.stats["resent" if event_id in self._ever_sent else "published"] += 1
        self._ever_sent.add(event_id)
        self._sent_at[event_id] = now
        return True

    def _send_picture(self, link: EdgeLink) -> None:
        """Parts of the oldest picture whose event the hub has, while the send window has room.

        A picture is sent only after its event's ack (the hub stores it at once) and in parts of
        `part_bytes`, so an event published meanwhile waits behind at most the window, never
        behind a whole JPEG (15-40 KB: 2-5 s at 64 kbit/s)."""
        while not self._link_full():
            upload = self._upload
            if upload is None:
                waiting = self.outbox.next_snapshot()
                if waiting is None:
                    return
                parts = max(1, math.ceil(len(waiting.jpeg) / self.part_bytes))
                upload = self._upload = _Upload(waiting.event_id, waiting.jpeg, parts)
            if upload.sent >= upload.parts:
                return  # the last parts are on their way
            part = upload.jpeg[upload.sent * self.part_bytes : (upload.sent + 1) * self.part_bytes]
            suffix = snapshot_suffix(upload.event_id, upload.sent + 1, upload.parts)
            mid = link.publish_tracked(Channel.SNAPSHOT, part, suffix=suffix)
            if mid is None:
                return
            self._hand_to_link(mid, len(part))
            upload.unacked.add(mid)
            upload.sent += 1

    def _hand_to_link(self, mid: int, size: int) -> None:
        self._in_link[mid] = size
        self._in_link_bytes += size

    def _link_full(self) -> bool:
        return bool(self._in_link) and self._in_link_bytes >= self.send_window

    def _handle_puback(self, mid: int) -> None:
        self._in_link_bytes -= self._in_link.pop(mid, 0)
        upload = self._upload
        if upload is None or mid not in upload.unacked:
            return
        upload.unacked.discard(mid)
        if upload.sent >= upload.parts and not upload.unacked:
            self.outbox.snapshot_sent(upload.event_id)
            self.stats["snapshots"] += 1
            self._upload = None

    def _health_due(self) -> None:
        """Publish health telemetry (with outbox depth and drops) every health_interval."""
        link = self.link
        if link is None or not self.connected or not self.outbox.is_open:
            return
        now = self.clock()
        # A camera that finished warming up joins the report at once, not a health_interval later.
        # ... and so does a camera that starts or stops delivering frames (a slow start that outlasted the
        # warm-up was reported as not delivering, and its recovery waited for the next health_interval).
        cameras = (
            frozenset((name, bool(fps)) for name, fps in self.cameras.fps().items())
            if self.cameras is not None
            else frozenset()
        )
        due = self._last_health is None or now - self._last_health >= self.config.health_interval
        if not due and cameras == self._cameras_reported:
            return
        self._last_health = now
        self._cameras_reported = cameras
        depth, drops, data_dir = self.outbox.depth(), self.outbox.dropped(), self.config.data_dir
        pictures_dropped = self.outbox.dropped_pictures()

        def send() -> None:  # host probes may run commands: never on the event thread
            camera_fps = self.cameras.fps() if self.cameras is not None else None
            payload = build_health(
                data_dir=data_dir,
                outbox_depth=depth,
                outbox_drops=drops,
                outbox_pictures_dropped=pictures_dropped,
                camera_fps=camera_fps,
                probe=self.probe,
            )
            link.publish(Channel.HEALTH, json.dumps(payload).encode(), qos=0)

        threading.Thread(target=send, name="edge-health", daemon=True).start()

    def _refresh_led(self) -> None:
        view = PostView(
            connected=self.connected,
            hub_online=self.hub_online,
            alert_state=self.alert_state,
            panic_unconfirmed=self.outbox.is_open and self.outbox.has_pending(EventKind.PANIC),
        )
        self.hardware.show(led_pattern(view))
