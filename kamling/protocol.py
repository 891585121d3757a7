"""The wire contract between edge and hub: topics, payload models and their validation.

Everything that crosses MQTT is defined here and nowhere else. Both `edge` and `hub`
import this module; docs/protocol.md describes the same contract for people.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)
from ulid import ULID

PROTOCOL_VERSION = "v1"
TOPIC_ROOT = f"kamling/{PROTOCOL_VERSION}"

MAX_EVENT_BYTES = 16 * 1024
"""Largest JSON payload the hub accepts on any channel but `snapshot`."""
MAX_SNAPSHOT_BYTES = 1024 * 1024
"""Largest JPEG snapshot payload the hub accepts."""

DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
_DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest magnitude of any number in a payload: beyond it a browser's JSON loses precision."""
MAX_DEPTH = 16
"""Deepest nesting of objects and arrays in a payload (the top-level object is depth 1)."""

TS_MIN = datetime(1900, 1, 1, tzinfo=UTC)
"""Earliest edge timestamp accepted: a Pi clock reset to 1970, or a 32-bit time_t wrapped to 1901, is still a clock."""
TS_MAX = datetime(2200, 1, 1, tzinfo=UTC)
"""Edge timestamps must be before this: far enough from year 9999 that date arithmetic cannot overflow."""
CLOCK_AHEAD_LIMIT = timedelta(days=1)
"""An edge clock further ahead of the hub than this is flagged as skewed (the event is still accepted)."""
CLOCK_BEHIND_LIMIT = timedelta(days=365)
"""An edge clock further behind the hub than this is flagged as skewed (the event is still accepted)."""


class Channel(StrEnum):
    """The last topic level(s) under kamling/v1/<device>/."""

    EVENT = "event"  # edge -> hub, QoS 1
    ALARM = "alarm"  # edge -> hub, QoS 1: a second copy of each panic/tamper event, for the hub's alarm session
    STATUS = "status"  # edge -> hub, retained, Last Will "offline"
    HEALTH = "health"  # edge -> hub, periodic telemetry
    SNAPSHOT = "snapshot"  # edge -> hub, kamling/v1/<device>/snapshot/<event_id>, JPEG
    ACK = "ack"  # hub -> edge: event durably stored
    ALERT = "alert"  # hub -> edge: state of the alert the post raised
    CMD = "cmd"  # hub -> edge: commands
    REPLY = "reply"  # edge -> hub: the outcome of a command (issue 15)


EDGE_PUBLISHES = (Channel.EVENT, Channel.STATUS, Channel.HEALTH, Channel.SNAPSHOT, Channel.REPLY, Channel.ALARM)
EDGE_SUBSCRIBES = (Channel.ACK, Channel.ALERT, Channel.CMD)
ALARM_SESSION_SUFFIX = "-alarm"
"""The hub's alarm session logs in as `<hub user>-alarm` (same password): the broker keys a session by
its user name, and this one must not share the hub's main connection, which a flooding post can fill
(issue 17). It reads only the `alarm` channel."""


def alarm_user(hub_user: str) -> str:
    """The broker account of the hub's alarm session."""
    return hub_user + ALARM_SESSION_SUFFIX


class EventKind(StrEnum):
    PANIC = "panic"
    MOTION = "motion"
    TAMPER = "tamper"
    CAMERA = "camera"
    CHECKIN = "checkin"


ALARM_KINDS = frozenset({EventKind.PANIC, EventKind.TAMPER})
"""Events that also travel on the `alarm` channel (and the only ones the hub accepts there)."""


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


HUB_SEGMENT = "_hub"
"""`kamling/v1/_hub/<hub-id>/status`: each hub's retained presence (issue 13). `_hub` can never be a
device id (ids start with a letter or digit), so hub topics never collide with a post's."""
HUB_STATUS_SUBSCRIPTION = f"{TOPIC_ROOT}/{HUB_SEGMENT}/+/status"


def hub_status_topic(hub_id: str) -> str:
    """The retained presence topic of one hub: `online` while connected, `offline` as its Last Will."""
    if not is_valid_device_id(hub_id):
        raise ValueError(f"invalid hub id {hub_id!r}: must match {DEVICE_ID_PATTERN}")
    return f"{TOPIC_ROOT}/{HUB_SEGMENT}/{hub_id}/status"


def parse_hub_status_topic(topic_name: str) -> str | None:
    """The hub id of a hub presence topic, or None when the topic is not one (or names a bad id)."""
    parts = topic_name.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != f"{TOPIC_ROOT}/{HUB_SEGMENT}" or parts[4] != "status":
        return None
    return parts[3] if is_valid_device_id(parts[3]) else None


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
    return datetime.now(UTC)


# RFC 3339 with a zone: what both ends write. Pydantic alone would also take "1700000000"
# (a Unix time as a string) and a bare date, so the form is checked before it parses.
_TIMESTAMP_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _timestamp_form(value: Any) -> Any:
    """A wire timestamp is an ISO-8601 string with a zone; never a number, a date or a naive time."""
    if isinstance(value, datetime):  # built in Python by edge or hub, not parsed from the wire
        return value
    if not isinstance(value, str):
        # ValueError, not TypeError: pydantic turns only ValueError into a validation error
        raise ValueError("must be an ISO-8601 string with a zone, e.g. 2026-11-22T15:00:00Z")
    if not _TIMESTAMP_RE.fullmatch(value):
        raise ValueError("must be ISO-8601 with seconds and a zone (Z or +hh:mm), e.g. 2026-11-22T15:00:00Z")
    return value


def _to_utc(value: datetime) -> datetime:
    """Aware, in UTC, and between TS_MIN and TS_MAX (so later arithmetic cannot overflow)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry a timezone (UTC, e.g. 2026-11-22T22:10:00Z)")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError("is out of range") from None
    if not TS_MIN <= utc < TS_MAX:
        raise ValueError(f"must be from {TS_MIN:%Y} to {TS_MAX.year - 1}")
    return utc


def _json_number(value: Any) -> Any:
    """An int or a float as JSON gives them; never a bool (an int in Python) or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


WireTimestamp = Annotated[datetime, BeforeValidator(_timestamp_form)]
"""A timestamp as sent on the wire; models convert it with `_to_utc`."""
WireNumber = Annotated[int | float, BeforeValidator(_json_number)]
"""A JSON number, kept as int or float (range and finiteness are checked on parsing)."""


class _Strict(BaseModel):
    # Scalars use Strict* types so nothing is coerced ("1" is not 1, "yes" is not true). The
    # models themselves stay lax for enums so the hub can rebuild them from stored JSON records.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Event(_Strict):
    """One thing that happened at a post, as published on `event`."""

    id: StrictStr = Field(description="ULID: globally unique and time-sortable", pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")
    device: StrictStr = Field(description="device id; must equal the topic's device", pattern=DEVICE_ID_PATTERN)
    seq: StrictInt = Field(
        ge=1, le=MAX_SAFE_INTEGER, description="per-device sequence number, monotonic across restarts"
    )
    kind: EventKind
    ts: WireTimestamp = Field(description="edge clock, UTC, ISO-8601")
    data: dict[StrictStr, Any] = Field(default_factory=dict, description="kind-specific details")
    test: StrictBool = Field(default=False, description="walk test by a technician: never pages anyone")

    @field_validator("ts")
    @classmethod
    def _must_be_utc(cls, value: datetime) -> datetime:
        return _to_utc(value)

    def to_payload(self) -> bytes:
        return self.model_dump_json().encode()


EVIDENCE_STATE = "evidence"
"""`data.state` of a `camera` event that carries a picture from around another event (issue 15)."""
MAX_EVIDENCE_OFFSET_S = 60
"""Largest |offset_s| of an evidence picture from the press, in seconds."""


class Evidence(_Strict):
    """`data` of a camera event with state "evidence": a picture taken `offset_s` from event `evidence_for`.

    Its JPEG travels on `snapshot/<this event's id>` like any snapshot. A hub that does not know
    evidence stores it as a plain camera event (only state "lost" raises an alert); newer posts may
    add fields, which this hub ignores.
    """

    model_config = ConfigDict(extra="allow")

    camera: StrictStr = Field(min_length=1, max_length=64)
    state: Literal["evidence"]
    evidence_for: StrictStr = Field(pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$", description="id of the panic or tamper")
    offset_s: WireNumber = Field(
        ge=-MAX_EVIDENCE_OFFSET_S, le=MAX_EVIDENCE_OFFSET_S, description="picture time minus the press, seconds"
    )


def evidence_of(event: Event) -> Evidence | None:
    """The evidence details of `event`; None when it is no evidence; ProtocolError when they are malformed."""
    if event.kind is not EventKind.CAMERA or event.data.get("state") != EVIDENCE_STATE:
        return None
    evidence: Evidence = _validate(Evidence, event.data)
    return evidence


class Ack(_Strict):
    """Hub -> edge: these events are durably stored; the edge may forget them."""

    ids: list[StrictStr] = Field(min_length=1, max_length=1000)


class AlertUpdate(_Strict):
    """Hub -> edge: the state of the alert the post raised."""

    alert_id: StrictStr
    state: AlertState
    kind: EventKind
    ts: WireTimestamp
    by: StrictStr | None = Field(default=None, description="who acknowledged / is en route, if anyone")
    message: StrictStr | None = Field(default=None, description="short text for a post display, if any")

    @field_validator("ts")
    @classmethod
    def _must_be_utc(cls, value: datetime) -> datetime:
        return _to_utc(value)


class Status(_Strict):
    """Retained device status: `online` on connect, `offline` as the Last Will."""

    state: Literal["online", "offline"]
    ts: WireTimestamp | None = None
    version: StrictStr | None = Field(default=None, max_length=100)

    @field_validator("ts")
    @classmethod
    def _must_be_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _to_utc(value)


class HealthDisk(_Strict):
    """Space left on the file system of the edge's outbox."""

    model_config = ConfigDict(extra="allow")  # newer posts may report more (see Health)

    path: StrictStr | None = None
    free_bytes: StrictInt | None = Field(default=None, ge=0)
    total_bytes: StrictInt | None = Field(default=None, ge=0)
    free_pct: WireNumber | None = Field(default=None, ge=0, le=100)


class HealthOutbox(_Strict):
    """Events waiting for the hub's ack, events dropped because the disk budget was full, and pictures
    dropped for the same reason after their events had reached the hub (issue 17 item 3)."""

    model_config = ConfigDict(extra="allow")  # newer posts may report more (see Health)

    depth: StrictInt | None = Field(default=None, ge=0)
    drops: StrictInt | None = Field(default=None, ge=0)
    pictures_dropped: StrictInt | None = Field(default=None, ge=0)


class Health(_Strict):
    """Periodic telemetry on `health` (edge/telemetry.py builds it); every reading may be null.

    The known fields are strict; a field this hub does not know is kept, not refused (still
    bounded by the size, depth, number and text checks of `_load_json`): a post updated before
    its hub must not lose all its health reports. Events stay `extra="forbid"`.
    """

    model_config = ConfigDict(extra="allow")

    ts: WireTimestamp | None = None
    version: StrictStr | None = Field(default=None, max_length=100)
    uptime_s: WireNumber | None = Field(default=None, ge=0)
    load: list[WireNumber] | None = Field(default=None, max_length=3)
    cpu_temp_c: WireNumber | None = None
    throttle: dict[StrictStr, StrictBool | StrictStr] | None = Field(
        default=None, description="vcgencmd get_throttled: `raw` as hex plus one boolean per named bit"
    )
    disk: HealthDisk | None = None
    clock_synced: StrictBool | None = None
    outbox: HealthOutbox | None = None
    cameras: dict[StrictStr, WireNumber | None] | None = Field(default=None, description="frames per second by camera")

    @field_validator("ts")
    @classmethod
    def _must_be_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _to_utc(value)


CommandName = Literal["ping", "test_siren", "silence_siren", "snapshot", "reload"]
COMMAND_NAMES: tuple[str, ...] = ("ping", "test_siren", "silence_siren", "snapshot", "reload")
CommandOutcome = Literal["done", "failed", "expired", "unknown"]
ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"


class Command(_Strict):
    """Hub -> edge command on `cmd`. The post answers on its own `reply` topic with a CommandReply.

    `expires_at` is the hub's clock; the hub also publishes the command with an MQTT v5 message
    expiry interval, so a post whose own clock is wrong still gets a deadline it can trust
    (edge/commands.py). A command is carried out at most once per id.
    """

    id: StrictStr = Field(pattern=ULID_PATTERN, description="ULID chosen by the hub; the reply names it")
    name: CommandName
    args: dict[StrictStr, Any] = Field(default_factory=dict)
    issued_at: WireTimestamp
    expires_at: WireTimestamp

    @field_validator("issued_at", "expires_at")
    @classmethod
    def _must_be_utc(cls, value: datetime) -> datetime:
        return _to_utc(value)


class CommandReply(_Strict):
    """Edge -> hub on `reply`: what became of one command."""

    id: StrictStr = Field(pattern=ULID_PATTERN, description="the command's id")
    name: StrictStr | None = Field(default=None, max_length=40, description="the command's name, if the post read it")
    outcome: CommandOutcome
    details: dict[StrictStr, Any] = Field(default_factory=dict, description="e.g. the reason a command failed")


OFFLINE_WILL = Status(state="offline").model_dump_json(exclude_none=True).encode()


def clock_skew(edge_ts: datetime, received: datetime) -> timedelta | None:
    """`edge_ts - received` when the edge clock is outside the sane window, else None.

    Positive: the edge is ahead. The window is CLOCK_AHEAD_LIMIT ahead to CLOCK_BEHIND_LIMIT
    behind, both inclusive. Skew never rejects a message: a panic from a post with a wrong
    clock must still page; the hub flags it and orders by its own receive time.
    """
    if edge_ts.utcoffset() is None or received.utcoffset() is None:
        raise ValueError("clock_skew needs timezone-aware datetimes")
    skew = edge_ts - received
    if skew > CLOCK_AHEAD_LIMIT or skew < -CLOCK_BEHIND_LIMIT:
        return skew
    return None


class _OutOfRange:
    """Stands in for an integer literal too long to convert (Python caps int() at 4300 digits)."""


_OUT_OF_RANGE = _OutOfRange()
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
"""NUL, and lone surrogates: `"\\ud800"` is valid JSON but not Unicode text (UTF-8 cannot encode it)."""


def _parse_int(literal: str) -> int | _OutOfRange:
    # 20 characters hold any int64; longer literals are out of range however they would parse.
    return int(literal) if len(literal) <= 20 else _OUT_OF_RANGE


def _refuse_constant(name: str) -> Any:
    raise ProtocolError("bad_json", f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers may keep different copies of a repeated key; refusing it leaves nothing to disagree on.
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ProtocolError("bad_json", f"duplicate key {_printable(key)}")
            seen.add(key)
    return result


def _printable(text: str) -> str:
    """A string for a log line: short, and with surrogates and NUL escaped."""
    return ascii(text[:50])


_Path = tuple[Any, str | int] | None
"""Where a value sits, as a linked list (parent path, key): built in O(1) per value, joined only for errors."""


def _check_values(root: Any) -> None:
    """Walk the parsed JSON without recursion: depth, strings and numbers everywhere, keys included."""
    stack: list[tuple[Any, int, _Path]] = [(root, 1, None)]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            if _BAD_CHARS.search(value):
                raise ProtocolError("bad_unicode", f"{_where(path)}: lone surrogate or NUL in a string")
        elif isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise ProtocolError("too_deep", f"{_where(path)}: nested deeper than {MAX_DEPTH}")
            for key, item in value.items():
                if _BAD_CHARS.search(key):
                    raise ProtocolError("bad_unicode", f"{_where(path)}: key {_printable(key)}")
                stack.append((item, depth + 1, (path, key)))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                raise ProtocolError("too_deep", f"{_where(path)}: nested deeper than {MAX_DEPTH}")
            stack.extend((item, depth + 1, (path, index)) for index, item in enumerate(value))
        elif isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int):
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                raise ProtocolError("schema", f"{_where(path)}: integer beyond +/-{MAX_SAFE_INTEGER}")
        elif isinstance(value, float):
            # 1e400 parses as inf; NaN fails both comparisons
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                raise ProtocolError("schema", f"{_where(path)}: number beyond +/-{MAX_SAFE_INTEGER}")
        else:  # _OUT_OF_RANGE from _parse_int
            raise ProtocolError("schema", f"{_where(path)}: integer beyond +/-{MAX_SAFE_INTEGER}")


def _where(path: _Path) -> str:
    """The dotted path pydantic would give, e.g. `data.boxes.0`; `payload` for the top level."""
    parts: list[str] = []
    while path is not None:
        path, key = path
        parts.append(_printable(key)[1:-1] if isinstance(key, str) else str(key))
    return ".".join(reversed(parts)) or "payload"


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
"""Built once: json.loads with hooks would build a decoder for every payload. Stateless, so shared by threads."""


def _load_json(payload: bytes, limit: int = MAX_EVENT_BYTES) -> Any:
    """Parse a payload, refusing anything that is not plain, bounded, UTF-8 JSON text."""
    if len(payload) > limit:
        raise ProtocolError("too_large", f"{len(payload)} bytes > {limit}")
    try:
        text = payload.decode("utf-8")  # strict: also refuses UTF-8-encoded surrogates
        raw = _DECODER.decode(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError("bad_json", str(exc)[:200]) from None
    except RecursionError:  # the C parser gives up around 1000 levels; MAX_DEPTH is far below
        raise ProtocolError("too_deep", f"nested deeper than {MAX_DEPTH}") from None
    _check_values(raw)
    return raw


def _validate(model: type[_Strict], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        # An unknown key is the sender's text: escaped so it cannot forge log lines.
        where = ".".join(_printable(str(p))[1:-1] for p in first.get("loc", ())) or "payload"
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
    """Validate a `health` payload against `Health`; returns the JSON object as received."""
    raw = _load_json(payload)
    if not isinstance(raw, dict):
        raise ProtocolError("schema", "health must be a JSON object")
    _validate(Health, raw)
    return raw


def decode_ack(payload: bytes) -> Ack:
    return _validate(Ack, _load_json(payload))


def decode_alert_update(payload: bytes) -> AlertUpdate:
    return _validate(AlertUpdate, _load_json(payload))


def decode_command(payload: bytes) -> Command:
    return _validate(Command, _load_json(payload))


MAX_REPLY_BYTES = 4 * 1024
"""Largest `reply` payload the hub accepts: a reply carries an id, an outcome and a few details."""


def decode_reply(payload: bytes) -> CommandReply:
    """Validate a `reply` payload (the device is the topic's: the hub checks it sent the command there)."""
    return _validate(CommandReply, _load_json(payload, MAX_REPLY_BYTES))


MAX_SNAPSHOT_PARTS = 1024
"""Most parts one snapshot may come in (issue 17 item 3)."""


def snapshot_suffix(event_id: str, part: int = 1, parts: int = 1) -> str:
    """The topic suffix of a snapshot, or of part `part` (1-based) of `parts`: `<event_id>.<part>.<parts>`.

    A post on a slow link sends a large JPEG in parts, so that an event published meanwhile waits
    behind one part, not behind the whole picture; the hub joins the parts (hub/ingest/snapshot_parts.py).
    The parts stay on the one topic level the broker's ACL allows (`snapshot/+`)."""
    return event_id if parts == 1 else f"{event_id}.{part}.{parts}"


def parse_snapshot_suffix(suffix: str) -> tuple[str, int, int]:
    """(event id, part, parts) of a snapshot topic suffix; a whole snapshot is part 1 of 1."""
    if "." not in suffix:
        return suffix, 1, 1
    fields = suffix.split(".")
    if len(fields) != 3 or not all(f.isdigit() and f.isascii() and len(f) <= 4 for f in fields[1:]):
        raise ProtocolError("bad_topic", f"snapshot part {suffix[:60]!r} is not <event_id>.<part>.<parts>")
    part, parts = int(fields[1]), int(fields[2])
    if not 1 <= part <= parts <= MAX_SNAPSHOT_PARTS:
        raise ProtocolError("bad_topic", f"snapshot part {part} of {parts}")
    return fields[0], part, parts


def check_snapshot(payload: bytes) -> bytes:
    """A snapshot must be a JPEG within the size limit."""
    if len(payload) > MAX_SNAPSHOT_BYTES:
        raise ProtocolError("too_large", f"snapshot {len(payload)} bytes > {MAX_SNAPSHOT_BYTES}")
    if not payload.startswith(b"\xff\xd8\xff"):
        raise ProtocolError("not_jpeg", "snapshot payload is not a JPEG")
    return payload
