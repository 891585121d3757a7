"""MQTT adapter of the edge agent: status with Last Will, subscriptions, QoS 1 publishing.

Two things beyond one broker session (issue 13):
- **Broker failover.** `mqtt.host` is the first choice and `mqtt.failover` lists the others. After
  `failover_after` failed attempts on one broker the next is tried (paho's reconnect back-off
  still applies); while on a failover broker, the first is probed every `primary_retry` seconds
  and the post moves back as soon as it answers, leaving `offline` behind on the broker it leaves.
- **Hub presence.** Each hub keeps a retained status on kamling/v1/_hub/<hub-id>/status. The link
  reports whether any hub is online (`on_hubs`): a post connected to a broker that no hub serves
  must show it (edge/core.py LED_NO_HUB) and keep its events, not look healthy.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from edge.config import EdgeConfig
from kamling.mqtt import make_client, reason_ok
from kamling.protocol import (
    EDGE_SUBSCRIBES,
    HUB_STATUS_SUBSCRIPTION,
    OFFLINE_WILL,
    Channel,
    ProtocolError,
    Status,
    decode_status,
    parse_hub_status_topic,
    parse_topic,
    topic,
    utc_now,
)

log = logging.getLogger(__name__)

MessageHandler = Callable[..., None]
"""on_message(channel, suffix, payload[, expiry]): `expiry` only for a `cmd` that carries a message expiry interval."""
ConnectionHandler = Callable[[bool], None]
HubsHandler = Callable[[bool], None]

HUB_GRACE = 3.0
"""Seconds after connecting within which a retained hub status must arrive; none means no hub has
ever served this broker (Mosquitto delivers retained messages right after the SUBACK)."""

MOVE_TIMEOUT = 15.0  # seconds the first broker may take to accept us when moving back to it
PROBE_TIMEOUT = 2.0  # TCP connect timeout when checking whether the first broker is back


class EdgeLink:
    """The device's MQTT session. Callbacks run on paho's thread: hand work to a queue."""

    def __init__(
        self,
        config: EdgeConfig,
        on_message: MessageHandler,
        on_connection: ConnectionHandler,
        version: str | None = None,
        on_hubs: HubsHandler | None = None,
    ) -> None:
        self.config = config
        self.on_message = on_message
        self.on_connection = on_connection
        self.on_hubs = on_hubs
        self.version = version
        self.client: mqtt.Client | None = None
        self.connected = False
        self.addresses = config.broker_addresses
        self.current = 0  # index into addresses of the broker in use
        self.failovers = 0  # moves to another broker (for tests and the log)
        self.hubs: dict[str, bool] = {}  # hub id -> online, from the retained presence topics
        self.hub_presence_supported = True  # False when the broker's ACL refuses the presence topic
        self._failures = 0  # failed connection attempts on the current broker
        self._generation = 0  # connections made; a stale grace timer checks it
        self._hub_sub_mid: int | None = None
        self._control = threading.Lock()  # start/stop/switch
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._connected_event = threading.Event()  # set on each successful connect
        self._wake = threading.Event()
        self._move_to: int | None = None  # a broker index the supervisor should move to
        self._grace: threading.Timer | None = None
        self.on_puback: Callable[[int], None] | None = None  # the agent: a tracked publish left (publish_tracked)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        with self._control:
            self._stopping.clear()
            self._connect(0)
        if len(self.addresses) > 1:
            self._supervisor = threading.Thread(target=self._supervise, name="edge-broker-failover", daemon=True)
            self._supervisor.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        with self._control:
            self._disconnect(say_offline=True)
        if self._supervisor is not None:
            self._supervisor.join(timeout=PROBE_TIMEOUT + 5)
            self._supervisor = None

    def _connect(self, index: int) -> None:
        """A fresh paho client for broker `index` (caller holds _control)."""
        cfg = self.config
        client = make_client(
            cfg.broker_endpoint,
            f"edge-{cfg.device_id}",
            reconnect_min=cfg.mqtt.reconnect_min,
            reconnect_max=cfg.mqtt.reconnect_max,
        )
        client.will_set(topic(cfg.device_id, Channel.STATUS), OFFLINE_WILL, qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.max_inflight_messages_set(100)
        self.client = client
        self.current = index
        self._failures = 0
        host, port = self.addresses[index]
        client.connect_async(host, port, keepalive=cfg.mqtt.keepalive)
        client.loop_start()

    def _disconnect(self, say_offline: bool) -> None:
        """Close the current session (caller holds _control); `offline` is left behind when asked."""
        client = self.client
        if client is None:
            return
        if self._grace is not None:
            self._grace.cancel()
        was_connected = self.connected
        if was_connected and say_offline:
            info = client.publish(topic(self.config.device_id, Channel.STATUS), OFFLINE_WILL, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        self.connected = False  # before disconnect(): its callback must not report the loss a second time
        client.disconnect()
        client.loop_stop()
        self.client = None
        if was_connected:
            self.on_connection(False)

    # -- failover ----------------------------------------------------------------------------
    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        self._failures += 1
        if len(self.addresses) < 2 or self._failures < self.config.mqtt.failover_after or self._move_to is not None:
            return
        self._move_to = (self.current + 1) % len(self.addresses)  # the supervisor thread moves the session
        self._wake.set()

    def _supervise(self) -> None:
        """Move to the next broker when the current one fails; while on a failover broker, go back to
        the first as soon as it accepts connections. Runs on its own thread: paho's own thread cannot
        stop and replace its client."""
        while not self._stopping.is_set():
            self._wake.wait(self.config.mqtt.primary_retry)
            self._wake.clear()
            if self._stopping.is_set():
                return
            target = self._move_to
            if target is None and self.current != 0 and self.connected and self._primary_answers():
                target = 0
            if target is None:
                continue
            with self._control:
                self._move_to = None
                if self._stopping.is_set() or target == self.current:
                    continue
                host, port = self.addresses[target]
                log.warning("moving from broker %s:%s to %s:%s", *self.addresses[self.current], host, port)
                self.failovers += 1
                if self.connected:  # the broker we are on still works: make before break
                    self._move_while_connected(target)
                else:
                    self._disconnect(say_offline=True)
                    self._connect(target)

    def _move_while_connected(self, target: int) -> None:
        """Connect to `target` first, then leave `offline` on the old broker and close it (caller holds
        _control): at no moment is the post offline on every broker, so no hub raises a false alarm."""
        old, old_index = self.client, self.current
        self._connected_event.clear()
        self._connect(target)  # self.client is the new session now; the old one's callbacks are ignored
        if not self._connected_event.wait(MOVE_TIMEOUT) or self._stopping.is_set():
            log.warning(
                "broker %s:%s did not take us; staying on %s:%s", *self.addresses[target], *self.addresses[old_index]
            )
            new, self.client, self.current = self.client, old, old_index
            if new is not None:
                new.disconnect()
                new.loop_stop()
            self.connected = old is not None and old.is_connected()
            return
        if old is not None:
            info = old.publish(topic(self.config.device_id, Channel.STATUS), OFFLINE_WILL, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
            old.disconnect()
            old.loop_stop()

    def _primary_answers(self) -> bool:
        host, port = self.addresses[0]
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
                return True
        except OSError:
            return False

    # -- paho callbacks ----------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        if client is not self.client:
            return
        if not reason_ok(reason_code):
            log.error("broker refused connection: %s", reason_code)
            return
        device = self.config.device_id
        # Subscribe before saying `online`: the broker handles our packets in order, so a command the hub
        # sends again on seeing `online` (hub/posts/commands.py) finds the subscription in place.
        client.subscribe([(topic(device, channel), 1) for channel in EDGE_SUBSCRIBES])
        online = Status(state="online", ts=utc_now(), version=self.version)
        client.publish(topic(device, Channel.STATUS), online.model_dump_json(exclude_none=True), qos=1, retain=True)
        self.hubs.clear()  # the retained presence of every hub arrives again with the subscription
        _rc, self._hub_sub_mid = client.subscribe(HUB_STATUS_SUBSCRIPTION, 1)
        self._failures = 0
        self._generation += 1
        self.connected = True
        self._connected_event.set()
        host, port = self.addresses[self.current]
        log.info("connected to broker %s:%s as %s", host, port, device)
        self.on_connection(True)
        generation = self._generation
        self._grace = threading.Timer(HUB_GRACE, self._grace_over, args=(generation,))
        self._grace.daemon = True
        self._grace.start()

    def _on_disconnect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        if client is not self.client:
            return  # a session we are leaving (make before break)
        if self._grace is not None:
            self._grace.cancel()
        if not self.connected:
            return
        log.warning("disconnected from broker: %s", reason_code)
        self.connected = False
        self.on_connection(False)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, mid: int, reason_codes: Any, _props: Any) -> None:
        if mid != self._hub_sub_mid:
            return
        codes = list(reason_codes) if isinstance(reason_codes, (list, tuple)) else [reason_codes]
        if codes and not all(reason_ok(code) for code in codes):
            # A broker whose ACL predates hub presence: say so, and do not show "no hub" for it.
            log.warning("broker refused the hub presence topic (regenerate its ACL: poskamling hub broker-files)")
            self.hub_presence_supported = False
            self._report_hubs(True)

    def _on_publish(self, client: mqtt.Client, _userdata: Any, mid: int, _reason: Any, _props: Any) -> None:
        callback = self.on_puback
        if client is self.client and callback is not None:
            callback(mid)

    def _grace_over(self, generation: int) -> None:
        if generation == self._generation and self.connected and self.hub_presence_supported and not self.hubs:
            log.warning("connected to the broker, but no hub has ever announced itself there")
            self._report_hubs(False)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        hub_id = parse_hub_status_topic(message.topic)
        if hub_id is not None:
            self._hub_status(hub_id, bytes(message.payload))
            return
        try:
            parts = parse_topic(message.topic)
        except ValueError as exc:
            log.warning("ignoring message on unexpected topic %r: %s", message.topic, exc)
            return
        expiry = getattr(message.properties, "MessageExpiryInterval", None) if parts.channel is Channel.CMD else None
        if isinstance(expiry, int):  # what is left of a command's MQTT v5 expiry: a deadline without the wall clock
            self.on_message(parts.channel, parts.suffix, bytes(message.payload), float(expiry))
        else:
            self.on_message(parts.channel, parts.suffix, bytes(message.payload))

    def _hub_status(self, hub_id: str, payload: bytes) -> None:
        if not payload:
            self.hubs.pop(hub_id, None)  # a retired hub's cleared status
        else:
            try:
                self.hubs[hub_id] = decode_status(payload).state == "online"
            except ProtocolError as exc:
                log.warning("ignoring bad presence of hub %s: %s", hub_id, exc)
                return
        self._report_hubs(any(self.hubs.values()))

    def _report_hubs(self, online: bool) -> None:
        if self.on_hubs is not None:
            self.on_hubs(online)

    def publish(self, channel: Channel, payload: bytes, suffix: str | None = None, qos: int = 1) -> bool:
        """Queue a publish; False when not connected (the outbox will replay it)."""
        client = self.client
        if client is None or not self.connected:
            return False
        info = client.publish(topic(self.config.device_id, channel, suffix), payload, qos=qos)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def publish_tracked(self, channel: Channel, payload: bytes, suffix: str | None = None) -> int | None:
        """Queue a QoS 1 publish and return its message id (None when not connected); `on_puback(mid)`
        follows when the broker has it. The agent counts the bytes between the two: what sits in
        paho's queue and the socket ahead of anything published later (issue 17 item 3)."""
        client = self.client
        if client is None or not self.connected:
            return None
        info = client.publish(topic(self.config.device_id, channel, suffix), payload, qos=1)
        return info.mid if info.rc == mqtt.MQTT_ERR_SUCCESS else None
