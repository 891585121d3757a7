"""Keyset pagination of /api/events and /api/alerts (issue 12), on SQLite and on a real PostgreSQL.

/api/events pages with `cursor`/`next_cursor`; `offset` stays, bounded. /api/alerts reads the whole
SQL history (not only what the alert service holds in memory), newest first, merged with memory's
copies, which are the freshest (hub/web/alert_history.py); its body stays a list and the cursor
travels in the X-Next-Cursor header.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.alerting.rules import Alert, AlertKind, Outcome, acknowledge, open_alert, resolve
from hub.alerting.sql_store import AlertQuery, SqlAlertRepository
from hub.storage.sql.database import Database
from hub.web.alert_history import alert_page, alerts_opened
from kamling.protocol import new_event_id
from poskamling.net import free_port
from tests.support import post_entry

pytestmark = pytest.mark.e2e

BASE = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
OLD = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)  # long before the 48 h the alert service loads


def record(device: str, seq: int, kind: str = "motion", seconds: int = 0) -> dict[str, Any]:
    moment = BASE + timedelta(seconds=seconds)
    return {
        "id": new_event_id(),
        "device": device,
        "seq": seq,
        "kind": kind,
        "ts": moment.isoformat(),
        "data": {},
        "test": False,
        "received_at": moment.isoformat(),
    }


def closed(at: datetime, device: str = "pos-a", kind: AlertKind = AlertKind.MOTION) -> Alert:
    return resolve(open_alert(device, kind, at), "bhabin", Outcome.FALSE_ALARM, None, at + timedelta(minutes=5))


def all_pages(client: Any, path: str, params: dict[str, Any], cursor_in: str) -> list[list[dict[str, Any]]]:
    """Follow the cursor to the end; `cursor_in` "body" (events) or "header" (alerts)."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        response = client.get(path, params=params | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        if cursor_in == "body":
            pages.append(body["items"])
            cursor = body["next_cursor"]
        else:
            pages.append(body)
            cursor = response.headers.get("X-Next-Cursor")
            assert (cursor is None) == ("Link" not in response.headers)
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor does not advance"


def test_events_page_with_a_cursor_every_event_once_newest_first(make_hub, database_url: str) -> None:
    hub = make_hub([post_entry("pos-a"), post_entry("pos-b")], database_url=database_url)
    records = [record("pos-a" if n % 3 else "pos-b", n + 1, seconds=n // 2) for n in range(230)]  # ties in time too
    hub.service.store.append(records)
    api = hub.client("viewer")

    pages = all_pages(api, "/api/events", {"limit": 50}, "body")
    assert [len(p) for p in pages] == [50, 50, 50, 50, 30]
    ids = [e["id"] for page in pages for e in page]
    assert sorted(ids) == sorted(r["id"] for r in records) and len(set(ids)) == 230
    keys = [(e["received_at"], e["id"]) for page in pages for e in page]
    assert keys == sorted(keys, reverse=True)

    first = api.get("/api/events", params={"limit": 50, "device": "pos-b"}).json()
    assert first["total"] == 77 and first["total_capped"] is False and first["next_cursor"]
    only_b = all_pages(api, "/api/events", {"limit": 50, "device": "pos-b"}, "body")
    assert {e["device"] for page in only_b for e in page} == {"pos-b"}
    assert sum(len(p) for p in only_b) == 77
    # offset still works for old clients, and agrees with the cursor
    second = api.get("/api/events", params={"limit": 50, "offset": 50}).json()
    assert [e["id"] for e in second["items"]] == [e["id"] for e in pages[1]] and second["offset"] == 50


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"offset": 10_001}, "offset"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "!!"}, "cursor"),
        ({"cursor": "x" * 300}, "cursor"),
    ],
)
def test_events_bad_offset_or_cursor_is_a_422_naming_the_field(make_hub, params: dict[str, Any], field: str) -> None:
    hub = make_hub([post_entry("pos-a")])
    response = hub.client("viewer").get("/api/events", params=params)
    assert response.status_code == 422, response.text
    assert any(field in error["loc"] for error in response.json()["detail"]), response.text


def test_events_cursor_and_offset_together_is_a_422_naming_offset(make_hub) -> None:
    hub = make_hub([post_entry("pos-a")])
    hub.service.store.append([record("pos-a", n + 1, seconds=n) for n in range(3)])
    api = hub.client("viewer")
    cursor = api.get("/api/events", params={"limit": 1}).json()["next_cursor"]
    response = api.get("/api/events", params={"cursor": cursor, "offset": 5})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "offset"]


def test_events_total_is_capped_and_says_so(make_hub) -> None:
    hub = make_hub([post_entry("pos-a")])
    hub.service.store.append([record("pos-a", n + 1, seconds=n) for n in range(10_001)])
    body = hub.client("viewer").get("/api/events", params={"limit": 1}).json()
    assert body["total"] == 10_000 and body["total_capped"] is True and body["next_cursor"]


def test_alerts_read_the_whole_history_newest_first_with_a_cursor(make_hub, database_url: str) -> None:
    hub = make_hub([post_entry("pos-a"), post_entry("pos-b")], database_url=database_url)
    repository = hub.service.alerts.repository
    history = [closed(OLD + timedelta(hours=n), device="pos-a" if n % 2 else "pos-b") for n in range(120)]
    repository.merge(history)  # the SQL history: none of it is in the alert service's memory
    live = hub.service.alerts.raise_condition("pos-a", AlertKind.HEALTH, {"cpu_temp": 90})  # open, in memory
    api = hub.client("viewer")
    assert hub.service.alerts.get(history[0].id) is None  # truly only in SQL

    pages = all_pages(api, "/api/alerts", {"limit": 50}, "header")
    assert [len(p) for p in pages] == [50, 50, 21]
    listed = [a["id"] for page in pages for a in page]
    assert listed == [live.id] + [a.id for a in reversed(history)]  # newest first, each once
    assert pages[0][0]["state"] in ("new", "notified") and pages[0][0]["open"] is True

    open_only = api.get("/api/alerts", params={"state": "open"}).json()
    assert [a["id"] for a in open_only] == [live.id]
    pos_b = all_pages(api, "/api/alerts", {"device": "pos-b", "state": "resolved", "limit": 25}, "header")
    assert sum(len(p) for p in pos_b) == 60 and {a["device"] for p in pos_b for a in p} == {"pos-b"}
    assert api.get("/api/alerts", params={"kind": "panic"}).json() == []

    old = api.get(f"/api/alerts/{history[3].id}")
    assert old.status_code == 200 and old.json()["state"] == "resolved"  # from SQL, not memory
    assert api.get("/api/alerts/01J0000000000000000000000A").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "nope"}, "cursor"),
        ({"state": "sleeping"}, "state"),
        ({"kind": "ghost"}, "kind"),
        ({"limit": 501}, "limit"),
    ],
)
def test_alerts_bad_query_is_a_422_naming_the_field(make_hub, params: dict[str, Any], field: str) -> None:
    hub = make_hub([post_entry("pos-a")])
    response = hub.client("viewer").get("/api/alerts", params=params)
    assert response.status_code == 422, response.text
    assert any(field in error["loc"] for error in response.json()["detail"]), response.text


def test_memory_copy_wins_and_unwritten_alerts_are_listed(tmp_path) -> None:
    """The writer thread may not have stored the newest state yet: memory's copy is shown, filtered as it is now."""
    repository = SqlAlertRepository(Database(f"sqlite:///{tmp_path / 'hub.db'}"))
    stored_open = open_alert("pos-a", AlertKind.PANIC, BASE)
    older = [closed(BASE - timedelta(days=n + 1)) for n in range(5)]
    repository.merge([stored_open, *older])
    acked_now = acknowledge(stored_open, "bhabin", "link", BASE + timedelta(minutes=1))  # SQL still says "new"
    not_written = open_alert("pos-b", AlertKind.TAMPER, BASE + timedelta(minutes=2))  # not in SQL at all
    memory = [acked_now, not_written]

    page = alert_page(memory, repository, AlertQuery(limit=3))
    assert [a.id for a in page.items] == [not_written.id, stored_open.id, older[0].id]
    assert page.items[1].state.value == "acknowledged" and page.next_cursor
    rest = alert_page(memory, repository, AlertQuery(limit=3, cursor=page.next_cursor))
    assert [a.id for a in rest.items] == [a.id for a in older[1:4]]
    assert [a.id for a in alert_page(memory, repository, AlertQuery(state="new")).items] == [not_written.id]
    assert [a.id for a in alert_page(memory, repository, AlertQuery(state="acknowledged")).items] == [stored_open.id]
    repository.close()


def test_alerts_memory_holds_are_not_read_from_sql_again(tmp_path) -> None:
    """A page of open alerts (all in memory) reads only their keys from SQL; closed ones are read whole."""
    fetched: list[list[str]] = []

    class Counting(SqlAlertRepository):
        def fetch(self, ids: Any) -> Any:
            fetched.append(list(ids))
            return super().fetch(ids)

    repository = Counting(Database(f"sqlite:///{tmp_path / 'hub.db'}"))
    live = [open_alert("pos-a", AlertKind.PANIC, BASE + timedelta(minutes=n)) for n in range(3)]
    old = closed(BASE - timedelta(days=1))
    repository.merge([*live, old])
    page = alert_page(live, repository, AlertQuery(state="open"))
    assert [a.id for a in page.items] == [a.id for a in reversed(live)] and fetched == [[]]
    page = alert_page(live, repository, AlertQuery())
    assert [a.id for a in page.items] == [*(a.id for a in reversed(live)), old.id] and fetched[-1] == [old.id]
    repository.close()


def test_with_the_database_away_the_page_comes_from_memory(tmp_path) -> None:
    repository = SqlAlertRepository(Database(f"postgresql://nobody@127.0.0.1:{free_port()}/none"))
    alert = open_alert("pos-a", AlertKind.PANIC, BASE)
    page = alert_page([alert], repository, AlertQuery())
    assert page.from_memory_only and [a.id for a in page.items] == [alert.id] and page.next_cursor is None


def test_alerts_opened_reads_a_range_with_memory_winning(tmp_path) -> None:
    """The reports' read: the range from SQL (kinds, light rows), memory's newer and unwritten copies on top."""
    repository = SqlAlertRepository(Database(f"sqlite:///{tmp_path / 'hub.db'}"))
    stored = open_alert("pos-a", AlertKind.PANIC, BASE)
    outside = open_alert("pos-a", AlertKind.PANIC, BASE + timedelta(days=2))
    motion = closed(BASE + timedelta(minutes=1))
    repository.merge([stored, outside, motion])
    acked_now = acknowledge(stored, "bhabin", "link", BASE + timedelta(minutes=1))  # SQL still says "new"
    unwritten = open_alert("pos-b", AlertKind.TAMPER, BASE + timedelta(minutes=2))
    since, until = BASE - timedelta(hours=1), BASE + timedelta(days=1)
    kinds = (AlertKind.PANIC, AlertKind.TAMPER)

    found = alerts_opened([acked_now, unwritten, outside], repository, since, until, kinds=kinds, whole=False)
    assert [a.id for a in found.items] == [stored.id, unwritten.id] and not found.from_memory_only
    assert found.items[0].acknowledged_by == "bhabin"  # memory's copy
    assert [a.id for a in alerts_opened([], repository, since, until).items] == [stored.id, motion.id]
    capped = alerts_opened([], repository, since, until, limit=1)
    assert capped.capped and [a.id for a in capped.items] == [stored.id]
    repository.close()


def test_alerts_opened_with_the_database_away_comes_from_memory() -> None:
    repository = SqlAlertRepository(Database(f"postgresql://nobody@127.0.0.1:{free_port()}/none"))
    alert = open_alert("pos-a", AlertKind.PANIC, BASE)
    found = alerts_opened([alert], repository, BASE, BASE + timedelta(days=1))
    assert found.from_memory_only and [a.id for a in found.items] == [alert.id]
