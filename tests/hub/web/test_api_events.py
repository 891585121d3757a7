"""The event log API: filters, time ranges, pagination, and the roles it needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kamling.protocol import new_event_id
from tests.support import post_entry

pytestmark = pytest.mark.e2e

BASE = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def record(device: str, seq: int, kind: str, minutes: int, test: bool = False) -> dict:
    ts = BASE + timedelta(minutes=minutes)
    return {
        "id": new_event_id(),
        "device": device,
        "seq": seq,
        "kind": kind,
        "ts": ts.isoformat(),
        "data": {},
        "test": test,
        "received_at": (ts + timedelta(seconds=1)).isoformat(),
    }


@pytest.fixture
def hub(make_hub):  # type: ignore[no-untyped-def]
    harness = make_hub([post_entry("pos-a"), post_entry("pos-b")])
    records = [record("pos-a", i + 1, "motion" if i % 2 else "panic", i) for i in range(30)]
    records += [record("pos-b", 1, "panic", 100, test=True)]
    harness.service.store.append(records)
    return harness


def test_filters_and_pagination(hub) -> None:  # type: ignore[no-untyped-def]
    api = hub.client("viewer")
    everything = api.get("/api/events", params={"limit": 1000}).json()
    assert everything["total"] == 31
    assert everything["items"][0]["device"] == "pos-b"  # newest first

    panics_a = api.get("/api/events", params={"device": "pos-a", "kind": "panic"}).json()
    assert panics_a["total"] == 15 and {e["kind"] for e in panics_a["items"]} == {"panic"}

    page1 = api.get("/api/events", params={"device": "pos-a", "limit": 10, "offset": 0}).json()
    page2 = api.get("/api/events", params={"device": "pos-a", "limit": 10, "offset": 10}).json()
    assert [e["seq"] for e in page1["items"]] == list(range(30, 20, -1))
    assert [e["seq"] for e in page2["items"]] == list(range(20, 10, -1))

    window = api.get(
        "/api/events",
        params={
            "since": (BASE + timedelta(minutes=5)).isoformat(),
            "until": (BASE + timedelta(minutes=10)).isoformat(),
        },
    ).json()
    assert sorted(e["seq"] for e in window["items"]) == [6, 7, 8, 9, 10]

    no_tests = api.get("/api/events", params={"include_tests": "false", "limit": 1000}).json()
    assert no_tests["total"] == 30


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 5000}, {"offset": -1}, {"since": "yesterday"}, {"since": "2026-11-22T10:00:00"}],
)
def test_bad_requests_get_clear_errors(hub, params) -> None:  # type: ignore[no-untyped-def]
    response = hub.client("viewer").get("/api/events", params=params)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_roles(hub) -> None:  # type: ignore[no-untyped-def]
    assert hub.client(None).get("/api/events").status_code == 401
    assert hub.client(None).get("/api/health").status_code == 200
    bad = hub.client(None)
    bad.headers["Authorization"] = "Bearer not-a-token"
    assert bad.get("/api/posts").status_code == 401
    assert hub.client("viewer").post("/api/alerts/01J0000000000000000000000A/ack").status_code == 403
    assert hub.client("operator").post("/api/alerts/01J0000000000000000000000A/ack").status_code == 404
    assert hub.client("admin").get("/api/alerts").status_code == 200


def test_openapi_docs_are_served_to_logged_in_users_only(hub) -> None:  # type: ignore[no-untyped-def]
    stranger = hub.client(None)
    assert stranger.get("/openapi.json").status_code == 401
    assert stranger.get("/docs").status_code == 401
    assert stranger.get("/redoc").status_code == 404
    viewer = hub.client("viewer")
    schema = viewer.get("/openapi.json").json()
    assert "/api/events" in schema["paths"]
    assert "/openapi.json" not in schema["paths"]
    page = viewer.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
