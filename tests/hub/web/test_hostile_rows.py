"""Every view renders every stored value (issue 18): bad rows put straight into the real hub's
stores (as an older hub, a hand edit or a broken locale could leave them) are shown escaped or
marked on every page, in the API, the CSV reports and the live stream; nothing answers 500."""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hub.alerting.rules import Alert, AlertKind, Severity, TimelineEntry
from kamling.protocol import AlertState, new_event_id
from tests.hub.web.test_dashboard import login
from tests.support import post_entry, wait_for

pytestmark = pytest.mark.e2e

EVIL_NAME = '<script>alert("pos")</script> =HYPERLINK("http://evil.example")'  # settings refuse surrogates
HUGE = 10**5000
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = {"d": value} if level % 2 else [value]
    return value


def record(**fields: Any) -> dict[str, Any]:
    base = {
        "id": new_event_id(),
        "device": "pos-evil",
        "seq": 1,
        "kind": "panic",
        "ts": NOW.isoformat(),
        "data": {},
        "test": False,
        "received_at": NOW.isoformat(),
    }
    return base | fields


BAD_RECORDS = [
    record(ts="0001-01-01T00:00:00+05:00"),  # before year 1 in UTC
    record(ts="9999-12-31T23:59:59+00:00"),  # after year 9999 in Jakarta
    record(ts="not a time"),
    record(ts="2026-11-22T15:00:00"),  # no zone
    record(ts=None),
    record(ts=12345),
    record(data={"s": "\ud800", "nan": math.nan, "inf": -math.inf, "big": 10**300, "deep": nested(200)}),
    record(data={"html": "<img src=x onerror=alert(1)>", "rtl": "\u202egnp.exe", "long": "x" * 20_000}),
    record(data=["not", "an", "object"]),
    record(data="\udc80 plain text"),
    record(kind="<b>bogus</b>", seq="7"),
    record(device="pos-evil", seq=2**60, test="yes", extra={"\udfff": [math.nan]}),
]
BAD_HEALTH = {
    "cpu_temp_c": math.nan,
    "load": [math.inf, -math.inf, 10**300, HUGE],
    "version": "\ud800" * 3,
    "camera": {"state": '\udc80<script>alert("cam")</script>'},
    1: "a key that is no string",
    "deep": nested(3000),
}


def hostile_alert(device: str) -> Alert:
    opened = datetime(2026, 11, 22, 15, 0)  # naive: from a file written by hand
    return Alert(
        id=new_event_id(),
        device=device,
        kind=AlertKind.PANIC,
        severity=Severity.CRITICAL,
        state=AlertState.NEW,
        opened_at=opened,
        updated_at=opened,
        timeline=(
            TimelineEntry(datetime.max.replace(tzinfo=UTC), "opened", "\ud800", '<script>alert("t")</script>'),
            TimelineEntry(NOW, "<i>odd action</i>", None, "x" * 50_000),
        ),
        paged=("=cmd|' /C calc'!A0", "\udcff"),
        note="\ud800 note",
        details={"n": math.nan, "deep": nested(2500), "big": HUGE, 7: "int key"},
    )


@pytest.fixture
def hub(make_hub):  # type: ignore[no-untyped-def]
    harness = make_hub([post_entry("pos-evil", EVIL_NAME, "=1+1"), post_entry("pos-good", "Pos Baik")])
    service = harness.service
    deep = next(r for r in BAD_RECORDS if isinstance(r["data"], dict) and "deep" in r["data"])
    shallow = deep | {"data": deep["data"] | {"deep": nested(100)}}  # JSON encoders stop near 1000 levels
    stored = 0
    for bad in [r for r in BAD_RECORDS if r is not deep] + [shallow]:
        try:
            service.store.append([bad])
            stored += 1
        except Exception:  # the store may refuse what no event can hold (the SQL store: a non-integer seq, a surrogate)
            pass
    assert stored >= 8, "the store took too few bad rows for the test to mean anything"
    harness.stored_events = stored
    service.registry.set_health("pos-evil", BAD_HEALTH, NOW)
    service.registry.set_status("pos-evil", True, NOW, "\udc80v1")
    alert = hostile_alert("pos-evil")
    service.alerts._alerts[alert.id] = alert  # as loaded from an old alerts file (the store's encoder refuses NaN)
    harness.extra_alert = alert.id
    return harness


def strict(body: bytes) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} in a JSON response")

    return json.loads(body.decode("utf-8"), parse_constant=refuse)


def test_api_answers_strict_json_for_every_bad_row(hub) -> None:  # type: ignore[no-untyped-def]
    api = hub.client("viewer")
    events = strict(api.get("/api/events", params={"limit": 1000}).content)
    assert events["total"] == hub.stored_events
    assert "NaN" not in json.dumps(events, ensure_ascii=False)
    posts = strict(api.get("/api/posts").content)
    evil = next(p for p in posts if p["device_id"] == "pos-evil")
    assert evil["health"]["cpu_temp_c"] is None and evil["health"]["1"] == "a key that is no string"
    assert evil["camera"].startswith("\ufffd<script>")  # JSON carries the text; pages escape it
    alerts = strict(api.get("/api/alerts").content)
    assert hub.extra_alert in [a["id"] for a in alerts]
    one = strict(api.get(f"/api/alerts/{hub.extra_alert}").content)
    assert one["details"]["n"] is None and one["note"] == "\ufffd note"
    for since in ("2026-01-01T00:00:00+07:00", "0001-01-01T00:00:00+00:00"):
        assert api.get("/api/events", params={"since": since}).status_code == 200
    strict(api.get("/api/reports", params={"include_tests": "true"}).content)


def test_pages_show_bad_rows_escaped_or_marked(hub) -> None:  # type: ignore[no-untyped-def]
    client, _ = login(hub, "viewer1", "viewer")
    for lang, marker in (("id", "⚠ nilai rusak"), ("en", "⚠ bad value")):
        page = client.get("/events", params={"lang": lang})
        assert page.status_code == 200
        assert marker in page.text
        assert "<script>" not in page.text and "<img src=x" not in page.text and "<b>bogus" not in page.text
        assert page.text.count("data-event-id=") == hub.stored_events
    detail = f"/alerts/{hub.extra_alert}"
    for path in ("/posts", "/posts?fragment=1", detail, f"{detail}?fragment=1", "/"):
        page = client.get(path)
        assert page.status_code == 200, path
        page.content.decode("utf-8")
        assert '<script>alert("' not in page.text and "<i>odd" not in page.text, path
    posts = client.get("/posts").text
    assert "&lt;script&gt;alert(&#34;pos&#34;)&lt;/script&gt;" in posts and "&lt;script&gt;alert(&#34;cam" in posts
    detail = client.get(f"/alerts/{hub.extra_alert}", params={"lang": "id"}).text
    assert "⚠ nilai rusak" in detail  # the timeline time past year 9999 in Jakarta


def test_csv_reports_are_safe_to_open(hub) -> None:  # type: ignore[no-untyped-def]
    api = hub.client("viewer")
    for section in ("alerts", "per_post", "per_village", "weekly"):
        response = api.get(f"/api/reports/{section}.csv", params={"include_tests": "true"})
        assert response.status_code == 200, section
        for line in response.text.splitlines()[1:]:
            for cell in re.findall(r'(?:^|,)("(?:[^"]|"")*"|[^,]*)', line):
                cell = cell.strip('"')
                assert not cell.lstrip(" ").startswith(("=", "+", "@")), (section, cell)


def test_live_stream_sends_strict_json_for_a_bad_alert(hub) -> None:  # type: ignore[no-untyped-def]
    received: list[tuple[str, str]] = []
    stop = threading.Event()
    client = hub.client("viewer")

    def read() -> None:
        try:
            with client.stream("GET", "/api/stream", timeout=httpx.Timeout(10, read=30)) as response:
                kind = ""
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        kind = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        received.append((kind, line.split(":", 1)[1].strip()))
                    if stop.is_set():
                        return
        except httpx.HTTPError:  # the hub stops at the end of the test while the stream is open
            return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    wait_for(lambda: any(kind == "sync" for kind, _ in received), what="stream open")
    service = hub.service
    alert = service.alerts._alerts[hub.extra_alert]
    for listener in list(service.alerts.listeners):  # as the alert service does after a change
        with contextlib.suppress(Exception):  # the auditor may refuse the odd alert; the live stream must not
            listener(alert)
    service.registry.set_status("pos-evil", False, NOW + timedelta(minutes=1))
    wait_for(lambda: {"alert", "post"} <= {kind for kind, _ in received}, timeout=15, what="alert and post events")
    stop.set()
    for kind, data in received:
        payload = strict(data.encode("utf-8"))
        if kind == "alert":
            assert payload["id"] == hub.extra_alert and payload["details"]["n"] is None
        if kind == "post":
            assert payload["device_id"] == "pos-evil" and payload["health"]["cpu_temp_c"] is None
