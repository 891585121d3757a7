"""The edge agent: wires button, outbox, MQTT link and LED feedback on one worker thread."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.config import EdgeConfig
from edge.core import PostView, feedback_chirps, led_pattern
from edge.hardware import PostHardware
from edge.link import EdgeLink
from edge.outbox import Outbox
from kamling.protocol import (
    AlertState,
    Channel,
    EventKind,
    ProtocolError,
    decode_ack,
    decode_alert_update,
    decode_command,
)

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 200
"""Events sent and not yet acked at once; the rest wait in the outbox, in order."""


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


@dataclass(frozen=True)
class _Connection:
    up: bool


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
    ) -> None:
        self.config = config
        self.hardware = hardware
        self.outbox = outbox
        self.link_factory = link_factory
        self.clock = clock
        self.version = version
        self.on_tick = on_tick
        self.link: EdgeLink | None = None
        self.alert_state: AlertState | None = None
        self.alert_id: str | None = None
        self.connected = False
        self._inbox: queue.Queue[object] = queue.Queue()
        self._sent_at: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.stats = {"published": 0, "acked": 0, "resent": 0, "bad_messages": 0}

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self.outbox.open()
        self.link = self.link_factory(self.config, self._on_message, self._on_connection, version=self.version)
        self.hardware.start(on_panic=self.press_panic, on_tamper=self._on_tamper)
        self._refresh_led()
        self._thread = threading.Thread(target=self._run, name=f"agent-{self.config.device_id}", daemon=True)
        self._thread.start()
        self.link.start()

    def stop(self) -> None:
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
        """The guard pressed the panic button: siren at once, then a durable event."""
        self.hardware.sound_alarm()
        self.raise_event(EventKind.PANIC, {"source": "button"})

    def raise_event(
        self, kind: EventKind, data: dict[str, Any] | None = None, *, test: bool = False, attachment: bytes | None = None
    ) -> None:
        self._inbox.put(_NewEvent(kind, data or {}, test, attachment))

    def _on_tamper(self, opened: bool) -> None:
        self.raise_event(EventKind.TAMPER, {"source": "enclosure", "state": "open" if opened else "closed"})

    def _on_message(self, channel: Channel, suffix: str | None, payload: bytes) -> None:
        self._inbox.put(_Incoming(channel, suffix, payload))

    def _on_connection(self, up: bool) -> None:
        self._inbox.put(_Connection(up))

    # -- worker thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                item = self._inbox.get(timeout=0.5)
            except queue.Empty:
                item = None
            try:
                if isinstance(item, _Stop):
                    return
                if isinstance(item, _NewEvent):
                    self._store(item)
                elif isinstance(item, _Incoming):
                    self._handle_incoming(item)
                elif isinstance(item, _Connection):
                    self._handle_connection(item.up)
                self._send_due()
                if self.on_tick:
                    self.on_tick()
            except Exception:  # the agent must keep running whatever one message does
                log.exception("edge agent: error while handling %r", item)

    def _store(self, item: _NewEvent) -> None:
        event = self.outbox.add(item.kind, item.data, test=item.test, attachment=item.attachment)
        log.info("event %s seq=%s kind=%s stored in outbox", event.id, event.seq, event.kind)
        self._refresh_led()

    def _handle_connection(self, up: bool) -> None:
        self.connected = up
        self._sent_at.clear()  # after a reconnect, replay everything not acked, in order
        self._refresh_led()

    def _handle_incoming(self, item: _Incoming) -> None:
        try:
            if item.channel is Channel.ACK:
                ack = decode_ack(item.payload)
                removed = self.outbox.remove(ack.ids)
                for event_id in ack.ids:
                    self._sent_at.pop(event_id, None)
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
                command = decode_command(item.payload)
                if command.name == "test_siren":
                    self.hardware.chirp(3)
                log.info("command %s received", command.name)
        except ProtocolError as exc:
            self.stats["bad_messages"] += 1
            log.warning("ignoring bad %s message from hub: %s", item.channel, exc)

    def _send_due(self) -> None:
        """Publish outbox events that are not in flight, oldest first; resend after ack_timeout."""
        link = self.link
        if link is None or not self.connected:
            return
        now = self.clock()
        timeout = self.config.ack_timeout
        for pending in self.outbox.pending(limit=MAX_IN_FLIGHT):
            sent = self._sent_at.get(pending.event.id)
            if sent is not None and now - sent < timeout:
                continue
            if not link.publish(Channel.EVENT, pending.payload):
                return
            if pending.attachment is not None:
                link.publish(Channel.SNAPSHOT, pending.attachment, suffix=pending.event.id)
            self.stats["resent" if sent is not None else "published"] += 1
            self._sent_at[pending.event.id] = now

    def _refresh_led(self) -> None:
        view = PostView(
            connected=self.connected,
            alert_state=self.alert_state,
            panic_unconfirmed=self.outbox.is_open and self.outbox.has_pending(EventKind.PANIC),
        )
        self.hardware.show(led_pattern(view))
