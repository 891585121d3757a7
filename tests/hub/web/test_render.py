"""hub/web/render.py: any value renders (text, time, JSON, template output) without raising (issue 18)."""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from hub.alerting.reports import to_csv
from hub.i18n import text
from hub.web.render import (
    BAD_VALUE_JSON,
    MAX_DEPTH,
    display_text,
    finalize,
    format_time,
    json_safe,
    json_text,
    make_environment,
)
from hub.web.views import camera_state, event_view

HUGE = 10**5000  # str() refuses it (Python's 4300-digit limit)


def nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for level in range(depth):
        value = {"d": value} if level % 2 else [value]
    return value


def strict_json(value: Any) -> bytes:
    """What Starlette's JSONResponse does, plus a strict parse back: no NaN, valid UTF-8."""
    body = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    json.loads(body, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    return body


hostile_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=4),
    st.sampled_from(["\ud800", "a\udfffb", "\x00", "\u202eevil", "<script>alert(1)</script>", '=HYPERLINK("x")']),
)
hostile_number = st.one_of(
    st.integers(),
    st.sampled_from([2**53, -(2**53), 2**63, 10**300]),
    st.booleans().map(lambda negative: -HUGE if negative else HUGE),  # mapped: hypothesis cannot repr it either
    st.floats(allow_nan=True, allow_infinity=True),
)
hostile_scalar = st.one_of(
    st.none(), st.booleans(), hostile_number, hostile_text, st.datetimes(timezones=st.just(UTC)), st.dates()
)
hostile_value = st.recursive(
    hostile_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(hostile_text, st.integers(), st.none()), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(hostile_value)
def test_json_safe_always_encodes_as_strict_utf8_json(value: Any) -> None:
    strict_json(json_safe(value))
    json.loads(json_text(value))


def _through_general_branches(value: Any) -> Any:
    """The same value with every dict a MappingProxyType and every str a str subclass: json_safe's
    general branches, not its fast paths for plain dicts and strings."""
    if type(value) is dict:
        return MappingProxyType({_through_general_branches(k): _through_general_branches(v) for k, v in value.items()})
    if type(value) is list:
        return tuple(_through_general_branches(item) for item in value)
    if type(value) is str:
        return _Text(value)
    return value


class _Text(str):
    pass


@settings(max_examples=300, deadline=None)
@given(hostile_value, st.sampled_from([None, 3, 200, 64 * 1024]))
def test_json_safe_fast_paths_give_what_the_general_branches_give(value: Any, limit: int | None) -> None:
    expected = json_safe(_through_general_branches(value), text_limit=limit)
    assert json.dumps(json_safe(value, text_limit=limit)) == json.dumps(expected)


def test_json_safe_cuts_long_keys_and_strings_on_the_fast_path_too() -> None:
    view = json_safe({"k" * 300: "v" * 70_000, "\ud800": "\udfff"})
    keys = list(view)
    assert len(keys[0]) <= 200 and keys[0].endswith("(+112)") and keys[1] == "\ufffd"
    assert len(view[keys[0]]) <= 64 * 1024 and view["\ufffd"] == "\ufffd"


def test_json_safe_keeps_clean_values_and_marks_the_rest() -> None:
    clean = {"a": [1, 2.5, None, True, "teks"], "b": {"c": -(2**53 - 1)}}
    assert json_safe(clean) == clean
    assert json_safe({"x": math.nan, "y": math.inf, "z": -math.inf}) == {"x": None, "y": None, "z": None}
    assert json_safe("a\ud800b") == "a\ufffdb"
    assert json_safe(2**53) == str(2**53)  # a browser would round it
    assert json_safe(HUGE) == BAD_VALUE_JSON
    assert json_safe({1: "a", None: "b"}) == {"1": "a", "None": "b"}
    assert json_safe(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00+00:00"
    assert json_safe("x" * 100_000).endswith(")") and len(json_safe("x" * 100_000)) < 70_000


def test_json_safe_cuts_nesting_deeper_than_any_encoder_can_follow() -> None:
    deep = nested(sys.getrecursionlimit() * 3)
    safe = json_safe(deep)
    strict_json(safe)
    assert BAD_VALUE_JSON in json.dumps(safe, ensure_ascii=False)
    assert json_safe(nested(MAX_DEPTH - 1)) == nested(MAX_DEPTH - 1)  # the wire's 16 levels stay whole


@settings(max_examples=300, deadline=None)
@given(st.one_of(hostile_value, st.datetimes(timezones=st.timezones()), st.datetimes()))
def test_format_time_never_raises(value: Any) -> None:
    text = format_time(value, "Asia/Jakarta", "en")
    str(text).encode("utf-8")


def test_format_time_shows_good_times_and_marks_bad_ones() -> None:
    assert format_time("2026-11-22T15:10:05+00:00", "Asia/Jakarta") == "22-11-2026 22:10:05 WIB"
    assert format_time(datetime(2026, 11, 22, 15, 10, 5, tzinfo=UTC), "Asia/Makassar") == "22-11-2026 23:10:05 WITA"
    assert format_time(None, "Asia/Jakarta") == "-" and format_time("", "Asia/Jakarta") == "-"
    for bad in ("9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+05:00", "kemarin", "\ud800", 12345):
        shown = format_time(bad, "Asia/Jakarta", "id")
        assert isinstance(shown, Markup) and text("bad_value", "id") in shown, bad
        shown.encode("utf-8")
    assert "&lt;b&gt;" in format_time("<b>", "Asia/Jakarta", "en")  # the raw value, escaped
    # year 1 at UTC still converts (Jakarta is east of UTC): shown as a time, not marked
    assert format_time("0001-01-01T00:00:00+00:00", "Asia/Jakarta").startswith("01-01-0001 07:")
    assert format_time(datetime(2026, 1, 1), "Asia/Jakarta") == "01-01-2026 07:00:00 WIB"  # naive: read as UTC


@settings(max_examples=300, deadline=None)
@given(hostile_value)
def test_display_text_and_finalize_never_raise(value: Any) -> None:
    display_text(value).encode("utf-8")
    out = finalize(value)
    str(out).encode("utf-8")


def test_display_text_cuts_and_hides_control_characters() -> None:
    assert display_text("x" * 1000, 50).endswith("(+962)") and len(display_text("x" * 1000, 50)) < 60
    assert display_text("\u202eRW 01\x1b[2J") == "\ufffdRW 01\ufffd[2J"
    assert display_text(HUGE, lang="en") == text("bad_value", "en")


def test_templates_escape_everything_and_survive_any_value() -> None:
    env = make_environment(__import__("pathlib").Path("."))
    template = env.from_string('<p title="{{ v }}">{{ v }}</p>{{ v | show }}')
    for value in ('<script>alert("x")</script>', "\ud800", HUGE, math.nan, nested(50), {"\udc80": 1}):
        html = template.render(v=value)
        html.encode("utf-8")
        assert "<script>" not in html
    assert "&lt;script&gt;" in template.render(v="<script>")
    assert "&#34;" in template.render(v='"') or "&quot;" in template.render(v='"')


def test_camera_state_and_event_view_take_anything() -> None:
    assert camera_state({"camera": {"state": "lost"}}) == "lost"
    assert camera_state({"camera": HUGE}) == BAD_VALUE_JSON
    assert camera_state({"camera": {"state": "\ud800"}}) == "\ufffd"
    assert camera_state("not a dict") is None
    view = event_view(["not", "an", "object"])
    assert view["id"] is None and view["error"] == BAD_VALUE_JSON
    view = event_view({"id": "x", "ts": "9999-12-31T23:59:59+00:00", "data": {"n": math.nan}, "extra": "\ud800"})
    assert view["data"] == {"n": None} and view["extra"] == "\ufffd" and view["seq"] is None
    strict_json(view)


def test_times_near_the_edges_of_the_calendar() -> None:
    far = datetime.max.replace(tzinfo=timezone(timedelta(hours=-12)))
    assert text("bad_value", "en") in format_time(far, "Asia/Jakarta", "en")
    assert text("bad_value", "id") in format_time(
        datetime.min.replace(tzinfo=timezone(timedelta(hours=14))), "Asia/Jakarta"
    )


def test_csv_cells_cannot_run_as_formulas_or_break_the_encoding() -> None:
    text = to_csv([{"a": "=1+1", "b": "  @SUM(A1)", "c": "x\ud800", "d": math.nan, "e": HUGE, "f": "\uff1d1", "g": -5}])
    text.encode("utf-8")
    _header, row = text.splitlines()
    assert row.split(",") == ["'=1+1", "'  @SUM(A1)", "x\ufffd", "", "'#too-large", "'\uff1d1", "-5"]
