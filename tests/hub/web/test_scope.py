"""The village Scope (hub/web/scope.py), the live stream's per-connection filter, and keyset pages
of /api/events and /api/alerts for a scoped account on SQLite and PostgreSQL (the filter is in the
query, so every page is full and the cursor walks the account's rows only)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import HTTPException

from hub.accounts.auth import Principal, new_token
from hub.posts.registry import PostRegistry
from hub.settings import ApiTokenSettings, PostSettings
from hub.storage.events import EventQuery, TinyEventStore
from hub.web.live import LiveEvent, visible_to
from hub.web.scope import Scope
from tests.hub.web.test_api_pagination import BASE, all_pages, closed, record
from tests.support import post_entry

REGISTRY = PostRegistry(
    [
        PostSettings(device_id="pos-a", name="Pos A", village="Sukamaju"),
        PostSettings(device_id="pos-a2", name="Pos A2", village=" sukamaju "),
        PostSettings(device_id="pos-b", name="Pos B", village="Mekarsari"),
        PostSettings(device_id="pos-c", name="Pos C", village=""),
    ]
)
SUKAMAJU = Scope.of(Principal("kades", "operator", ("Sukamaju",)))
WHOLE = Scope.of(Principal("kapolsek", "admin"))


def test_a_scope_covers_its_villages_posts_only() -> None:
    assert SUKAMAJU.devices(REGISTRY) == {"pos-a", "pos-a2"}  # village names: case and blanks do not matter
    assert [p.device_id for p in SUKAMAJU.posts(REGISTRY)] == ["pos-a", "pos-a2"]
    assert not SUKAMAJU.covers_device(REGISTRY, "pos-b")
    assert not SUKAMAJU.covers_device(REGISTRY, "pos-c")  # a post without a village: whole-hub accounts only
    assert not SUKAMAJU.covers_device(REGISTRY, "pos-unknown")
    assert not SUKAMAJU.covers_device(REGISTRY, None)
    assert WHOLE.devices(REGISTRY) is None  # no filter at all
    assert WHOLE.covers_device(REGISTRY, "pos-unknown") and WHOLE.covers_device(REGISTRY, "pos-c")
    rows = [{"device": "pos-a"}, {"device": "pos-b"}, {"device": "pos-c"}, {}]
    assert SUKAMAJU.keep(REGISTRY, rows) == [{"device": "pos-a"}]
    with pytest.raises(HTTPException) as refused:
        SUKAMAJU.check_device(REGISTRY, "pos-b", "no such alert")
    assert refused.value.status_code == 404  # as if absent
    blank = Scope.of(Principal("x", "viewer", ("  ",)))
    assert blank.whole_hub  # a blank name limits nothing (the account stores drop blanks anyway)


def test_the_live_filter_passes_markers_and_its_villages_only() -> None:
    def event(kind: str, **data: object) -> LiveEvent:
        return LiveEvent(1, kind, dict(data))

    assert visible_to(SUKAMAJU, REGISTRY, event("alert", device="pos-a"))
    assert visible_to(SUKAMAJU, REGISTRY, event("post", device_id="pos-a2"))
    assert not visible_to(SUKAMAJU, REGISTRY, event("alert", device="pos-b"))
    assert not visible_to(SUKAMAJU, REGISTRY, event("post", device_id="pos-c"))
    assert visible_to(SUKAMAJU, REGISTRY, event("sync")) and visible_to(SUKAMAJU, REGISTRY, event("reset"))
    assert not visible_to(SUKAMAJU, REGISTRY, event("note", text="about no post"))  # a new kind leaks nothing
    assert visible_to(WHOLE, REGISTRY, event("alert", device="pos-b"))


def test_the_tinydb_event_store_filters_by_devices_too(tmp_path) -> None:
    store = TinyEventStore(tmp_path)
    store.open()
    store.append([record("pos-a" if n % 2 else "pos-b", n + 1, seconds=n) for n in range(10)])
    page = store.query(EventQuery(devices=frozenset({"pos-a"}), limit=3))
    assert page.total == 5 and [r["device"] for r in page.items] == ["pos-a"] * 3
    assert store.query(EventQuery(devices=frozenset())).total == 0
    store.close()


def _scoped(hub, villages: list[str]) -> httpx.Client:
    token, digest = new_token()
    hub.service.settings.api_tokens.append(
        ApiTokenSettings(name="kades", role="viewer", sha256=digest, villages=villages)
    )
    return httpx.Client(base_url=hub.web.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.mark.e2e
def test_scoped_pages_walk_only_the_villages_rows_with_the_cursor(make_hub, database_url: str) -> None:
    hub = make_hub(
        [post_entry("pos-a"), post_entry("pos-a2"), post_entry("pos-b", village="Mekarsari")],
        database_url=database_url,
    )
    # Sukamaju's two posts have one row in five, spread among Mekarsari's, with ties in time (also
    # between the two Sukamaju posts: the per-device page of SqlEventStore merges them).
    devices = ["pos-a", "pos-a2", "pos-b", "pos-b", "pos-b"]
    records = [record(devices[(n + n // 10) % 5], n + 1, seconds=n // 2) for n in range(250)]
    hub.service.store.append(records)
    history = [closed(BASE - timedelta(hours=n), device="pos-a" if n % 4 == 0 else "pos-b") for n in range(60)]
    hub.service.alerts.repository.merge(history)
    kades, empty = _scoped(hub, ["Sukamaju"]), _scoped(hub, ["Desa Lain"])

    pages = all_pages(kades, "/api/events", {"limit": 7}, "body")
    mine = sorted(r["id"] for r in records if r["device"] in ("pos-a", "pos-a2"))
    assert [len(p) for p in pages[:-1]] == [7] * (len(pages) - 1)  # full pages: filtered in the query
    ids = [e["id"] for page in pages for e in page]
    assert sorted(ids) == mine and len(set(ids)) == len(mine) == 100
    assert {e["device"] for page in pages for e in page} == {"pos-a", "pos-a2"}
    keys = [(e["received_at"], e["id"]) for page in pages for e in page]
    assert keys == sorted(keys, reverse=True)
    assert kades.get("/api/events", params={"limit": 1}).json()["total"] == 100
    by_offset = kades.get("/api/events", params={"limit": 7, "offset": 14}).json()["items"]
    assert [e["id"] for e in by_offset] == ids[14:21]  # the old offset paging agrees with the cursor's
    assert [e["id"] for e in kades.get("/api/events", params={"device": "pos-a2"}).json()["items"]] == [
        e["id"] for e in (e for page in pages for e in page) if e["device"] == "pos-a2"
    ][:100]
    assert kades.get("/api/events", params={"device": "pos-b"}).json()["items"] == []  # not by asking for it

    pages = all_pages(kades, "/api/alerts", {"limit": 4}, "header")
    ids = [a["id"] for page in pages for a in page]
    assert sorted(ids) == sorted(a.id for a in history if a.device == "pos-a") and len(ids) == 15
    assert all(len(p) == 4 for p in pages[:-1])
    assert empty.get("/api/events").json()["items"] == [] and empty.get("/api/alerts").json() == []
