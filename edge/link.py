"""MQTT adapter of the edge agent: status with Last Will, subscriptions, QoS 1 publishing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from edge.config import EdgeConfig
from kamling.mqtt import make_client, reason_ok
from kamling.protocol import EDGE_SUBSCRIBES, OFFLINE_WILL, Channel, Status, parse_topic, topic, utc_now

log = logging.getLogger(__name__)

MessageHandler = Callable[..., None]
"""on_message(channel, suffix, payload[, expiry]): `expiry` only for a `cmd` that carries a message expiry interval."""
ConnectionHandler = Callable[[bool], None]


class EdgeLink:
    """The device's MQTT session. Callbacks run on paho's thread: hand work to a queue."""

    def __init__(
        self,
        config: EdgeConfig,
        on_message: MessageHandler,
        on_connection: ConnectionHandler,
        version: str | None = None,
    ) -> None:
        self.config = config
        self.on_message = on_message
        self.on_connection = on_connection
        self.version = version
        self.client: mqtt.Client | None = None
        self.connected = False

    def start(self) -> None:
        cfg = self.config
        endpoint = cfg.broker_endpoint
        client = make_client(
            endpoint,
            f"edge-{cfg.device_id}",
            reconnect_min=cfg.mqtt.reconnect_min,
            reconnect_max=cfg.mqtt.reconnect_max,
        )
        client.will_set(topic(cfg.device_id, Channel.STATUS), OFFLINE_WILL, qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.max_inflight_messages_set(100)
        self.client = client
        client.connect_async(cfg.mqtt.host, cfg.mqtt.port, keepalive=cfg.mqtt.keepalive)
        client.loop_start()

    def stop(self) -> None:
        client = self.client
        if client is None:
            return
        if self.connected:
            info = client.publish(topic(self.config.device_id, Channel.STATUS), OFFLINE_WILL, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        client.disconnect()
        client.loop_stop()
        self.client = None
        self.connected = False

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        if not reason_ok(reason_code):
            log.error("broker refused connection: %s", reason_code)
            return
        device = self.config.device_id
        # Subscribe before saying `online`: the broker handles our packets in order, so a command the hub
        # sends again on seeing `online` (hub/posts/commands.py) finds the subscription in place.
        client.subscribe([(topic(device, channel), 1) for channel in EDGE_SUBSCRIBES])
        online = Status(state="online", ts=utc_now(), version=self.version)
        client.publish(topic(device, Channel.STATUS), online.model_dump_json(exclude_none=True), qos=1, retain=True)
        self.connected = True
        log.info("connected to broker %s:%s as %s", self.config.mqtt.host, self.config.mqtt.port, device)
        self.on_connection(True)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        if self.connected:
            log.warning("disconnected from broker: %s", reason_code)
        self.connected = False
        self.on_connection(False)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
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

    def publish(self, channel: Channel, payload: bytes, suffix: str | None = None, qos: int = 1) -> bool:
        """Queue a publish; False when not connected (the outbox will replay it)."""
        client = self.client
        if client is None or not self.connected:
            return False
        info = client.publish(topic(self.config.device_id, channel, suffix), payload, qos=qos)
        return info.rc == mqtt.MQTT_ERR_SUCCESS
