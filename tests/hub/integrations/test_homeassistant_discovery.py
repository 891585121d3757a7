"""Home Assistant discovery messages: topics, payload fields and what the templates render."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.integrations.homeassistant_discovery import (
    DiscoveryMessage,
    discovery_messages,
    object_id_for_camera,
    removal_topics,
)
from kamling.protocol import OFFLINE_WILL, Event, EventKind, Status, new_event_id

DEVICE = "pos-rw05-sukamaju"
POST = "Pos Kamling RW 05 Sukamaju"
# HA's discovery topic: <prefix>/<component>/[<node_id>/]<object_id>/config, ids [a-zA-Z0-9_-]+
DISCOVERY_TOPIC = re.compile(
    r"^homeassistant/(?P<component>[a-z_]+)/(?P<node>[a-zA-Z0-9_-]+)/(?P<object>[a-zA-Z0-9_-]+)/config$"
)


def by_object_id(messages: list[DiscoveryMessage]) -> dict[str, DiscoveryMessage]:
    result = {}
    for message in messages:
        match = DISCOVERY_TOPIC.match(message.topic)
        assert match, message.topic
        result[match["object"]] = message
    return result


@pytest.fixture
def messages() -> dict[str, DiscoveryMessage]:
    return by_object_id(discovery_messages(DEVICE, POST, ["gate", "lane"], version="0.1.0"))


def render(template: str, payload: bytes) -> str:
    """Render like HA's MQTT value_template: `value_json` is the decoded payload."""
    jinja2 = pytest.importorskip("jinja2")
    return jinja2.Environment().from_string(template).render(value_json=json.loads(payload)).strip()


def event(kind: EventKind, data: dict[str, Any] | None = None, test: bool = False) -> bytes:
    return Event(
        id=new_event_id(),
        device=DEVICE,
        seq=1,
        kind=kind,
        ts=datetime(2026, 11, 22, 22, 10, tzinfo=UTC),
        data=data or {},
        test=test,
    ).to_payload()


def test_one_message_per_entity(messages: dict[str, DiscoveryMessage]) -> None:
    assert set(messages) == {"panic", "motion_gate", "motion_lane", "connectivity"}
    for object_id, message in messages.items():
        assert message.topic == f"homeassistant/binary_sensor/{DEVICE}/{object_id}/config"
        assert message.retain is True


def test_tuple_shape() -> None:
    topic, payload, retain = discovery_messages(DEVICE, POST)[0]
    assert topic.endswith("/config") and isinstance(payload, dict) and retain is True


def test_common_fields(messages: dict[str, DiscoveryMessage]) -> None:
    unique_ids = [m.payload["unique_id"] for m in messages.values()]
    assert len(set(unique_ids)) == len(unique_ids)
    for object_id, message in messages.items():
        payload = message.payload
        assert payload["unique_id"] == f"poskamling_{DEVICE}_{object_id}"
        assert payload["device"] == {
            "identifiers": [f"poskamling_{DEVICE}"],
            "name": POST,
            "manufacturer": "poskamling",
            "model": "Pos Kamling edge (Raspberry Pi)",
            "sw_version": "0.1.0",
        }
        assert payload["origin"] == {"name": "poskamling", "sw_version": "0.1.0"}
        assert payload["qos"] == 1
        json.loads(message.payload_bytes())


def test_panic_sensor(messages: dict[str, DiscoveryMessage]) -> None:
    panic = messages["panic"].payload
    assert panic["state_topic"] == f"kamling/v1/{DEVICE}/event"
    assert panic["device_class"] == "safety"
    assert panic["off_delay"] == 60
    template = panic["value_template"]
    assert render(template, event(EventKind.PANIC)) == "ON"
    assert render(template, event(EventKind.PANIC, test=True)) == "", "walk tests must not trip HA"
    assert render(template, event(EventKind.MOTION, {"camera": "gate"})) == "", "other kinds leave it alone"


def test_motion_sensor_per_camera(messages: dict[str, DiscoveryMessage]) -> None:
    gate, lane = messages["motion_gate"].payload, messages["motion_lane"].payload
    assert gate["device_class"] == "motion" and gate["name"] == "Motion gate"
    assert gate["state_topic"] == f"kamling/v1/{DEVICE}/event"
    assert gate["off_delay"] == 30
    gate_motion = event(EventKind.MOTION, {"camera": "gate", "score": 0.4})
    assert render(gate["value_template"], gate_motion) == "ON"
    assert render(lane["value_template"], gate_motion) == ""
    assert render(gate["value_template"], event(EventKind.PANIC)) == ""
    assert render(gate["value_template"], event(EventKind.MOTION)) == "", "motion without a camera name"


def test_connectivity_from_retained_status(messages: dict[str, DiscoveryMessage]) -> None:
    conn = messages["connectivity"].payload
    assert conn["state_topic"] == f"kamling/v1/{DEVICE}/status"
    assert conn["device_class"] == "connectivity"
    assert conn["entity_category"] == "diagnostic"
    assert (conn["payload_on"], conn["payload_off"]) == ("online", "offline")
    online = Status(state="online", ts=datetime(2026, 11, 22, tzinfo=UTC), version="0.1.0")
    assert render(conn["value_template"], online.model_dump_json().encode()) == conn["payload_on"]
    assert render(conn["value_template"], OFFLINE_WILL) == conn["payload_off"]
    assert "availability" not in conn, "must show 'offline', not 'unavailable'"


def test_event_sensors_unavailable_while_offline(messages: dict[str, DiscoveryMessage]) -> None:
    for object_id in ("panic", "motion_gate"):
        (availability,) = messages[object_id].payload["availability"]
        assert availability["topic"] == f"kamling/v1/{DEVICE}/status"
        assert render(availability["value_template"], OFFLINE_WILL) == availability["payload_not_available"]
        assert render(availability["value_template"], b'{"state":"online"}') == availability["payload_available"]


def test_camera_names_are_made_safe() -> None:
    assert object_id_for_camera("gate") == "motion_gate"
    assert object_id_for_camera("Gang Mawar / utara") == "motion_Gang_Mawar_utara"
    assert object_id_for_camera("///") == "motion_camera"
    msgs = by_object_id(discovery_messages(DEVICE, POST, ['jalan "utama"']))
    template = msgs["motion_jalan_utama"].payload["value_template"]
    assert render(template, event(EventKind.MOTION, {"camera": 'jalan "utama"'})) == "ON"


def test_colliding_camera_names_rejected() -> None:
    with pytest.raises(ValueError, match="collide"):
        discovery_messages(DEVICE, POST, ["gate 1", "gate/1"])


def test_invalid_device_rejected() -> None:
    with pytest.raises(ValueError):
        discovery_messages("Bad Device!", POST)


def test_without_version_and_custom_prefix() -> None:
    (panic, conn) = discovery_messages(DEVICE, POST, prefix="ha", panic_off_delay=120)
    assert panic.topic == f"ha/binary_sensor/{DEVICE}/panic/config"
    assert panic.payload["off_delay"] == 120
    assert "sw_version" not in panic.payload["device"]
    assert panic.payload["origin"] == {"name": "poskamling"}
    assert conn.topic == f"ha/binary_sensor/{DEVICE}/connectivity/config"


def test_removal_topics_match_config_topics() -> None:
    cameras = ["gate", "lane"]
    assert removal_topics(DEVICE, cameras) == [m.topic for m in discovery_messages(DEVICE, POST, cameras)]
