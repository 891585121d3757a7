"""The wire contract between edge and hub: topics, payload models and their validation.

Everything that crosses MQTT is defined here and nowhere else. Both `edge` and `hub`
import this module; docs/protocol.md describes the same contract for people.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ulid import ULID

PROTOCOL_VERSION = "v1"
TOPIC_ROOT = f"kamling/{PROTOCOL_VERSION}"

MAX_EVENT_BYTES = 16 * 1024
"""Largest JSON payload the hub accepts on any channel but `snapshot`."""
MAX_SNAPSHOT_BYTES = 1024 * 1024
"""Largest JPEG snapshot payload the hub accepts."""

DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
_DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)


class Channel(StrEnum):
    """The last topic level(s) under kamling/v1/<device>/."""

    EVENT = "event"  # edge -> hub, QoS 1
    STATUS = "status"  # edge -> hub, retained, Last Will "offline"
    HEALTH = "health"  # edge -> hub, periodic telemetry
    SNAPSHOT = "snapshot"  # edge -> hub, kamling/v1/<device>/snapshot/<event_id>, JPEG
    ACK = "ack"  # hub -> edge: event durably stored
    ALERT = "alert"  # hub -> edge: state of the alert the post raised
    CMD = "cmd"  # hub -> edge: commands


EDGE_PUBLISHES = (Channel.EVENT, Channel.STATUS, Channel.HEALTH, Channel.SNAPSHOT)
EDGE_SUBSCRIBES = (Channel.ACK, Channel.ALERT, Channel.CMD)


class EventKind(StrEnum):
    PANIC = "panic"
    MOTION = "motion"
    TAMPER = "tamper"
    CAMERA = "camera"
    CHECKIN = "checkin"


class AlertState(StrEnum):
    """Lifecycle of an alert, as the hub tells the post that raised it."""

    NEW = "new"
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en_route"
    RESOLVED = "resolved"


class ProtocolError(ValueError):
    """A message that breaks the contract. `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def is_valid_device_id(device_id: str) -> bool:
    return bool(_DEVICE_ID_RE.match(device_id))


def topic(device_id: str, channel: Channel, suffix: str | None = None) -> str:
    """Build `kamling/v1/<device>/<channel>[/<suffix>]`."""
    if not is_valid_device_id(device_id):
        raise ValueError(f"invalid device id {device_id!r}: must match {DEVICE_ID_PATTERN}")
    base = f"{TOPIC_ROOT}/{device_id}/{channel.value}"
    return f"{base}/{suffix}" if suffix else base


def subscription(channel: Channel, device_id: str = "+") -> str:
    """Topic filter for one channel of one device, or of all devices with '+'."""
    extra = "/+" if channel is Channel.SNAPSHOT else ""
    return f"{TOPIC_ROOT}/{device_id}/{channel.value}{extra}"


class TopicParts(BaseModel):
    model_config = ConfigDict(frozen=True)
    device: str
    channel: Channel
    suffix: str | None = None


def parse_topic(topic_name: str) -> TopicParts:
    """Split a topic into device, channel and suffix, or raise ProtocolError('bad_topic')."""
    parts = topic_name.split("/")
    prefix = TOPIC_ROOT.split("/")
    if len(parts) < 4 or parts[:2] != prefix:
        raise ProtocolError("bad_topic", topic_name[:200])
    device, channel_name, rest = parts[2], parts[3], parts[4:]
    if not is_valid_device_id(device):
        raise ProtocolError("bad_topic", f"invalid device id in {topic_name[:200]!r}")
    try:
        channel = Channel(channel_name)
    except ValueError:
        raise ProtocolError("bad_topic", f"unknown channel {channel_name[:50]!r}") from None
    if channel is Channel.SNAPSHOT:
        if len(rest) != 1 or not rest[0]:
            raise ProtocolError("bad_topic", "snapshot topic needs exactly one event id")
        return TopicParts(device=device, channel=channel, suffix=rest[0])
    if rest:
        raise ProtocolError("bad_topic", f"unexpected levels after {channel_name}")
    return TopicParts(device=device, channel=channel)


def new_event_id() -> str:
    """A globally unique, time-sortable id (ULID, 26 characters)."""
    return str(ULID())


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Event(_Strict):
    """One thing that happened at a post, as published on `event`."""

    id: str = Field(description="ULID: globally unique and time-sortable", pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")
    device: str = Field(description="device id; must equal the topic's device", pattern=DEVICE_ID_PATTERN)
    seq: int = Field(ge=1, description="per-device sequence number, monotonic across restarts")
    kind: EventKind
    ts: datetime = Field(description="edge clock, UTC, ISO-8601")
    data: dict[str, Any] = Field(default_factory=dict, description="kind-specific details")
    test: bool = Field(default=False, description="walk test by a technician: never pages anyone")

    @field_validator("ts")
    @classmethod
    def _must_be_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("ts must carry a timezone (UTC, e.g. 2026-11-22T22:10:00Z)")
        return value.astimezone(timezone.utc)

    def to_payload(self) -> bytes:
        return self.model_dump_json().encode()


class Ack(_Strict):
    """Hub -> edge: these events are durably stored; the edge may forget them."""

    ids: list[str] = Field(min_length=1, max_length=1000)


class AlertUpdate(_Strict):
    """Hub -> edge: the state of the alert the post raised."""

    alert_id: str
    state: AlertState
    kind: EventKind
    ts: datetime
    by: str | None = Field(default=None, description="who acknowledged / is en route, if anyone")
    message: str | None = Field(default=None, description="short text for a post display, if any")


class Status(_Strict):
    """Retained device status: `online` on connect, `offline` as the Last Will."""

    state: Literal["online", "offline"]
    ts: datetime | None = None
    version: str | None = None


class Command(_Strict):
    """Hub -> edge command."""

    name: Literal["ping", "test_siren", "reload"]
    args: dict[str, Any] = Field(default_factory=dict)


OFFLINE_WILL = Status(state="offline").model_dump_json(exclude_none=True).encode()


def _load_json(payload: bytes, limit: int = MAX_EVENT_BYTES) -> Any:
    if len(payload) > limit:
        raise ProtocolError("too_large", f"{len(payload)} bytes > {limit}")
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError("bad_json", str(exc)[:200]) from None


def _validate(model: type[_Strict], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
        raise ProtocolError("schema", f"{where}: {first.get('msg')}") from None


def decode_event(topic_device: str, payload: bytes) -> Event:
    """Validate an `event` payload received on `topic_device`'s topic."""
    event = _validate(Event, _load_json(payload))
    if event.device != topic_device:
        raise ProtocolError("device_mismatch", f"topic says {topic_device}, payload says {event.device}")
    return event


def decode_status(payload: bytes) -> Status:
    return _validate(Status, _load_json(payload))


def decode_health(payload: bytes) -> dict[str, Any]:
    raw = _load_json(payload)
    if not isinstance(raw, dict):
        raise ProtocolError("schema", "health must be a JSON object")
    return raw


def decode_ack(payload: bytes) -> Ack:
    return _validate(Ack, _load_json(payload))


def decode_alert_update(payload: bytes) -> AlertUpdate:
    return _validate(AlertUpdate, _load_json(payload))


def decode_command(payload: bytes) -> Command:
    return _validate(Command, _load_json(payload))


def check_snapshot(payload: bytes) -> bytes:
    """A snapshot must be a JPEG within the size limit."""
    if len(payload) > MAX_SNAPSHOT_BYTES:
        raise ProtocolError("too_large", f"snapshot {len(payload)} bytes > {MAX_SNAPSHOT_BYTES}")
    if not payload.startswith(b"\xff\xd8\xff"):
        raise ProtocolError("not_jpeg", "snapshot payload is not a JPEG")
    return payload
