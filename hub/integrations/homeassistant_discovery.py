"""Home Assistant MQTT discovery messages for one post (pure: values in, messages out).

Off by default; whoever publishes these (the agent when configured to, or the hub) sends
each message retained, QoS 1. Topics follow Home Assistant's documented discovery format
`<discovery_prefix>/<component>/<node_id>/<object_id>/config`. The node id is the device id
itself, so a Mosquitto ACL line `pattern write homeassistant/+/%u/+/config` lets each post
announce only its own entities (a `%u` substitution must fill a whole topic level).

Entities of a post (all on one HA device):
  - binary_sensor `panic` (device_class safety): ON for `panic_off_delay` seconds after a
    panic event; walk tests (`"test": true`) are ignored.
  - binary_sensor `motion_<camera>` (device_class motion) per camera: ON after a motion
    event whose data names that camera, OFF after `motion_off_delay` seconds.
  - binary_sensor `connectivity` (device_class connectivity): the retained status topic,
    online/offline (the broker publishes the post's Last Will `{"state": "offline"}`).

The event sensors are 'unavailable' while the post is offline; the connectivity sensor has
no availability of its own, so it shows the offline state instead of 'unavailable'.
An empty template result leaves an entity unchanged, which is how the event sensors ignore
events of other kinds on the shared event topic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from kamling.protocol import Channel, EventKind, is_valid_device_id, topic

DISCOVERY_PREFIX = "homeassistant"
MANUFACTURER = "poskamling"
MODEL = "Pos Kamling edge (Raspberry Pi)"
CAMERA_FIELD = "camera"
"""Key in a motion event's `data` that names the camera."""

_OBJECT_ID_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")
_STATE_TEMPLATE = "{{ value_json.state }}"


class DiscoveryMessage(NamedTuple):
    topic: str
    payload: dict[str, Any]
    retain: bool = True

    def payload_bytes(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def object_id_for_camera(camera: str) -> str:
    """`motion_<camera>` with characters HA does not allow in an object id replaced by '_'."""
    slug = _OBJECT_ID_UNSAFE.sub("_", camera).strip("_") or "camera"
    return f"motion_{slug}"


def discovery_topic(device_id: str, component: str, object_id: str, prefix: str = DISCOVERY_PREFIX) -> str:
    return f"{prefix}/{component}/{device_id}/{object_id}/config"


def _jinja_literal(text: str) -> str:
    """A Jinja string literal for `text` (JSON string syntax is valid Jinja)."""
    return json.dumps(text)


def _event_template(condition: str) -> str:
    return "{% if " + condition + " %}ON{% endif %}"


def discovery_messages(
    device_id: str,
    post_name: str,
    cameras: Sequence[str] = (),
    *,
    version: str | None = None,
    prefix: str = DISCOVERY_PREFIX,
    panic_off_delay: int = 60,
    motion_off_delay: int = 30,
) -> list[DiscoveryMessage]:
    """The retained config messages announcing a post's entities to Home Assistant."""
    if not is_valid_device_id(device_id):
        raise ValueError(f"invalid device id {device_id!r}")
    object_ids = [object_id_for_camera(name) for name in cameras]
    if len(set(object_ids)) != len(object_ids):
        raise ValueError(f"camera names collide after making them HA object ids: {list(cameras)}")

    status_topic = topic(device_id, Channel.STATUS)
    event_topic = topic(device_id, Channel.EVENT)
    device: dict[str, Any] = {
        "identifiers": [f"poskamling_{device_id}"],
        "name": post_name,
        "manufacturer": MANUFACTURER,
        "model": MODEL,
    }
    origin: dict[str, Any] = {"name": "poskamling"}
    if version is not None:
        device["sw_version"] = version
        origin["sw_version"] = version
    availability = [
        {
            "topic": status_topic,
            "value_template": _STATE_TEMPLATE,
            "payload_available": "online",
            "payload_not_available": "offline",
        }
    ]

    def entity(object_id: str, name: str, **fields: Any) -> DiscoveryMessage:
        payload = {
            "name": name,
            "unique_id": f"poskamling_{device_id}_{object_id}",
            "device": device,
            "origin": origin,
            "qos": 1,
            **fields,
        }
        return DiscoveryMessage(discovery_topic(device_id, "binary_sensor", object_id, prefix), payload)

    messages = [
        entity(
            "panic",
            "Panic button",
            device_class="safety",
            state_topic=event_topic,
            value_template=_event_template(
                f"value_json.kind == {_jinja_literal(EventKind.PANIC.value)} and not value_json.test"
            ),
            payload_on="ON",
            payload_off="OFF",
            off_delay=panic_off_delay,
            availability=availability,
        )
    ]
    for camera, object_id in zip(cameras, object_ids, strict=True):
        messages.append(
            entity(
                object_id,
                f"Motion {camera}",
                device_class="motion",
                state_topic=event_topic,
                value_template=_event_template(
                    f"value_json.kind == {_jinja_literal(EventKind.MOTION.value)}"
                    f" and value_json.data.{CAMERA_FIELD} == {_jinja_literal(camera)}"
                ),
                payload_on="ON",
                payload_off="OFF",
                off_delay=motion_off_delay,
                availability=availability,
            )
        )
    messages.append(
        entity(
            "connectivity",
            "Connectivity",
            device_class="connectivity",
            entity_category="diagnostic",
            state_topic=status_topic,
            value_template=_STATE_TEMPLATE,
            payload_on="online",
            payload_off="offline",
        )
    )
    return messages


def removal_topics(device_id: str, cameras: Sequence[str] = (), prefix: str = DISCOVERY_PREFIX) -> list[str]:
    """Config topics to clear (publish an empty retained payload) to remove a post's entities."""
    object_ids = ["panic", *(object_id_for_camera(name) for name in cameras), "connectivity"]
    return [discovery_topic(device_id, "binary_sensor", object_id, prefix) for object_id in object_ids]
