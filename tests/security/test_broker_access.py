"""The broker confines everyone (real Mosquitto), and provisioning/revocation work end to end."""

from __future__ import annotations

import stat

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import load_edge_config
from hub.provisioning.provisioner import Provisioner
from poskamling.sim import SimulatedPost
from tests.support import add_device, add_monitor, post_entry, wait_for

pytestmark = pytest.mark.e2e


class Probe:
    """A raw MQTT v5 client that records its connect result and what it receives."""

    def __init__(self, broker, user: str | None, password: str | None, client_id: str) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if user is not None:
            self.client.username_pw_set(user, password)
        self.result: list[bool] = []
        self.received: list[tuple[str, bytes]] = []
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self.result.append(not rc.is_failure)
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, bytes(m.payload)))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def connected(self) -> bool:
        wait_for(lambda: self.result, what="CONNACK")
        return self.result[0]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_anonymous_and_wrong_password_are_refused(broker) -> None:
    add_device(broker, "pos-a")
    for user, password in ((None, None), ("pos-a", "wrong-password"), ("nobody", "x"), ("poskamling-hub", "")):
        probe = Probe(broker, user, password, f"probe-{user}")
        assert probe.connected() is False, f"broker accepted {user!r}"
        probe.close()


def test_a_device_can_neither_publish_to_nor_read_another_devices_topics(broker) -> None:
    a = Probe(broker, "pos-a", add_device(broker, "pos-a"), "edge-pos-a")
    b = Probe(broker, "pos-b", add_device(broker, "pos-b"), "edge-pos-b")
    monitor = Probe(broker, *add_monitor(broker), "monitor")
    for probe in (a, b, monitor):
        assert probe.connected()
    subacks: list[object] = []
    for probe in (monitor, a):
        probe.client.on_subscribe = lambda *args: subacks.append(args)
    monitor.client.subscribe("kamling/v1/#", qos=1)
    a.client.subscribe("kamling/v1/pos-b/#", qos=1)  # Mosquitto grants it but must deliver nothing
    a.client.subscribe("kamling/v1/+/ack", qos=1)
    a.client.subscribe("kamling/v1/+/reply", qos=1)  # command replies are for the hub only
    wait_for(lambda: len(subacks) == 4, what="SUBACKs before publishing")
    a.client.publish("kamling/v1/pos-b/event", b"spoofed", qos=1)  # into B's event topic
    a.client.publish("kamling/v1/pos-b/ack", b"spoofed", qos=1)  # pretending to be the hub
    a.client.publish("kamling/v1/pos-a/ack", b"spoofed", qos=1)  # acking itself
    a.client.publish("kamling/v1/pos-b/reply", b"spoofed", qos=1)  # answering B's command (issue 15)
    a.client.publish("kamling/v1/pos-b/cmd", b"spoofed", qos=1)  # commanding B
    b.client.publish("kamling/v1/pos-b/event", b"real", qos=1)
    b.client.publish("kamling/v1/pos-b/health", b"{}", qos=1)
    b.client.publish("kamling/v1/pos-b/reply", b"real reply", qos=1)  # its own reply: allowed
    a.client.publish("kamling/v1/pos-a/event", b"marker", qos=1)  # A's own, allowed: published last
    wait_for(lambda: ("kamling/v1/pos-a/event", b"marker") in monitor.received, what="A's own event")
    wait_for(lambda: len(monitor.received) >= 4, what="B's messages at the monitor")
    assert ("kamling/v1/pos-b/reply", b"real reply") in monitor.received
    assert b"spoofed" not in [payload for _, payload in monitor.received]
    assert a.received == [], f"A read B's topics: {a.received}"
    for probe in (a, b, monitor):
        probe.close()


def test_provision_press_revoke(make_hub, broker, sink, tmp_path) -> None:
    """`device add` -> the post works end to end; `device revoke` -> disconnected, refused, decommissioned."""
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(str(broker.pid))
    hub = make_hub(
        [post_entry("pos-other")],
        provisioning={
            "broker_dir": str(broker.workdir),
            "pid_file": str(pid_file),
            "edge_mqtt_host": broker.host,
            "edge_mqtt_port": broker.port,
            "edge_tls_ca": None,
        },
    )
    assert hub.service is not None
    provisioner = Provisioner(hub.service.settings, actor="test-technician")
    issued = provisioner.add("pos-baru", "Pos Kamling Baru", "Sukamaju", -7.8, 110.4, ["gerbang"])
    assert stat.S_IMODE(issued.edge_config.stat().st_mode) == 0o600
    assert stat.S_IMODE((broker.workdir / "passwd").stat().st_mode) == 0o600
    assert issued.password not in (broker.workdir / "passwd").read_text()  # only the hash is stored

    reload = hub.client("technician").post("/api/admin/devices/reload")  # else: picked up within 2 s
    assert reload.status_code == 200 and reload.json()["added"] == ["pos-baru"], reload.text
    config = load_edge_config(issued.edge_config).model_copy(update={"data_dir": tmp_path / "post"})
    post = SimulatedPost(config)
    post.start()
    try:
        api = hub.client("operator")
        wait_for(
            lambda: any(p["device_id"] == "pos-baru" and p["online"] for p in api.get("/api/posts").json()),
            what="provisioned post online at the hub (no hub restart)",
        )
        post.press()
        assert sink.wait_for(lambda r: "PANIK" in r.body.get("title", "") and "Baru" in r.body["title"], timeout=15)

        provisioner.revoke("pos-baru")
        wait_for(lambda: not post.agent.connected, what="revoked device disconnected at once")
        old = Probe(broker, "pos-baru", issued.password, "probe-old-credential")
        assert old.connected() is False
        old.close()
        wait_for(lambda: all(p["device_id"] != "pos-baru" for p in api.get("/api/posts").json()), what="post removed")
        devices = hub.client("technician").get("/api/admin/devices").json()
        assert [d["status"] for d in devices if d["device_id"] == "pos-baru"] == ["decommissioned"]
        assert not issued.edge_config.exists()
        actions = [
            e["action"] for e in hub.client("admin").get("/api/admin/audit", params={"action": "device."}).json()
        ]
        assert actions == ["device.revoke", "device.add"]
        refused_so_far = broker.log_path.read_text().count("not authorised")
        wait_for(  # the edge keeps retrying (back-off from 1 s): its next attempt must be refused too
            lambda: broker.log_path.read_text().count("not authorised") > refused_so_far,
            timeout=15,
            what="the revoked edge's own reconnect attempt refused by the broker",
        )
        assert not post.agent.connected
    finally:
        post.stop()
