"""The wire contract against a hostile post: strict types, Unicode, numbers, depth, timestamps, skew.

Every device-sent model (Event, Status, Health) gets, per field, one wrong type that must be
rejected with a reason naming the field, and one right value that must pass. A property test
feeds arbitrary JSON-ish payloads to every decode function: ProtocolError is the only exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge.outbox import Outbox
from edge.telemetry import HostProbe, build_health
from kamling.protocol import (
    CLOCK_AHEAD_LIMIT,
    CLOCK_BEHIND_LIMIT,
    MAX_DEPTH,
    MAX_EVENT_BYTES,
    MAX_SAFE_INTEGER,
    OFFLINE_WILL,
    TS_MAX,
    TS_MIN,
    AlertState,
    AlertUpdate,
    Event,
    EventKind,
    ProtocolError,
    Status,
    check_snapshot,
    clock_skew,
    decode_ack,
    decode_alert_update,
    decode_command,
    decode_event,
    decode_health,
    decode_reply,
    decode_status,
    new_event_id,
    utc_now,
)

DEVICE = "pos-1"
WIB = timezone(timedelta(hours=7))


def event_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": new_event_id(),
        "device": DEVICE,
        "seq": 1,
        "kind": "panic",
        "ts": "2026-11-22T15:00:00Z",
        "data": {"source": "button"},
        "test": False,
    }
    body.update(overrides)
    return body


def encode(body: Any) -> bytes:
    """JSON as a sender may write it: NaN allowed, lone surrogates kept as \\u escapes."""
    return json.dumps(body, ensure_ascii=True, allow_nan=True).encode()


def reason_of(decode: Callable[[bytes], Any], payload: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as err:
        decode(payload)
    return err.value


def decode_own_event(payload: bytes) -> Event:
    return decode_event(DEVICE, payload)


# -- Event: one wrong type and one right value per field -----------------------------------

EVENT_WRONG = [
    ("id", 12345678901234567890123456),
    ("id", ["01M82NJF84EP67WZEG7NY1XHM3"]),
    ("device", 1),
    ("device", None),
    ("seq", "1"),
    ("seq", True),
    ("seq", 1.0),
    ("seq", 1.5),
    ("seq", None),
    ("kind", 1),
    ("kind", "PANIC"),
    ("kind", ["panic"]),
    ("ts", 1764000000),
    ("ts", 1764000000.5),
    ("ts", "1764000000"),
    ("ts", True),
    ("ts", "2026-11-22"),
    ("ts", "2026-11-22T15:00"),
    ("ts", "2026-11-22T15:00:00"),  # naive: rejected, never guessed to be UTC
    ("ts", "22/11/2026 15:00:00Z"),
    ("ts", "2026-11-22T15:00:00Z\n"),
    ("ts", "2026-02-30T15:00:00Z"),
    ("data", []),
    ("data", "source=button"),
    ("data", None),
    ("test", "yes"),
    ("test", "false"),
    ("test", 1),
    ("test", 0),
    ("test", None),
]


@pytest.mark.parametrize(("field", "value"), EVENT_WRONG)
def test_event_field_of_the_wrong_type_is_rejected_naming_the_field(field: str, value: Any) -> None:
    error = reason_of(decode_own_event, encode(event_body(**{field: value})))
    assert error.reason == "schema"
    assert error.detail.startswith(field), error.detail


EVENT_RIGHT = [
    ("id", "01M82NJF84EP67WZEG7NY1XHM3"),
    ("device", DEVICE),
    ("seq", 1),
    ("seq", MAX_SAFE_INTEGER),
    ("kind", "motion"),
    ("ts", "2026-11-22T15:00:00.123456Z"),
    ("ts", "2026-11-22T22:00:00+07:00"),
    ("ts", "2026-11-22 15:00:00z"),
    ("data", {}),
    ("data", {"boxes": [[1, 2, 3, 4]], "area": 0.25, "armed": True, "camera": "gate", "note": None}),
    ("test", True),
    ("test", False),
]


@pytest.mark.parametrize(("field", "value"), EVENT_RIGHT)
def test_event_field_of_the_right_type_is_accepted(field: str, value: Any) -> None:
    event = decode_own_event(encode(event_body(**{field: value})))
    if field != "ts":  # a ts comes back normalised to UTC; see the timestamp tests below
        assert event.model_dump(mode="json")[field] == value


def test_a_truthy_test_flag_cannot_turn_a_panic_into_a_walk_test() -> None:
    for truthy in ("yes", "true", 1, [1], {"x": 1}):
        assert reason_of(decode_own_event, encode(event_body(test=truthy))).reason == "schema"
    assert decode_own_event(encode(event_body(test=True))).test is True
    assert decode_own_event(encode(event_body())).test is False


def test_event_needs_every_required_field() -> None:
    for field in ("id", "device", "seq", "kind", "ts"):
        body = event_body()
        del body[field]
        error = reason_of(decode_own_event, encode(body))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", field)


def test_models_built_in_python_are_strict_too() -> None:
    with pytest.raises(ValidationError):
        Event(id=new_event_id(), device=DEVICE, seq="1", kind=EventKind.PANIC, ts=utc_now())
    with pytest.raises(ValidationError):
        Event(id=new_event_id(), device=DEVICE, seq=1, kind=EventKind.PANIC, ts=utc_now(), test="yes")
    with pytest.raises(ValidationError):
        Event(id=new_event_id(), device=DEVICE, seq=1, kind=EventKind.PANIC, ts=datetime(2026, 11, 22))


def test_a_stored_record_still_rebuilds_an_event() -> None:
    """The hub rebuilds events from its log with model_validate (string kind and ts)."""
    event = decode_own_event(encode(event_body(ts="2026-11-22T22:00:00+07:00")))
    record = event.model_dump(mode="json")
    assert record["ts"] == "2026-11-22T15:00:00Z"
    assert Event.model_validate(record) == event
    assert Event.model_validate_json(event.to_payload()) == event


# -- Status --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state", True),
        ("state", "ONLINE"),
        ("state", None),
        ("ts", 1764000000),
        ("ts", "2026-11-22T15:00:00"),
        ("version", 1),
        ("version", 0.1),
        ("version", ["0.1.0"]),
        ("version", "x" * 101),
    ],
)
def test_status_field_of_the_wrong_type_is_rejected_naming_the_field(field: str, value: Any) -> None:
    body = {"state": "online", "ts": "2026-11-22T15:00:00Z", "version": "0.1.0", field: value}
    error = reason_of(decode_status, encode(body))
    assert error.reason == "schema"
    assert error.detail.startswith(field), error.detail


@pytest.mark.parametrize(
    "body",
    [
        {"state": "online", "ts": "2026-11-22T15:00:00Z", "version": "0.1.0"},
        {"state": "online", "ts": None, "version": None},
        {"state": "offline"},
    ],
)
def test_status_of_the_right_types_is_accepted(body: dict[str, Any]) -> None:
    assert decode_status(encode(body)).state == body["state"]


def test_the_edge_status_payloads_validate() -> None:
    online = Status(state="online", ts=utc_now(), version="0.1.0")
    assert decode_status(online.model_dump_json(exclude_none=True).encode()) == online
    assert decode_status(OFFLINE_WILL).state == "offline"


# -- Health --------------------------------------------------------------------------------

GOOD_HEALTH: dict[str, Any] = {
    "ts": "2026-11-22T22:10:00Z",
    "version": "0.1.0",
    "uptime_s": 86400.5,
    "load": [0.12, 0.3, 1],
    "cpu_temp_c": 51.5,
    "throttle": {"raw": "0x50005", "under_voltage": True, "freq_capped": False},
    "disk": {"path": "/var/lib/poskamling", "free_bytes": 10**12, "total_bytes": 2 * 10**12, "free_pct": 50.0},
    "clock_synced": True,
    "outbox": {"depth": 3, "drops": 0},
    "cameras": {"gate": 4.9, "lane": None, "yard": 0},
}

HEALTH_WRONG = [
    ("ts", 1764000000),
    ("ts", "2026-11-22T22:10:00"),
    ("version", 1),
    ("uptime_s", "86400"),
    ("uptime_s", True),
    ("uptime_s", -1),
    ("load", 0.5),
    ("load", ["0.5"]),
    ("load", [False]),
    ("load", [0.1, 0.2, 0.3, 0.4]),
    ("cpu_temp_c", "51.5"),
    ("cpu_temp_c", True),
    ("cpu_temp_c", {"value": 51}),
    ("throttle", "0x50005"),
    ("throttle", {"under_voltage": 1}),
    ("throttle", {"raw": 5}),
    ("disk", "full"),
    ("disk", {"free_bytes": "10"}),
    ("disk", {"free_bytes": 1.5}),
    ("disk", {"free_bytes": -1}),
    ("disk", {"total_bytes": True}),
    ("disk", {"free_pct": "50"}),
    ("disk", {"free_pct": 101}),
    ("disk", {"path": 7}),
    ("clock_synced", "true"),
    ("clock_synced", 1),
    ("outbox", {"depth": "3"}),
    ("outbox", {"drops": True}),
    ("outbox", {"drops": -2}),
    ("cameras", ["gate"]),
    ("cameras", {"gate": "4.9"}),
    ("cameras", {"gate": True}),
]


@pytest.mark.parametrize(("field", "value"), HEALTH_WRONG)
def test_health_field_of_the_wrong_type_is_rejected_naming_the_field(field: str, value: Any) -> None:
    error = reason_of(decode_health, encode(GOOD_HEALTH | {field: value}))
    assert error.reason == "schema"
    assert error.detail.startswith(field), error.detail


@pytest.mark.parametrize("field", sorted(GOOD_HEALTH))
def test_each_health_reading_may_be_null_or_missing(field: str) -> None:
    assert decode_health(encode(GOOD_HEALTH | {field: None}))[field] is None
    missing = {k: v for k, v in GOOD_HEALTH.items() if k != field}
    assert decode_health(encode(missing)) == missing


def test_health_fields_this_hub_does_not_know_are_kept_not_refused() -> None:
    """A post updated before its hub keeps reporting health; unknown fields are still bounded."""
    newer = GOOD_HEALTH | {"surprise": 1, "disk": {"free_bytes": 10, "mount": "/"}, "outbox": {"queued": 1}}
    assert decode_health(encode(newer)) == newer
    assert reason_of(decode_health, encode(GOOD_HEALTH | {"surprise": float("nan")})).reason == "bad_json"
    assert reason_of(decode_health, encode(GOOD_HEALTH | {"surprise": "\ud800"})).reason == "bad_unicode"


def test_health_is_returned_as_received() -> None:
    assert decode_health(encode(GOOD_HEALTH)) == GOOD_HEALTH
    assert decode_health(b"{}") == {}
    assert reason_of(decode_health, b"[]").reason == "schema"


def test_the_edge_health_payload_validates(tmp_path: Path) -> None:
    thermal, uptime, loadavg = tmp_path / "temp", tmp_path / "uptime", tmp_path / "loadavg"
    thermal.write_text("51500\n")
    uptime.write_text("1234.5 4000.0\n")
    loadavg.write_text("0.12 0.30 0.25 1/123 4567\n")
    probe = HostProbe(
        thermal_path=thermal,
        uptime_path=uptime,
        loadavg_path=loadavg,
        throttled_command=("vcgencmd", "get_throttled"),
        run=lambda _argv: "throttled=0x50005\n",
        clock_synced=lambda: True,
        version=lambda: "0.1.0",
    )
    payload = build_health(
        data_dir=tmp_path, outbox_depth=3, outbox_drops=1, camera_fps={"gate": 4.98, "lane": None}, probe=probe
    )
    assert decode_health(json.dumps(payload).encode()) == payload
    missing = tmp_path / "none"
    nothing = HostProbe(
        thermal_path=missing,
        uptime_path=missing,
        loadavg_path=missing,
        throttled_command=None,
        clock_synced=lambda: None,
        version=lambda: "0.1.0",
    )
    bare = build_health(data_dir=missing, probe=nothing)  # every host reading null
    assert decode_health(json.dumps(bare).encode()) == bare


def test_the_edge_outbox_payloads_validate(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite", DEVICE)
    box.open()
    try:
        made = [
            box.add(EventKind.PANIC, {"source": "button"}),
            box.add(EventKind.MOTION, {"camera": "gate", "boxes": [[1, 2, 3, 4]], "area": 0.5}, test=True),
            box.add(EventKind.CAMERA, {"state": "lost"}, ts=datetime(2026, 11, 22, 22, tzinfo=WIB)),
        ]
        for pending, event in zip(box.pending(), made, strict=True):
            assert decode_event(DEVICE, pending.payload) == event
    finally:
        box.close()


# -- Hub -> edge models: the edge gets strict types as well -----------------------------------


def test_hub_to_edge_payloads_are_strict() -> None:
    assert decode_ack(b'{"ids": ["a", "b"]}').ids == ["a", "b"]
    assert reason_of(decode_ack, b'{"ids": [1]}').detail.startswith("ids.0")
    update = AlertUpdate(alert_id="A1", state=AlertState.NOTIFIED, kind=EventKind.PANIC, ts=utc_now())
    assert decode_alert_update(update.model_dump_json().encode()) == update
    body = update.model_dump(mode="json")
    for field, value in (("alert_id", 1), ("state", True), ("ts", 1764000000), ("by", 5), ("message", ["x"])):
        assert reason_of(decode_alert_update, encode(body | {field: value})).detail.startswith(field)
    command = command_body(args={"n": 1})
    assert decode_command(encode(command)).args == {"n": 1}
    for field, value in (
        ("name", 1),
        ("name", "format_disk"),
        ("args", []),
        ("id", "not-a-ulid"),
        ("id", 7),
        ("issued_at", 1764000000),
        ("expires_at", "2026-11-22T15:00:00"),  # naive
    ):
        assert reason_of(decode_command, encode(command | {field: value})).detail.startswith(field)
    for missing in ("id", "issued_at", "expires_at"):  # a command without them cannot be matched or expired
        assert reason_of(decode_command, encode({k: v for k, v in command.items() if k != missing})).reason == "schema"


def command_body(**overrides: Any) -> dict[str, Any]:
    return {
        "id": new_event_id(),
        "name": "ping",
        "args": {},
        "issued_at": "2026-11-22T15:00:00Z",
        "expires_at": "2026-11-22T15:02:00+07:00",
    } | overrides


def test_replies_are_strict_and_small() -> None:
    body = {"id": new_event_id(), "name": "ping", "outcome": "done", "details": {}}
    assert decode_reply(encode(body)).outcome == "done"
    assert decode_reply(encode({"id": body["id"], "outcome": "unknown"})).name is None
    for field, value in (("id", "x"), ("outcome", "ok"), ("outcome", True), ("details", []), ("name", 5)):
        assert reason_of(decode_reply, encode(body | {field: value})).detail.startswith(field)
    assert reason_of(decode_reply, encode(body | {"extra": 1})).reason == "schema"
    assert reason_of(decode_reply, encode(body | {"details": {"pad": "x" * 5000}})).reason == "too_large"
    assert reason_of(decode_reply, encode(body | {"details": {"x": "\ud800"}})).reason == "bad_unicode"


# -- Unicode ---------------------------------------------------------------------------------

BAD_UNICODE = [
    encode(event_body(data={"note": "\ud800"})),  # lone high surrogate
    encode(event_body(data={"note": "ok \udfff"})),  # lone low surrogate
    encode(event_body(data={"note": "\ude00\ud83d"})),  # a pair in the wrong order
    encode(event_body(data={"\ud800": 1})),  # in a key
    encode(event_body(data={"boxes": [[1, "\ud800"]]})),  # deep in a list
    encode(event_body(data={"note": "a\x00b"})),  # NUL
    encode(event_body(data={"a\x00": 1})),
    encode(event_body(id="\ud800")),  # in a typed field: caught before the type check
    encode({**event_body(), "x\ud800": 1}),  # an unknown key
]


@pytest.mark.parametrize("payload", BAD_UNICODE)
def test_lone_surrogates_and_nul_are_rejected_anywhere_in_an_event(payload: bytes) -> None:
    assert b"\\u" in payload  # valid JSON text: the escapes are what decodes to bad strings
    json.loads(payload)
    assert reason_of(decode_own_event, payload).reason == "bad_unicode"


@pytest.mark.parametrize(
    ("decode", "payload"),
    [
        (decode_health, encode(GOOD_HEALTH | {"version": "\ud800"})),
        (decode_health, encode(GOOD_HEALTH | {"cameras": {"\udc00": 1.0}})),
        (decode_health, encode(GOOD_HEALTH | {"disk": {"path": "/a\x00b"}})),
        (decode_health, b'{"\\ud800": 1}'),  # even a key the schema would reject anyway
        (decode_status, encode({"state": "online", "version": "\ud800"})),
        (decode_command, encode(command_body(args={"x": ["\udbff"]}))),
        (decode_ack, encode({"ids": ["\ud800"]})),
    ],
)
def test_lone_surrogates_and_nul_are_rejected_on_every_channel(decode: Callable[[bytes], Any], payload: bytes) -> None:
    assert reason_of(decode, payload).reason == "bad_unicode"


def test_the_bad_unicode_detail_is_printable() -> None:
    error = reason_of(decode_own_event, encode(event_body(data={"\ud800\n": 1})))
    error.detail.encode("ascii")  # safe for any log line
    assert "\n" not in error.detail


def test_real_unicode_is_accepted() -> None:
    text = "Pos Ronda \U0001f6a8 \u00e9\u00e8 \u4e2d\u6587 \ufeff\ufffd\ud7ff\ue000"
    escaped = encode(event_body(data={"note": text, text: 1}))
    raw = json.dumps(event_body(data={"note": text}), ensure_ascii=False).encode()
    for payload in (escaped, raw):
        assert decode_own_event(payload).data["note"] == text
    pair = (
        b'{"id": "01M82NJF84EP67WZEG7NY1XHM3", "device": "pos-1", "seq": 1, "kind": "panic", '
        b'"ts": "2026-11-22T15:00:00Z", "data": {"note": "\\ud83d\\udea8"}}'
    )
    assert decode_own_event(pair).data["note"] == "\U0001f6a8"  # an escaped surrogate pair is one character


@pytest.mark.parametrize(
    "payload",
    [
        b'{"note": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes: not UTF-8
        '{"state": "online"}'.encode("utf-16"),  # json.loads(bytes) would take UTF-16; the wire is UTF-8
        '{"state": "online"}'.encode("utf-8-sig"),
        b'{"state": "online", "version": "\x00"}',  # a raw control character inside a string
    ],
)
def test_text_that_is_not_plain_utf8_json_is_bad_json(payload: bytes) -> None:
    assert reason_of(decode_status, payload).reason == "bad_json"


# -- Numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(literal: bytes) -> None:
    for payload in (
        b'{"cpu_temp_c": ' + literal + b"}",
        b'{"cameras": {"gate": ' + literal + b"}}",
        b'{"state": "online", "x": [' + literal + b"]}",
    ):
        assert reason_of(decode_health if b"state" not in payload else decode_status, payload).reason == "bad_json"
    body = encode(event_body()).replace(b'"seq": 1', b'"seq": ' + literal)
    assert reason_of(decode_own_event, body).reason == "bad_json"


@pytest.mark.parametrize(
    ("literal", "field"),
    [
        (b"1e400", "cpu_temp_c"),  # json.loads makes this inf
        (b"-1e400", "cpu_temp_c"),
        (b"1e308", "uptime_s"),
        (str(float(MAX_SAFE_INTEGER) * 2).encode(), "uptime_s"),
        (str(MAX_SAFE_INTEGER + 1).encode(), "uptime_s"),
        (str(-MAX_SAFE_INTEGER - 1).encode(), "cpu_temp_c"),
        (b"1" * 5000, "uptime_s"),  # past Python's 4300-digit int() limit: must not raise ValueError
        (b"-" + b"9" * 30, "cpu_temp_c"),
    ],
)
def test_numbers_beyond_the_safe_range_are_rejected_naming_the_field(literal: bytes, field: str) -> None:
    error = reason_of(decode_health, b'{"' + field.encode() + b'": ' + literal + b"}")
    assert error.reason == "schema"
    assert error.detail.startswith(field), error.detail


def test_numbers_at_the_edge_of_the_safe_range_are_accepted() -> None:
    for value in (MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0, -0.0, 1e-300, float(MAX_SAFE_INTEGER)):
        assert decode_own_event(encode(event_body(data={"n": value}))).data["n"] == value
    assert decode_own_event(encode(event_body(seq=MAX_SAFE_INTEGER))).seq == MAX_SAFE_INTEGER


@pytest.mark.parametrize("seq", [MAX_SAFE_INTEGER + 1, 10**30, 10**400, -(10**30)])
def test_huge_seq_is_rejected_naming_seq(seq: int) -> None:
    error = reason_of(decode_own_event, encode(event_body(seq=seq)))
    assert (error.reason, error.detail.split(":")[0]) == ("schema", "seq")


def test_huge_numbers_deep_in_free_form_data_name_their_path() -> None:
    error = reason_of(decode_own_event, encode(event_body(data={"boxes": [[1, 2, 10**20]]})))
    assert (error.reason, error.detail.split(":")[0]) == ("schema", "data.boxes.0.2")


# -- Structure -------------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_nesting_up_to_max_depth_is_accepted_and_deeper_is_too_deep() -> None:
    # the event object itself is level 1 and `data` level 2
    assert decode_own_event(encode(event_body(data=nested(MAX_DEPTH - 1))))
    assert reason_of(decode_own_event, encode(event_body(data=nested(MAX_DEPTH)))).reason == "too_deep"
    assert reason_of(decode_health, encode({"cameras": nested(MAX_DEPTH)})).reason == "too_deep"


def test_nesting_past_the_parsers_recursion_limit_is_too_deep() -> None:
    payload = b"[" * (MAX_EVENT_BYTES // 2) + b"]" * (MAX_EVENT_BYTES // 2)
    assert len(payload) <= MAX_EVENT_BYTES
    for decode in (decode_own_event, decode_status, decode_health, decode_ack, decode_alert_update, decode_command):
        assert reason_of(decode, payload).reason == "too_deep"
    assert reason_of(decode_reply, payload).reason == "too_large"  # a reply is at most 4 KiB


def test_duplicate_keys_are_rejected() -> None:
    body = encode(event_body(test=True))[:-1] + b', "test": false}'
    error = reason_of(decode_own_event, body)
    assert error.reason == "bad_json" and "test" in error.detail
    assert reason_of(decode_health, b'{"disk": {"free_pct": 1, "free_pct": 2}}').reason == "bad_json"


# -- Timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ts",
    [
        "1899-12-31T23:59:59Z",
        "1900-01-01T00:30:00+01:00",  # 1899 in UTC
        "2200-01-01T00:00:00Z",
        "2199-12-31T23:00:00-01:00",  # 2200 in UTC
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC: must not raise OverflowError
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "2026-11-22T15:00:00+24:00",
        "2026-11-22T24:00:01Z",
        "2026-13-01T00:00:00Z",
        "2026-11-22T15:00:60Z",
        "\u0662\u0660\u0662\u0666-11-22T15:00:00Z",  # Arabic-Indic digits: \\d would match them
    ],
)
def test_timestamps_outside_the_representable_window_are_rejected_naming_ts(ts: str) -> None:
    error = reason_of(decode_own_event, encode(event_body(ts=ts)))
    assert (error.reason, error.detail.split(":")[0]) == ("schema", "ts")
    assert reason_of(decode_health, encode({"ts": ts})).detail.startswith("ts")
    assert reason_of(decode_status, encode({"state": "online", "ts": ts})).detail.startswith("ts")


@pytest.mark.parametrize(
    ("ts", "utc"),
    [
        ("1900-01-01T00:00:00Z", TS_MIN),
        ("1901-12-13T20:45:52Z", datetime(1901, 12, 13, 20, 45, 52, tzinfo=UTC)),  # a wrapped 32-bit time_t
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),  # a Pi that lost its clock
        ("2199-12-31T23:59:59.999999Z", TS_MAX - timedelta(microseconds=1)),
        ("2026-11-22T22:00:00+07:00", datetime(2026, 11, 22, 15, tzinfo=UTC)),
        ("2026-11-22T15:00:00.123456789Z", datetime(2026, 11, 22, 15, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_timestamps_inside_the_window_are_accepted_in_utc(ts: str, utc: datetime) -> None:
    event = decode_own_event(encode(event_body(ts=ts)))
    assert event.ts == utc and event.ts.utcoffset() == timedelta(0)
    event.ts + timedelta(days=3650)  # arithmetic the hub may do cannot overflow
    event.ts - timedelta(days=3650)


def test_a_panic_from_a_post_with_a_wrong_clock_is_accepted_and_flagged() -> None:
    received = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
    event = decode_own_event(encode(event_body(ts="1970-01-01T00:00:00Z")))
    assert event.kind is EventKind.PANIC and not event.test
    skew = clock_skew(event.ts, received)
    assert skew is not None and skew < -CLOCK_BEHIND_LIMIT
    ahead = decode_own_event(encode(event_body(ts="2199-01-01T00:00:00Z")))
    assert clock_skew(ahead.ts, received) == ahead.ts - received


# -- Clock skew window -------------------------------------------------------------------------

RECEIVED = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("offset", "flagged"),
    [
        (timedelta(0), False),
        (CLOCK_AHEAD_LIMIT, False),
        (CLOCK_AHEAD_LIMIT + TICK, True),
        (timedelta(days=3650), True),
        (-CLOCK_BEHIND_LIMIT, False),
        (-CLOCK_BEHIND_LIMIT - TICK, True),
        (-timedelta(days=30), False),
        (TS_MIN - RECEIVED, True),
        (TS_MAX - TICK - RECEIVED, True),
    ],
)
def test_clock_skew_window_edges(offset: timedelta, flagged: bool) -> None:
    skew = clock_skew(RECEIVED + offset, RECEIVED)
    assert skew == (offset if flagged else None)


def test_clock_skew_window_is_one_day_ahead_one_year_behind() -> None:
    assert timedelta(days=1) == CLOCK_AHEAD_LIMIT
    assert timedelta(days=365) == CLOCK_BEHIND_LIMIT


def test_clock_skew_compares_instants_not_wall_clocks() -> None:
    assert clock_skew(RECEIVED.astimezone(WIB) + timedelta(hours=23), RECEIVED) is None
    assert clock_skew(RECEIVED.replace(tzinfo=WIB) + timedelta(days=2), RECEIVED) == timedelta(days=2, hours=-7)


def test_clock_skew_needs_aware_datetimes() -> None:
    with pytest.raises(ValueError):
        clock_skew(datetime(2026, 11, 22), RECEIVED)
    with pytest.raises(ValueError):
        clock_skew(RECEIVED, datetime(2026, 11, 22))


# -- Property: whatever arrives, the only exception is ProtocolError ---------------------------

_odd_strings = st.sampled_from(["\ud800", "\udfff", "\x00", "a\ud83d", "\ud83d\ude00", "", "\n", "\u2028", "1", "true"])
_text = st.text(max_size=12) | _odd_strings | st.text(st.characters(exclude_categories=()), max_size=6)
_numbers = (
    st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1, 10**30, -(10**400)])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e308, -1e308, 5e-324, -0.0])
)
_timestamps = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()).map(
        lambda d: d.isoformat()
    ),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-11-22T15:00:00", "1764000000"]),
)
_scalars = st.none() | st.booleans() | _numbers | _text | _timestamps
_json = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=20,
)
_event_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.just("01M82NJF84EP67WZEG7NY1XHM3") | _json,
        "device": st.just(DEVICE) | _json,
        "seq": _numbers | _json,
        "kind": st.sampled_from([k.value for k in EventKind]) | _json,
        "ts": _timestamps | _json,
        "data": _json,
        "test": st.booleans() | _json,
        "extra": _json,
    },
)
_health_like = st.fixed_dictionaries(
    {},
    optional={
        **{field: _json for field in GOOD_HEALTH},
        "ts": _timestamps,
        "cameras": st.dictionaries(_text, _numbers | st.none(), max_size=3),
        "disk": st.fixed_dictionaries({}, optional={"free_bytes": _numbers, "free_pct": _numbers, "path": _text}),
    },
)


def _serialise(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


_payloads = st.one_of(
    st.binary(max_size=200),
    _json.map(_serialise),
    _event_like.map(_serialise),
    _health_like.map(_serialise),
    st.integers(min_value=0, max_value=3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=0, max_value=3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
)

REASONS = {"bad_json", "bad_unicode", "too_large", "too_deep", "schema", "device_mismatch", "not_jpeg"}
DECODERS: list[Callable[[bytes], Any]] = [
    decode_own_event,
    decode_status,
    decode_health,
    decode_ack,
    decode_alert_update,
    decode_command,
    decode_reply,
    check_snapshot,
]


def _output_is_safe(result: Any) -> None:
    """What passes must serialise as strict UTF-8 JSON and survive the hub's date arithmetic."""
    if isinstance(result, bytes):
        return
    if hasattr(result, "model_dump_json"):
        result.model_dump_json().encode("utf-8")
        dumped = result.model_dump(mode="json")
        ts = getattr(result, "ts", None)
        if ts is not None:
            assert ts.utcoffset() == timedelta(0) and TS_MIN <= ts < TS_MAX
            clock_skew(ts, utc_now())
    else:
        dumped = result
    json.dumps(dumped, allow_nan=False, ensure_ascii=False).encode("utf-8")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=_payloads)
def test_decoders_raise_only_protocol_error(payload: bytes) -> None:
    for decode in DECODERS:
        try:
            result = decode(payload)
        except ProtocolError as exc:
            assert exc.reason in REASONS
            exc.detail.encode("utf-8")  # a rejection can always be logged
            continue
        _output_is_safe(result)


@settings(max_examples=300, deadline=None)
@given(body=_event_like, flip=st.sampled_from(list(event_body())))
def test_event_like_payloads_raise_only_protocol_error(body: dict[str, Any], flip: str) -> None:
    full = event_body() | body
    for payload in (_serialise(full), _serialise({k: v for k, v in full.items() if k != flip})):
        try:
            event = decode_own_event(payload)
        except ProtocolError:
            continue
        _output_is_safe(event)
        assert type(event.seq) is int and type(event.test) is bool and 1 <= event.seq <= MAX_SAFE_INTEGER
