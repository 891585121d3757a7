"""The ronda API against the real hub: roles, and accounts scoped to villages (tokens and dashboard users)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import httpx
import pytest

from hub.accounts.auth import new_token
from hub.community.store import Report, Visit
from hub.settings import ApiTokenSettings
from tests.support import post_entry

pytestmark = pytest.mark.e2e

BUDI = {"name": "Budi", "device": "pos-a", "phone": "+62 812-0000-1111", "card_id": "0012345678", "nights": [0, 5]}
SARI = {"name": "Sari", "device": "pos-b", "nights": [1]}


@pytest.fixture
def hub(make_hub):
    return make_hub([post_entry("pos-a", "Pos RW 01", "Sukamaju"), post_entry("pos-b", "Pos RW 02", "Mulyorejo")])


def scoped_token(hub, role: str, villages: list[str]) -> httpx.Client:
    token, digest = new_token()
    entry = ApiTokenSettings(name=f"scoped-{role}", role=role, sha256=digest, villages=villages)
    hub.service.settings.api_tokens.append(entry)
    return httpx.Client(base_url=hub.web.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_read_as_viewer_change_as_admin(hub) -> None:
    admin, viewer, operator = hub.client("admin"), hub.client("viewer"), hub.client("operator")
    assert admin.put("/api/ronda/guards/budi", json=BUDI).status_code == 200
    assert viewer.put("/api/ronda/guards/budi", json=BUDI).status_code == 403
    assert operator.put("/api/ronda/guards/budi", json=BUDI).status_code == 403  # not scoped: not a village officer
    assert admin.put("/api/ronda/guards/joko", json={**SARI, "card_id": "0012345678"}).status_code == 409  # card taken
    assert admin.put("/api/ronda/guards/x", json={**BUDI, "device": "pos-zz"}).status_code == 404
    assert admin.put("/api/ronda/guards/x", json={**BUDI, "card_id": "<script>"}).status_code == 422
    roster = viewer.get("/api/ronda/roster").json()
    assert [g["id"] for g in roster["guards"]] == ["budi"]
    assert {h["village"] for h in roster["hours"]} == {"Sukamaju", "Mulyorejo"}
    change = admin.post("/api/ronda/changes", json={"guard_id": "budi", "night": "2026-11-23", "kind": "off"})
    assert change.status_code == 200
    hours = admin.put("/api/ronda/hours/Sukamaju", json={"start": "21:00", "end": "03:00", "round_minutes": 45})
    assert hours.status_code == 200 and hours.json()["round_minutes"] == 45
    tonight = viewer.get("/api/ronda").json()
    assert {p["device"] for p in tonight["posts"]} == {"pos-a", "pos-b"}
    assert admin.delete(f"/api/ronda/changes/{change.json()['id']}").status_code == 200
    assert admin.delete("/api/ronda/guards/budi").status_code == 200
    assert admin.delete("/api/ronda/guards/budi").status_code == 404


def test_village_scoped_account_sees_and_changes_only_its_villages(hub) -> None:
    admin = hub.client("admin")
    assert admin.put("/api/ronda/guards/sari", json=SARI).status_code == 200
    officer = scoped_token(hub, "operator", ["sukamaju"])  # the village's Bhabinkamtibmas
    assert officer.put("/api/ronda/guards/budi", json=BUDI).status_code == 200
    assert officer.put("/api/ronda/guards/joko", json={**BUDI, "device": "pos-b"}).status_code == 404
    assert officer.put("/api/ronda/guards/sari", json={**SARI, "device": "pos-a"}).status_code == 404  # not its guard
    assert officer.delete("/api/ronda/guards/sari").status_code == 404
    away = {"guard_id": "sari", "night": "2026-11-24", "kind": "off"}
    assert officer.post("/api/ronda/changes", json=away).status_code == 404
    assert officer.put("/api/ronda/hours/Mulyorejo", json={"start": "20:00", "end": "02:00"}).status_code == 404
    assert officer.put("/api/ronda/hours/Sukamaju", json={"start": "20:00", "end": "02:00"}).status_code == 200
    roster = officer.get("/api/ronda/roster").json()
    assert [g["id"] for g in roster["guards"]] == ["budi"]
    assert [h["village"] for h in roster["hours"]] == ["Sukamaju"]
    assert [p["device"] for p in officer.get("/api/ronda").json()["posts"]] == ["pos-a"]
    assert hub.service.ronda.store.roster().guard("sari") is not None  # untouched

    viewer = scoped_token(hub, "viewer", ["Mulyorejo"])
    assert viewer.put("/api/ronda/guards/sari", json=SARI).status_code == 403
    assert [g["id"] for g in viewer.get("/api/ronda/roster").json()["guards"]] == ["sari"]

    # A dashboard user limited to a village sees only its posts on the Ronda page.
    password = "Pw-" + secrets.token_urlsafe(16)
    hub.service.users.create("bhabin", password, "viewer", ("Mulyorejo",))
    client = httpx.Client(base_url=hub.web.url, timeout=10)
    assert client.post("/login", data={"username": "bhabin", "password": password, "next": "/"}).status_code == 303
    page = client.get("/ronda").text
    assert "Pos RW 02" in page and "Pos RW 01" not in page


def test_a_village_account_reads_only_its_villages_visits_and_reports(hub) -> None:
    """Police visits and residents' reports follow the same scoping as the ronda roster."""
    store = hub.service.community.store
    now = datetime.now(UTC)
    for n, device in enumerate(("pos-a", "pos-b")):
        store.add_visit(
            Visit(
                id=f"v{n}",
                post=device,
                officer="agus",
                officer_name="Agus",
                at=now,
                lat=None,
                lon=None,
                accuracy_m=None,
                distance_m=None,
                flag="no_location",
                note="",
                photo=None,
                via="link",
                client="test",
            )
        )
        store.add_report(
            Report(
                id=f"r{n}",
                post=device,
                at=now,
                category="lainnya",
                text="ada orang asing",
                phone=None,
                lat=None,
                lon=None,
                location_shared=False,
                photo=None,
                client="test",
                alert_id=f"a{n}",
            )
        )
    everyone = hub.client("viewer")
    assert {v["post"] for v in everyone.get("/api/sambang/visits").json()} == {"pos-a", "pos-b"}
    assert {r["post"] for r in everyone.get("/api/lapor/reports").json()} == {"pos-a", "pos-b"}
    sukamaju = scoped_token(hub, "viewer", ["Sukamaju"])
    assert [v["post"] for v in sukamaju.get("/api/sambang/visits").json()] == ["pos-a"]
    assert [r["post"] for r in sukamaju.get("/api/lapor/reports").json()] == ["pos-a"]
    assert sukamaju.get("/api/sambang/visits", params={"post": "pos-b"}).json() == []  # not by asking for it either
    assert sukamaju.get("/api/lapor/summary").status_code == 403  # counts every village
    assert everyone.get("/api/lapor/summary").status_code == 200
    operator = scoped_token(hub, "operator", ["Sukamaju"])
    assert operator.post("/api/lapor/a1/false", json={}).status_code == 404  # another village's (or no) alert
