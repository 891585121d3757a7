"""The private Mosquitto broker: rendered config, lifecycle, and persistent sessions across a SIGKILL."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.provisioning.broker_files import new_secret
from kamling.mqtt import session_properties
from kamling.protocol import alarm_user
from poskamling.broker import BrokerError, MosquittoBroker, find_mosquitto
from poskamling.net import wait_for_port
from tests.support import HUB_USER, wait_for

DEVICE = "pos-rw01"
TOPIC = f"kamling/v1/{DEVICE}/event"


def config_lines(text: str) -> dict[str, str]:
    """Setting -> value of a Mosquitto config (comments and blank lines dropped; the last wins)."""
    settings: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            settings[key] = value
    return settings


def test_write_files_renders_a_safe_complete_config(tmp_path: Path) -> None:
    instance = MosquittoBroker(tmp_path / "broker", accounts={HUB_USER: "hub-secret", DEVICE: "dev-secret"})
    instance.write_files()
    text = instance.config_path.read_text()
    settings = config_lines(text)
    assert settings["allow_anonymous"] == "false"
    assert settings["persistence"] == "true"
    assert settings["persistence_location"] == f"{tmp_path / 'broker' / 'data'}/"
    assert settings["autosave_on_changes"] == "true"
    assert settings["autosave_interval"] == str(AUTOSAVE_CHANGES)  # changes, not seconds
    assert settings["set_tcp_nodelay"] == "true"
    assert settings["password_file"] == str(tmp_path / "broker" / "passwd")
    assert settings["acl_file"] == str(tmp_path / "broker" / "acl")
    assert settings["listener"] == f"{instance.port} 127.0.0.1"
    assert instance.port > 0
    assert not re.search(r"\$\{?\w+\}?", text.replace("$SYS", "")), "unsubstituted placeholder in the config"
    assert (tmp_path / "broker" / "data").is_dir()
    passwd = (tmp_path / "broker" / "passwd").read_text()
    assert "hub-secret" not in passwd and "dev-secret" not in passwd  # only hashes
    # the hub's alarm session (issue 17) gets its own account with the hub's password
    assert {line.split(":")[0] for line in passwd.splitlines() if line} == {HUB_USER, alarm_user(HUB_USER), DEVICE}
    for name in ("mosquitto.conf", "passwd", "acl"):
        assert (tmp_path / "broker" / name).stat().st_mode & 0o077 == 0, f"{name} readable by others"


def test_start_and_stop(tmp_path: Path) -> None:
    instance = MosquittoBroker(tmp_path / "broker", accounts={HUB_USER: new_secret()})
    instance.start()
    try:
        assert instance.running and instance.pid is not None
        assert wait_for_port(instance.host, instance.port, 5)
        with pytest.raises(BrokerError, match="still running"):
            instance.restart()
    finally:
        instance.stop()
    assert not instance.running and instance.pid is None
    instance.stop()  # idempotent


def test_restart_needs_a_port(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="no port"):
        MosquittoBroker(tmp_path / "broker").restart()


class Client:
    """A paho MQTT v5 client that records what it receives."""

    def __init__(self, broker: MosquittoBroker, user: str, password: str) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.broker = broker
        self.connected = threading.Event()
        self.session_present: bool | None = None
        self.received: list[bytes] = []
        self.lock = threading.Lock()

    def _on_connect(self, _c: mqtt.Client, _u: object, flags: mqtt.ConnectFlags, reason: object, _p: object) -> None:
        self.session_present = flags.session_present
        self.connected.set()

    def _on_disconnect(self, *_args: object) -> None:
        self.connected.clear()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.received.append(bytes(message.payload))

    def connect(self, clean_start: bool = True, expiry: int | None = None) -> None:
        props = session_properties(expiry) if expiry else None
        self.client.connect(self.broker.host, self.broker.port, keepalive=30, clean_start=clean_start, properties=props)
        self.client.loop_start()
        wait_for(self.connected.is_set, what="connected")

    def disconnect(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def got(self) -> list[bytes]:
        with self.lock:
            return list(self.received)


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    instance = MosquittoBroker(tmp_path / "broker", accounts={HUB_USER: new_secret(), DEVICE: new_secret()})
    instance.start()
    yield instance
    instance.stop()


AUTOSAVE_CHANGES = 100
"""autosave_interval as rendered (firmware-config/mosquitto/README.md): at a SIGKILL the broker loses
at most the changes since its last save; the edge outbox covers those end to end."""


def queue_for_offline_hub(broker: MosquittoBroker, count: int) -> tuple[Client, list[bytes]]:
    """The hub subscribes with a persistent session and leaves; the device publishes `count` events."""
    hub = Client(broker, HUB_USER, broker.accounts[HUB_USER])
    hub.connect(clean_start=False, expiry=3600)
    result, _ = hub.client.subscribe("kamling/v1/+/event", qos=1)
    assert result == mqtt.MQTT_ERR_SUCCESS
    device = Client(broker, DEVICE, broker.accounts[DEVICE])
    device.connect()
    device.client.publish(TOPIC, b"probe", qos=1).wait_for_publish(5)
    wait_for(lambda: hub.got() == [b"probe"], what="subscription active")
    hub.disconnect()  # the hub goes away; its session (and what it misses) stays on the broker
    payloads = [f"event-{n}".encode() for n in range(count)]
    for payload in payloads:
        info = device.client.publish(TOPIC, payload, qos=1)
        info.wait_for_publish(5)
        assert info.is_published()  # PUBACK: the broker has it
    return device, payloads


def reconnect_hub_and_drain(broker: MosquittoBroker) -> tuple[Client, list[bytes]]:
    """The hub resumes its session; a marker published now arrives after everything queued before it."""
    hub = Client(broker, HUB_USER, broker.accounts[HUB_USER])
    hub.connect(clean_start=False, expiry=3600)
    device = Client(broker, DEVICE, broker.accounts[DEVICE])
    device.connect()
    try:
        device.client.publish(TOPIC, b"marker", qos=1).wait_for_publish(5)
        wait_for(lambda: b"marker" in hub.got(), what="marker after the queued messages")
    finally:
        device.disconnect()
    received = hub.got()
    assert received[-1] == b"marker"
    return hub, received[:-1]


@pytest.mark.e2e
def test_restart_after_clean_stop_keeps_every_queued_qos1_message(persistent_broker: MosquittoBroker) -> None:
    broker = persistent_broker
    device, payloads = queue_for_offline_hub(broker, 5)
    device.disconnect()
    old_port = broker.port
    broker.stop()  # SIGTERM: Mosquitto saves its database on the way out
    broker.restart()
    assert broker.port == old_port
    hub, received = reconnect_hub_and_drain(broker)
    try:
        assert hub.session_present, "the hub's session did not survive the restart"
        assert received == payloads
    finally:
        hub.disconnect()


@pytest.mark.e2e
def test_restart_after_sigkill_keeps_the_session_and_its_saved_queue(persistent_broker: MosquittoBroker) -> None:
    broker = persistent_broker
    device, payloads = queue_for_offline_hub(broker, 2 * AUTOSAVE_CHANGES + 50)
    device.disconnect()
    old_port = broker.port
    broker.kill()  # power cut of the broker host
    assert not broker.running
    broker.restart()
    assert broker.port == old_port
    hub, received = reconnect_hub_and_drain(broker)
    try:
        assert hub.session_present, "the hub's session did not survive the SIGKILL"
        assert received == payloads[: len(received)], "queued messages out of order or duplicated"
        assert len(received) >= len(payloads) - AUTOSAVE_CHANGES, f"only {len(received)} of {len(payloads)} kept"
    finally:
        hub.disconnect()


def test_find_mosquitto_names_the_fix_when_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: nothing to find
    real_exists = Path.exists
    fallbacks = {"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"}
    monkeypatch.setattr(Path, "exists", lambda self: False if str(self) in fallbacks else real_exists(self))
    with pytest.raises(BrokerError, match=r"mosquitto not found: install it with `sudo apt-get install mosquitto`"):
        find_mosquitto()
    with pytest.raises(BrokerError, match="mosquitto not found"):
        MosquittoBroker(tmp_path / "broker").start()


def test_find_mosquitto_prefers_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "mosquitto"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_mosquitto() == str(fake)
