"""paho-mqtt client construction shared by edge, hub, simulator and benchmarks."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


@dataclass(frozen=True)
class BrokerEndpoint:
    host: str
    port: int
    username: str
    password: str
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None


def make_client(
    endpoint: BrokerEndpoint,
    client_id: str,
    *,
    reconnect_min: float = 0.5,
    reconnect_max: float = 30.0,
) -> mqtt.Client:
    """An MQTT v5 client with credentials, optional TLS and reconnect back-off set."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls_ca:
        client.tls_set(
            ca_certs=str(endpoint.tls_ca),
            certfile=str(endpoint.tls_cert) if endpoint.tls_cert else None,
            keyfile=str(endpoint.tls_key) if endpoint.tls_key else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    client.reconnect_delay_set(min_delay=max(1, int(reconnect_min)), max_delay=max(1, int(reconnect_max)))
    client.on_socket_open = _no_delay
    return client


def _no_delay(_client: mqtt.Client, _userdata: object, sock: object) -> None:
    """Send small packets at once: paho leaves Nagle on, which held a panic ~40 ms behind a delayed ACK."""
    setsockopt = getattr(sock, "setsockopt", None)
    if setsockopt is not None:
        try:
            setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # not a TCP socket (e.g. a test double): nothing to tune


def session_properties(expiry_seconds: int) -> Properties:
    """CONNECT properties for a persistent session that outlives a disconnect."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry_seconds
    return props


def message_expiry(seconds: int) -> Properties:
    """PUBLISH properties: the broker drops the message once `seconds` have passed and tells the
    subscriber what is left (MQTT v5 message expiry interval; a command's clock-free deadline)."""
    props = Properties(PacketTypes.PUBLISH)
    props.MessageExpiryInterval = max(1, int(seconds))
    return props


def reason_ok(reason_code: object) -> bool:
    """True when a paho v2 reason code (or int rc) means success."""
    is_failure = getattr(reason_code, "is_failure", None)
    if is_failure is not None:
        return not is_failure
    return reason_code == 0
