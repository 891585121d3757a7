"""Client-id takeover: an authenticated device must not be able to kick another device off the
broker by connecting with its client id (real Mosquitto, `use_username_as_clientid true`).
Revocation and rotation still drop the device's live connection at once."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.provisioning.broker_files import new_secret
from hub.provisioning.provisioner import Provisioner
from hub.settings import HubSettings
from poskamling.broker import MosquittoBroker
from tests.support import HUB_USER, add_device, add_monitor, wait_for

pytestmark = pytest.mark.e2e


class Client:
    """A raw MQTT v5 client that records connects, disconnects and what it receives."""

    def __init__(self, broker: MosquittoBroker, user: str, password: str, client_id: str) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, password)
        self.connects: list[bool] = []
        self.disconnects = 0
        self.received: list[bytes] = []
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self.connects.append(not rc.is_failure)
        self.client.on_disconnect = lambda *_: setattr(self, "disconnects", self.disconnects + 1)
        self.client.on_message = lambda _c, _u, m: self.received.append(bytes(m.payload))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def wait_connected(self) -> bool:
        wait_for(lambda: self.connects, what="CONNACK")
        return self.connects[0]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _takeover(broker: MosquittoBroker) -> tuple[int, bool]:
    """B connected and publishing; A connects with B's client ids. Returns (B's disconnects, B's
    message after the attempt arrived)."""
    b = Client(broker, "pos-b", add_device(broker, "pos-b"), "edge-pos-b")
    monitor = Client(broker, *add_monitor(broker), "monitor")
    assert b.wait_connected() and monitor.wait_connected()
    monitor.client.subscribe("kamling/v1/pos-b/event", qos=1)

    def delivered() -> bool:  # republish until the monitor's subscription is in place
        if b"before" not in monitor.received:
            b.client.publish("kamling/v1/pos-b/event", b"before", qos=1)
        return b"before" in monitor.received

    wait_for(delivered, interval=0.1, what="B's first event (subscription in place)")
    password_a = add_device(broker, "pos-a")
    attackers = [Client(broker, "pos-a", password_a, cid) for cid in ("edge-pos-b", "pos-b")]
    for attacker in attackers:
        assert attacker.wait_connected()  # A may connect (with its own identity) ...
    # ... and B is still there: its next message flows without a reconnect.
    b.client.publish("kamling/v1/pos-b/event", b"after", qos=1)
    flowed = bool(wait_for(lambda: b"after" in monitor.received or b.disconnects, what="B's event after the attempt"))
    result = (b.disconnects, b"after" in monitor.received and flowed)
    for client in (*attackers, b, monitor):
        client.close()
    return result


def test_a_device_cannot_kick_another_device_by_its_client_id(broker) -> None:
    disconnects, flowed = _takeover(broker)
    assert disconnects == 0, "device A kicked device B off the broker"
    assert flowed


def test_without_username_as_clientid_the_takeover_works(tmp_path: Path) -> None:
    """Control: the test above would catch the attack (Mosquitto's default lets A kick B)."""
    broker = MosquittoBroker(tmp_path / "broker", accounts={HUB_USER: new_secret()}, username_as_clientid=False)
    broker.start()
    try:
        disconnects, _ = _takeover(broker)
    finally:
        broker.stop()
    assert disconnects >= 1


def _provisioner(broker: MosquittoBroker, tmp_path: Path) -> Provisioner:
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(str(broker.pid))
    settings = HubSettings(
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_password=broker.accounts[HUB_USER],
        data_dir=tmp_path / "hub",
        provisioning={
            "broker_dir": str(broker.workdir),
            "pid_file": str(pid_file),
            "edge_mqtt_host": broker.host,
            "edge_mqtt_port": broker.port,
            "edge_tls_ca": None,
        },
    )
    return Provisioner(settings, actor="test")


def test_revoke_and_rotate_drop_the_live_connection(broker, tmp_path) -> None:
    provisioner = _provisioner(broker, tmp_path)
    hub = Client(broker, HUB_USER, broker.accounts[HUB_USER], "poskamling-hub")  # must survive both
    assert hub.wait_connected()

    old = provisioner.add("pos-rot", "Pos Rotasi").password
    device = Client(broker, "pos-rot", old, "edge-pos-rot")
    assert device.wait_connected()
    device.client.reconnect_delay_set(1, 1)
    new = provisioner.rotate("pos-rot").password
    wait_for(lambda: device.disconnects >= 1, what="old credential's connection dropped on rotate")
    stale = Client(broker, "pos-rot", old, "stale")
    assert stale.wait_connected() is False
    stale.close()
    device.close()

    fresh = Client(broker, "pos-rot", new, "edge-pos-rot")
    assert fresh.wait_connected()
    provisioner.revoke("pos-rot")
    wait_for(lambda: fresh.disconnects >= 1, what="revoked device dropped at once")
    again = Client(broker, "pos-rot", new, "again")
    assert again.wait_connected() is False
    again.close()
    fresh.close()
    assert hub.disconnects == 0, "revocation must not touch the hub's session"
    hub.close()
