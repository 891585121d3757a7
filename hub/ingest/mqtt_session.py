"""The hub's MQTT session: persistent, subscribed to every device; messages go to a queue.

Inbound QoS 1 messages are acknowledged to the broker (PUBACK) only when ingest settles
them: an event after its durable commit or its dead letter, anything else once handled. A hub
killed between receipt and commit therefore gets the message again from its persistent session,
in order. Every message is settled: an unsettled one holds a slot of the broker's in-flight
window to the hub, and a full window stops every post's messages (issue 18).

A second, small session (`AlarmSession`, broker user `<hub user>-alarm`) reads only the `alarm`
channel, where every post sends a copy of each panic and tamper event. The main connection carries
every post's traffic, so a post that floods it fills the broker's queue for the hub (Mosquitto then
drops other posts' messages, panics included) and seconds of socket buffers; the alarm session's
connection stays empty, and ingest keeps whichever copy arrives first (issue 17).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt

from hub.settings import HubSettings
from kamling.mqtt import BrokerEndpoint, make_client, message_expiry, reason_ok, session_properties
from kamling.protocol import (
    EDGE_PUBLISHES,
    HUB_STATUS_SUBSCRIPTION,
    OFFLINE_WILL,
    Channel,
    ProtocolError,
    Status,
    alarm_user,
    decode_status,
    hub_status_topic,
    parse_hub_status_topic,
    subscription,
    utc_now,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inbound:
    """One received MQTT message, as handed from paho's thread to the ingest worker."""

    topic: str
    payload: bytes
    received: float  # time.monotonic() at receipt
    retained: bool = False
    settle: Callable[[], None] | None = field(default=None, compare=False, repr=False)
    """Acknowledge the message to the broker; call once it is durably handled (or rejected)."""
    admitted: bool = False  # passed the rate limit already (HubMqtt.admit): ingest does not count it twice
    broker: str = ""  # the broker it came through ("host:port"; issue 13: a post's status is merged across brokers)

    def done(self) -> None:
        if self.settle is not None:
            self.settle()


@dataclass(frozen=True)
class HubPresence:
    """A hub's retained presence as this hub last saw it (itself included)."""

    state: str  # "online" or "offline"
    since: datetime  # when this hub saw the state change
    version: str | None = None


class _Session:
    """What the hub's two kinds of session share: a persistent MQTT v5 session that PUBACKs a message
    only when ingest settles it, and hands messages to the ingest queue without blocking paho's loop."""

    def __init__(
        self, settings: HubSettings, inbox: queue.Queue[Inbound], endpoint: tuple[str, int] | None = None
    ) -> None:
        self.settings = settings
        self.inbox = inbox
        self.host, self.port = endpoint or (settings.mqtt_host, settings.mqtt_port)
        self.broker = f"{self.host}:{self.port}"  # the label of this broker on every message it brings
        self.client: mqtt.Client | None = None
        self.connected = False
        self.connects = 0
        # Cheap per-device rate-limit check run on paho's thread before queueing (Ingest.admit, set by
        # HubService): a flood is dropped here, so it costs no queue slot, no validation, no ingest time.
        self.admit: Callable[[str, bytes], bool] | None = None
        # Run on paho's thread for an admitted message before it is queued (the alarm session's only:
        # Ingest.early_alarm, set by HubService through HubMqtt.early_alarm): a panic pages from here.
        self.early: Callable[[str, bytes], None] | None = None

    def _open(self, username: str, client_id: str, inflight: int, reconnect_max: float) -> mqtt.Client:
        """A persistent session with manual PUBACKs, this object's callbacks, not yet connected."""
        s = self.settings
        endpoint = BrokerEndpoint(self.host, self.port, username, s.mqtt_password.get_secret_value(), s.mqtt_tls_ca)
        client = make_client(endpoint, client_id, reconnect_min=0.5, reconnect_max=reconnect_max)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.manual_ack_set(True)  # PUBACK only after the event is committed (see settle)
        client.max_inflight_messages_set(inflight)
        client.max_queued_messages_set(0)  # acks to posts: never drop (0 = unbounded)
        return client

    def _connect(self, client: mqtt.Client) -> None:
        self.client = client
        client.connect_async(
            self.host,
            self.port,
            keepalive=10,
            clean_start=False,
            properties=session_properties(self.settings.mqtt_session_expiry),
        )
        client.loop_start()

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason_code: Any, _p: Any) -> None:
        raise NotImplementedError

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        raise NotImplementedError

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        raise NotImplementedError

    def _hand_over(self, message: mqtt.MQTTMessage, retained: bool | None = None) -> bool:
        """Rate-limit, then queue for ingest with its settle callable; False when dropped (PUBACKed now).
        `retained`: what ingest is told (default: the message's own flag)."""
        admit = self.admit
        topic, payload = message.topic, bytes(message.payload)  # paho decodes the topic on every read
        if admit is not None and not admit(topic, payload):
            if message.qos > 0:  # dropped: settle now (an edge resends events its hub never acked)
                self._ack(message.mid, message.qos, self.connects)
            return False
        early = self.early
        if early is not None:
            early(topic, payload)  # never raises (Ingest.early_alarm); the message is queued all the same
        settle = None
        if message.qos > 0:
            mid, qos, generation = message.mid, message.qos, self.connects

            def settle() -> None:
                self._ack(mid, qos, generation)

        self.inbox.put(
            Inbound(
                topic,
                payload,
                time.monotonic(),
                bool(message.retain) if retained is None else retained,
                settle,
                admit is not None,
                self.broker,
            )
        )
        return True

    def _ack(self, mid: int, qos: int, generation: int) -> None:
        """PUBACK a message of the current connection; after a reconnect the broker resends it."""
        client = self.client
        if client is None or generation != self.connects or not self.connected:
            return
        client.ack(mid, qos)


class HubMqtt(_Session):
    """Never blocks paho's network loop: on_message only enqueues.

    The hub announces itself with a retained `online` on kamling/v1/_hub/<hub_id>/status and leaves
    `offline` there as its Last Will, so posts (edge/link.py) and peer hubs see when it is gone
    (issue 13). Peer presence is kept here, in `hubs`; it never reaches the ingest queue.
    """

    def __init__(
        self,
        settings: HubSettings,
        inbox: queue.Queue[Inbound],
        version: str | None = None,
        endpoint: tuple[str, int] | None = None,
    ) -> None:
        self.alarm = AlarmSession(settings, inbox, endpoint)  # the alarm channel, on a connection of its own
        super().__init__(settings, inbox, endpoint)  # sets admit: on both sessions (the property below)
        self.version = version
        self.on_lost: Callable[[str], None] | None = None  # the session to this broker dropped (BrokerSet)
        self.hubs: dict[str, HubPresence] = {}  # hub id -> presence, from the retained status topics
        self.failed = 0  # messages that could not even be queued (PUBACKed, logged)

    @property
    def admit(self) -> Callable[[str, bytes], bool] | None:
        return self._admit

    @admit.setter
    def admit(self, check: Callable[[str, bytes], bool] | None) -> None:
        self._admit = self.alarm.admit = check

    @property
    def early_alarm(self) -> Callable[[str, bytes], None] | None:
        """The alarm path run on the alarm session's own thread (Ingest.early_alarm), before queueing."""
        return self.alarm.early

    @early_alarm.setter
    def early_alarm(self, handler: Callable[[str, bytes], None] | None) -> None:
        self.alarm.early = handler

    def start(self) -> None:
        s = self.settings
        client = self._open(s.mqtt_username, s.mqtt_client_id, inflight=1000, reconnect_max=10)
        client.will_set(hub_status_topic(s.hub_id), OFFLINE_WILL, qos=1, retain=True)
        self._connect(client)
        self.alarm.start()

    def stop(self) -> None:
        self.alarm.stop()
        if self.client is not None:
            if self.connected:  # a clean stop says so at once; the Last Will covers a crash
                info = self.client.publish(hub_status_topic(self.settings.hub_id), OFFLINE_WILL, qos=1, retain=True)
                try:
                    info.wait_for_publish(timeout=2)
                except (RuntimeError, ValueError):
                    pass
            self.connected = False  # a stop is not a lost broker: on_lost stays quiet
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None
        self.connected = False

    def publish(
        self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False, expiry: int | None = None
    ) -> None:
        """`expiry`: MQTT v5 message expiry interval in seconds (commands to posts), else none."""
        if self.client is not None:
            props = message_expiry(expiry) if expiry is not None else None
            self.client.publish(topic, payload, qos=qos, retain=retain, properties=props)

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason_code: Any, _p: Any) -> None:
        if not reason_ok(reason_code):
            log.error("hub: broker refused connection: %s", reason_code)
            return
        self.connected = True
        self.connects += 1
        online = Status(state="online", ts=utc_now(), version=self.version)
        client.publish(
            hub_status_topic(self.settings.hub_id), online.model_dump_json(exclude_none=True), qos=1, retain=True
        )
        client.subscribe(
            [(subscription(channel), 1) for channel in EDGE_PUBLISHES if channel is not Channel.ALARM]
            + [(HUB_STATUS_SUBSCRIPTION, 1)]
        )
        log.info(
            "hub connected to broker %s (session present: %s)", self.broker, getattr(flags, "session_present", "?")
        )

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        was_connected, self.connected = self.connected, False
        log.warning("hub disconnected from broker %s: %s", self.broker, reason_code)
        if was_connected and self.on_lost is not None:
            self.on_lost(self.broker)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self._take(message)
        except Exception:  # an exception here would stop paho's loop, and with it every post's messages
            self.failed += 1
            log.exception("hub: could not take a message; PUBACKed and dropped")
            if message.qos > 0:
                self._ack(message.mid, message.qos, self.connects)

    def _take(self, message: mqtt.MQTTMessage) -> None:
        hub_id = parse_hub_status_topic(message.topic)
        if hub_id is not None:  # a hub's presence (ours or a peer's): kept here, never queued
            self._hub_status(hub_id, bytes(message.payload))
            if message.qos > 0:
                self._ack(message.mid, message.qos, self.connects)
            return
        self._hand_over(message)

    def _hub_status(self, hub_id: str, payload: bytes) -> None:
        if not payload:  # a cleared retained message: that hub was retired
            self.hubs.pop(hub_id, None)
            return
        try:
            status = decode_status(payload)
        except ProtocolError as exc:
            log.warning("hub: bad presence message from hub %s: %s", hub_id, exc)
            return
        previous = self.hubs.get(hub_id)
        if previous is None or previous.state != status.state:
            self.hubs[hub_id] = HubPresence(status.state, utc_now(), status.version)
            if hub_id != self.settings.hub_id:
                log.log(
                    logging.WARNING if status.state == "offline" else logging.INFO,
                    "hub: peer hub %s is %s",
                    hub_id,
                    status.state,
                )


class AlarmSession(_Session):
    """The hub's second MQTT session: the `alarm` channel only, onto the same inbox.

    Same rules as HubMqtt's: rate-limited on paho's thread (`admit`), PUBACKed only when ingest
    settles the message, persistent (a panic sent while the hub restarts waits at the broker). A
    broker without the `<hub user>-alarm` account refuses it: the hub then runs on the main session
    alone (each panic still arrives there as an `event`), and says so in its log.
    """

    def __init__(
        self, settings: HubSettings, inbox: queue.Queue[Inbound], endpoint: tuple[str, int] | None = None
    ) -> None:
        super().__init__(settings, inbox, endpoint)
        self.username = alarm_user(settings.mqtt_username)
        self.refused = 0
        self.taken = 0  # messages handed to ingest through this session

    def start(self) -> None:
        self._connect(self._open(self.username, self.username, inflight=100, reconnect_max=30))

    def stop(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None
        self.connected = False

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        if not reason_ok(reason_code):
            self.refused += 1
            if self.refused == 1:
                log.error(
                    "hub: the broker refused the alarm session (%s): add the broker user %s with the hub's password"
                    " (provisioning does); panics still arrive on the main session, but a flooding post can delay them",
                    reason_code,
                    self.username,
                )
            return
        self.connected = True
        self.connects += 1
        client.subscribe([(subscription(Channel.ALARM), 1)])
        log.info("hub alarm session connected to broker")

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        if self.connected:
            log.warning("hub alarm session disconnected from broker: %s", reason_code)
        self.connected = False

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            if self._hand_over(message, retained=False):  # the alarm channel is never a retained status
                self.taken += 1
        except Exception:  # never into paho's loop
            log.exception("hub: could not take an alarm message; PUBACKed and dropped")
            if message.qos > 0:
                self._ack(message.mid, message.qos, self.connects)
