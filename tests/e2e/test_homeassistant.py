"""Home Assistant MQTT discovery: off by default; when on, the hub announces each post's entities."""

from __future__ import annotations

import json
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.provisioning.broker_files import render_acl
from hub.provisioning.provisioner import Provisioner
from tests.support import add_monitor, post_entry, wait_for

pytestmark = pytest.mark.e2e


def test_acl_grants_discovery_rights_only_when_enabled() -> None:
    default = render_acl(["poskamling-hub"], ["monitor"])
    assert "homeassistant" not in default
    enabled = render_acl(["poskamling-hub"], ["monitor"], home_assistant_prefix="homeassistant")
    hub_block = enabled.split("user poskamling-hub\n", 1)[1].split("\n\n", 1)[0]
    monitor_block = enabled.split("user monitor\n", 1)[1].split("\n\n", 1)[0]
    assert "topic write homeassistant/#" in hub_block.splitlines()
    assert "topic read homeassistant/#" in monitor_block.splitlines()
    assert "write" not in monitor_block and "pattern write homeassistant" not in enabled  # devices get nothing new
    with pytest.raises(ValueError):
        render_acl(["poskamling-hub"], home_assistant_prefix="home/#")


class Watcher:
    """What Home Assistant would see: a read-only broker user subscribed to the discovery prefix."""

    def __init__(self, broker, *topic_filters: str) -> None:
        self.messages: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"home-assistant-{id(self)}", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(*add_monitor(broker))
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: [c.subscribe(f, qos=1) for f in topic_filters]  # in order, one each
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, _c, _u, message) -> None:
        with self._lock:
            self.messages[message.topic] = bytes(message.payload)

    def snapshot(self) -> dict[str, bytes]:
        with self._lock:
            return dict(self.messages)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_hub_announces_each_post_when_enabled(make_hub, make_post, broker) -> None:
    broker.home_assistant_prefix = "homeassistant"
    broker.reload()
    hub = make_hub(
        [post_entry("pos-ha01", "Pos Kamling RW 01"), post_entry("pos-ha02", "Pos Kamling RW 02")],
        home_assistant_discovery=True,
    )
    watcher = Watcher(broker, "homeassistant/#")
    try:
        configs = wait_for(
            lambda: (
                {t: json.loads(p) for t, p in watcher.snapshot().items() if p} if len(watcher.snapshot()) >= 4 else None
            ),
            what="retained discovery configs of both posts",
        )
        panic = configs["homeassistant/binary_sensor/pos-ha01/panic/config"]
        assert panic["device"]["name"] == "Pos Kamling RW 01" and panic["device_class"] == "safety"
        assert panic["state_topic"] == "kamling/v1/pos-ha01/event"
        online = configs["homeassistant/binary_sensor/pos-ha02/connectivity/config"]
        assert online["state_topic"] == "kamling/v1/pos-ha02/status" and online["payload_on"] == "online"
        assert hub.service is not None and len(hub.service.home_assistant.announced) == 4

        # HA reads the post's own state topics with the same read-only user.
        state = Watcher(broker, "kamling/v1/pos-ha01/status")
        try:
            make_post("pos-ha01")
            wait_for(
                lambda: json.loads(state.snapshot().get("kamling/v1/pos-ha01/status", b"{}")).get("state") == "online",
                what="online state visible to Home Assistant",
            )
        finally:
            state.stop()
    finally:
        watcher.stop()


def config_topics(device_id: str) -> list[str]:
    return [f"homeassistant/binary_sensor/{device_id}/{o}/config" for o in ("panic", "connectivity")]


def test_devices_added_and_revoked_while_the_hub_runs_are_announced_and_removed(make_hub, broker, tmp_path) -> None:
    """`device add` -> its entities appear in HA without a hub restart; `device revoke` -> they are deleted."""
    broker.home_assistant_prefix = "homeassistant"
    broker.reload()
    watcher = Watcher(broker, "homeassistant/#")  # before provisioning: add_monitor rewrites the broker's passwd
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(str(broker.pid))
    hub = make_hub(
        [post_entry("pos-ha10", "Pos Kamling RW 10")],
        home_assistant_discovery=True,
        provisioning={
            "broker_dir": str(broker.workdir),
            "pid_file": str(pid_file),
            "monitor_users": ["monitor"],
            "edge_mqtt_host": broker.host,
            "edge_mqtt_port": broker.port,
            "edge_tls_ca": None,
        },
    )
    assert hub.service is not None
    provisioner = Provisioner(hub.service.settings, actor="test-technician")
    new, kept = config_topics("pos-ha11"), config_topics("pos-ha10")
    try:
        wait_for(lambda: all(watcher.snapshot().get(t) for t in kept), what="the configured post announced at start")

        provisioner.add("pos-ha11", "Pos Kamling RW 11", "Sukamaju")  # no reload call: DeviceSync notices the file
        configs = wait_for(
            lambda: (
                {t: json.loads(p) for t, p in watcher.snapshot().items() if t in new and p}
                if all(watcher.snapshot().get(t) for t in new)
                else None
            ),
            what="discovery configs of the device added while the hub runs",
        )
        panic = configs["homeassistant/binary_sensor/pos-ha11/panic/config"]
        assert panic["device"]["name"] == "Pos Kamling RW 11" and panic["state_topic"] == "kamling/v1/pos-ha11/event"

        provisioner.revoke("pos-ha11")
        wait_for(
            lambda: all(watcher.snapshot().get(t) == b"" for t in new), what="the revoked device's configs cleared"
        )
        assert all(watcher.snapshot().get(t) for t in kept), "the other post's entities must stay"
    finally:
        watcher.stop()

    # What a Home Assistant that connects now sees: the broker kept no retained config of the revoked
    # device. Its filter is subscribed first, so its retained messages would arrive before the kept ones.
    late = Watcher(broker, "homeassistant/binary_sensor/pos-ha11/#", "homeassistant/binary_sensor/pos-ha10/#")
    try:
        wait_for(lambda: all(late.snapshot().get(t) for t in kept), what="retained configs of the kept post")
        assert not any("/pos-ha11/" in t for t in late.snapshot()), late.snapshot()
    finally:
        late.stop()


def test_nothing_is_announced_by_default(make_hub) -> None:
    hub = make_hub([post_entry("pos-ha03")])
    assert hub.service is not None
    assert hub.service.settings.home_assistant_discovery is False
    assert hub.service.home_assistant.announced == {}
