"""Village-scoped accounts (issue 15): a Sukamaju account never sees a Mekarsari alert, on any route.

The walk goes over the app's route table (not a hand-kept list of URLs) and needs a decision for
every route in `DECISIONS`: a route added without one fails the test, and so does a decision left
for a route that is gone. Each decision is checked against the real hub with real posts (edge agents
on MockFactory pins) in two villages and one post without a village:

- filtered: 200, and the body names no Mekarsari (or village-less) post, alert or event; the same
  request by a whole-hub account does name one (so the probe could fail);
- hidden: 404, exactly like an id that does not exist (we chose 404 over 403 for one object of
  another village: a 403 would confirm that the id exists); a whole-hub account gets it;
- whole_hub: 403 (admin, technician, dead letters, metrics, counts over every village);
- sector: not village data (the duty roster, the API description): 200, and still no Mekarsari names;
- public / own: not checked here (no login, or the caller's own session), with the reason.

Two scoped accounts walk: a village operator and a village *admin* (an admin role does not lift
the village limit). Dashboard routes need a session, so both log in like a browser does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from hub.community.store import Report, Visit
from tests.security.test_api_access import PUBLIC, _routes
from tests.support import post_entry, wait_for

pytestmark = pytest.mark.e2e

SKJ, MKS, LOOSE = "pos-skj01", "pos-mks01", "pos-lepas"
SKJ_NAME, MKS_NAME, LOOSE_NAME = "Pos Sukamaju Barat", "Pos Mekarsari Timur", "Pos Tanpa Desa"
PASSWORD = "Kuat-Sekali-2026!"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


@dataclass(frozen=True)
class Decision:
    kind: str  # filtered, hidden, whole_hub, sector, public, own
    reason: str = ""
    urls: tuple[str, ...] = ()  # probes; default: the path with its parameters set to Mekarsari's
    body: dict[str, Any] | None = None
    control: bool = True  # a whole-hub account's answer must show the probe can fail


F, H, W = "filtered", "hidden", "whole_hub"
NO_DATA = "the walk has no such Mekarsari data; tests/hub/web/test_ronda_api.py covers it"
DECISIONS: dict[tuple[str, str], Decision] = {
    # the JSON API
    ("GET", "/api/posts"): Decision(F),
    ("GET", "/api/events"): Decision(
        F, urls=("/api/events", f"/api/events?device={MKS}", f"/api/events?device={LOOSE}")
    ),
    ("GET", "/api/events/{event_id}/snapshot"): Decision(H),
    ("GET", "/api/alerts"): Decision(
        F, urls=("/api/alerts", f"/api/alerts?device={MKS}", "/api/alerts?state=open", "/api/alerts?limit=1")
    ),
    ("GET", "/api/alerts/{alert_id}"): Decision(H, urls=("/api/alerts/{alert_id}", "/api/alerts/{loose_alert}")),
    ("POST", "/api/alerts/{alert_id}/ack"): Decision(H, body={"note": "bukan urusan saya"}),
    ("POST", "/api/alerts/{alert_id}/resolve"): Decision(H, body={"outcome": "false_alarm", "note": "x"}),
    ("POST", "/api/alerts/{alert_id}/en-route"): Decision(H),
    ("GET", "/api/reports"): Decision(F, urls=("/api/reports?include_tests=true",)),
    ("GET", "/api/reports/{section}.csv"): Decision(
        F,
        urls=tuple(
            f"/api/reports/{s}.csv?include_tests=true" for s in ("per_post", "alerts", "per_village", "per_officer")
        ),
        control=False,  # checked by the first url's control below (per_post names the post)
    ),
    ("GET", "/api/stream"): Decision(F, "filtered per connection: test_live_stream_carries_only_its_villages"),
    ("GET", "/api/roster/on-duty"): Decision(H, urls=(f"/api/roster/on-duty?device={MKS}",)),
    ("GET", "/api/officers"): Decision("sector", "the sector's officers (contacts redacted), not a village's data"),
    ("GET", "/api/roster"): Decision("sector", "the sector's duty roster"),
    ("GET", "/openapi.json"): Decision("sector", "the API description"),
    ("GET", "/docs"): Decision("sector", "the API explorer page"),
    # ronda, sambang, lapor (scoped since issue 14, through the same Scope now)
    ("GET", "/api/ronda"): Decision(F),
    ("GET", "/api/ronda/roster"): Decision(F),
    ("PUT", "/api/ronda/guards/{guard_id}"): Decision(H, body={"name": "Ujang", "device": MKS}),
    ("DELETE", "/api/ronda/guards/{guard_id}"): Decision(H),
    ("POST", "/api/ronda/changes"): Decision(
        H, urls=("/api/ronda/changes",), body={"guard_id": "{guard_id}", "night": "2026-11-23", "kind": "off"}
    ),
    ("DELETE", "/api/ronda/changes/{change_id}"): Decision(H),
    ("PUT", "/api/ronda/hours/{village}"): Decision(H, body={"start": "21:00", "end": "03:00"}),
    ("GET", "/api/sambang/visits"): Decision(F, urls=("/api/sambang/visits", f"/api/sambang/visits?post={MKS}")),
    ("GET", "/api/sambang/visits/{visit_id}/photo"): Decision(
        H, control=False, reason="no photo stored: 404 either way"
    ),
    ("GET", "/api/lapor/reports"): Decision(F, urls=("/api/lapor/reports", "/api/lapor/reports?alert_id={alert_id}")),
    ("GET", "/api/lapor/reports/{report_id}/photo"): Decision(H, control=False, reason="no photo stored"),
    ("POST", "/api/lapor/{alert_id}/escalate"): Decision(H),
    ("POST", "/api/lapor/{alert_id}/false"): Decision(H),
    ("GET", "/api/lapor/summary"): Decision(W, "counts every village's reports"),
    # whole-hub routes
    ("GET", "/api/admin/audit"): Decision(W),
    ("GET", "/api/admin/deadletters"): Decision(W),
    ("GET", "/api/admin/users"): Decision(W),
    ("POST", "/api/admin/users"): Decision(W, body={"username": "baru", "password": PASSWORD, "role": "viewer"}),
    ("POST", "/api/admin/users/{username}/disable"): Decision(W),
    ("POST", "/api/admin/users/{username}/enable"): Decision(W),
    ("GET", "/api/admin/devices"): Decision(W),
    ("POST", "/api/admin/devices/{device_id}/unblock"): Decision(W),
    ("POST", "/api/admin/devices/reload"): Decision(W),
    ("PUT", "/api/officers/{officer_id}"): Decision(W, body={"name": "Aiptu X", "urls": ["json://localhost/x"]}),
    ("DELETE", "/api/officers/{officer_id}"): Decision(W),
    ("POST", "/api/roster/shifts"): Decision(W),
    ("POST", "/api/roster/overrides"): Decision(W),
    ("DELETE", "/api/roster/{table}/{entry_id}"): Decision(W),
    ("PUT", "/api/roster/fallback"): Decision(W, body={"name": "Piket", "urls": ["json://localhost/x"]}),
    ("GET", "/metrics"): Decision(W, "hub-wide counts (open alerts per kind, posts online)"),
    ("GET", "/admin/deadletters"): Decision(W),
    # dashboard pages
    ("GET", "/"): Decision("sector", "the console's page holds no data: it loads /api/alerts and /api/stream"),
    ("GET", "/posts"): Decision(F, urls=("/posts", "/posts?fragment=true")),
    ("GET", "/alerts/{alert_id}"): Decision(H, urls=("/alerts/{alert_id}", "/alerts/{alert_id}?fragment=true")),
    ("GET", "/events"): Decision(F, urls=("/events", f"/events?device={MKS}")),
    ("GET", "/officers"): Decision("sector", "the sector's officers (contact kinds only)"),
    ("GET", "/ronda"): Decision(F),
    ("GET", "/ronda-sambang"): Decision(F),
    ("GET", "/ronda-sambang/laporan"): Decision(H, urls=("/ronda-sambang/laporan?village=Mekarsari",)),
    ("GET", "/ronda-sambang/laporan.csv"): Decision(H, urls=("/ronda-sambang/laporan.csv?village=Mekarsari",)),
    # operators' actions on alerts and posts, procedures, the reports page (issue 15)
    ("POST", "/api/alerts/{alert_id}/notes"): Decision(H, body={"text": "bukan urusan saya"}),
    ("POST", "/api/alerts/{alert_id}/assign"): Decision(H, body={"officer_id": "officer"}),
    ("POST", "/api/incidents"): Decision(
        "refused",
        "another village's post is refused exactly like an unknown one (422 naming the field `post`)",
        body={"post": MKS, "kind": "theft", "source": "phone", "description": "x", "reporter": "Budi"},
    ),
    ("GET", "/incidents/new"): Decision(F, "the form lists only the account's posts"),
    ("GET", "/api/procedures"): Decision("sector", "the sector's procedure texts per alert kind"),
    ("GET", "/api/procedures/{kind}"): Decision("sector", "the sector's procedure text of one alert kind"),
    ("PUT", "/api/procedures/{kind}"): Decision(W, body={"text": "Telepon piket."}),
    ("DELETE", "/api/procedures/{kind}"): Decision(W),
    ("GET", "/procedures"): Decision("sector", "the sector's procedure texts"),
    ("POST", "/api/posts/{device}/commands"): Decision(H, body={"name": "ping"}),
    ("GET", "/api/posts/{device}/commands"): Decision(H),
    ("GET", "/api/commands/{command_id}"): Decision(H),
    ("GET", "/posts/{device}"): Decision(H, urls=("/posts/{device}", "/posts/{device}?fragment=true")),
    ("GET", "/reports"): Decision(F),
    ("GET", "/reports/{table}.csv"): Decision(
        F, urls=tuple(f"/reports/{t}.csv" for t in ("post", "village", "officer", "hour")), control=True
    ),
    # the caller's own session
    ("POST", "/api/auth/logout"): Decision("own", "ends the caller's own session"),
    ("GET", "/api/auth/me"): Decision("own", "the caller's own name, role and villages"),
    ("POST", "/logout"): Decision("own", "ends the caller's own session"),
}
DECISIONS[("GET", "/static/{path}")] = Decision("public", "CSS and scripts")
# ...and every route of tests/security/test_api_access.py's PUBLIC list (no login: the token is the credential)


@dataclass
class World:
    hub: Any
    params: dict[str, str] = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)  # what a Sukamaju account must never read


def _session(hub: Any, username: str, role: str, villages: tuple[str, ...] = ("Sukamaju",)) -> httpx.Client:
    """A browser-like client: logged in with a session cookie, sending the CSRF token on unsafe requests."""
    hub.service.users.create(username, PASSWORD, role, villages=villages)
    client = httpx.Client(base_url=hub.web.url, timeout=10)
    login = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    return client


def _visit(device: str, n: int) -> Visit:
    now = datetime.now(UTC)
    return Visit(
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


def _report(device: str, n: int, alert_id: str) -> Report:
    return Report(
        id=f"r{n}",
        post=device,
        at=datetime.now(UTC),
        category="lainnya",
        text="ada orang asing",
        phone=None,
        lat=None,
        lon=None,
        location_shared=False,
        photo=None,
        client="test",
        alert_id=alert_id,
    )


@pytest.fixture
def world(make_hub, make_post) -> World:
    hub = make_hub(
        [
            post_entry(SKJ, SKJ_NAME, "Sukamaju"),
            post_entry(MKS, MKS_NAME, "Mekarsari"),
            post_entry(LOOSE, LOOSE_NAME, ""),
        ]
    )
    agents = {device: make_post(device) for device in (SKJ, MKS, LOOSE)}
    for device in agents:
        wait_for(lambda d=device: hub.service.registry.state(d).online, what=f"{device} online")
    for agent in agents.values():
        agent.press()
    alerts = wait_for(
        lambda: {a.device: a for a in hub.service.alerts.all()} if len(hub.service.alerts.all()) == 3 else None
    )
    admin = hub.client("admin")
    events = wait_for(lambda: admin.get("/api/events", params={"device": MKS}).json()["items"], what="Mekarsari events")
    assert hub.service.snapshots.save(MKS, events[0]["id"], JPEG)
    assert admin.put("/api/ronda/guards/ujang", json={"name": "Ujang", "device": MKS}).status_code == 200
    change = admin.post("/api/ronda/changes", json={"guard_id": "ujang", "night": "2026-11-23", "kind": "off"})
    assert change.status_code == 200, change.text
    hub.service.community.store.add_visit(_visit(MKS, 1))
    hub.service.community.store.add_report(_report(MKS, 1, alerts[MKS].id))
    params = {
        "alert_id": alerts[MKS].id,
        "loose_alert": alerts[LOOSE].id,
        "event_id": events[0]["id"],
        "device_id": MKS,
        "device": MKS,
        "village": "Mekarsari",
        "guard_id": "ujang",
        "change_id": change.json()["id"],
        "visit_id": "v1",
        "report_id": "r1",
        "section": "per_post",
        "username": "test-admin",
        "officer_id": "officer",
        "table": "shifts",
        "entry_id": "x",
        "kind": "panic",
        "command_id": hub.service.commands.issue(MKS, "ping", "test-admin").id,
        "token": "x",
        "path": "x",
    }
    markers = [MKS, MKS_NAME, LOOSE, LOOSE_NAME, alerts[MKS].id, alerts[LOOSE].id, *(e["id"] for e in events)]
    return World(hub, params, markers)


def _fill(template: str, params: dict[str, str]) -> str:
    return re.sub(r"\{([a-z_]+)\}", lambda m: params[m.group(1)], template)


def _leaks(text: str, markers: list[str]) -> list[str]:
    return [m for m in markers if m in text]


def test_every_route_filters_or_refuses_another_villages_data(world: World) -> None:
    hub, params, markers = world.hub, world.params, world.markers
    routes = {(method, path) for path, methods, _ in _routes(_app(hub)) for method in methods}
    decisions = DECISIONS | {(m, p): Decision("public", PUBLIC[p]) for m, p in routes if p in PUBLIC}
    missing = sorted(routes - decisions.keys())
    assert not missing, f"routes without a village-scope decision (add them to DECISIONS): {missing}"
    stale = sorted(set(decisions) - routes)
    assert not stale, f"decisions for routes that are gone: {stale}"

    whole = _session(hub, "kapolsek", "admin", villages=())
    village_accounts = {"operator": _session(hub, "kades", "operator"), "admin": _session(hub, "kades-admin", "admin")}
    mks_alert = hub.service.alerts.get(params["alert_id"])
    checked: dict[str, int] = {}
    for (method, path), decision in sorted(decisions.items()):
        if decision.kind in ("public", "own") or path == "/api/stream":
            continue
        urls = [_fill(u, params) for u in (decision.urls or (path,))]
        body = json.loads(_fill(json.dumps(decision.body), params)) if decision.body is not None else None
        for role, client in village_accounts.items():
            for url in urls:
                response = client.request(method, url, json=body, follow_redirects=False)
                where = f"{method} {url} as a Sukamaju {role}"
                assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
                if decision.kind == "whole_hub":
                    assert response.status_code == 403, f"{where}: {response.status_code}, not refused"
                elif decision.kind == "hidden":
                    assert response.status_code == 404, f"{where}: {response.status_code}, not as if absent"
                elif decision.kind == "refused":
                    assert response.status_code in (404, 422), f"{where}: {response.status_code}, not refused"
                elif role == "operator" or method == "GET":
                    assert response.status_code == 200, f"{where}: {response.status_code} {response.text[:300]}"
                leaked = _leaks(response.text, markers)
                assert not leaked, f"{where} shows another village's {leaked}"
                checked[decision.kind] = checked.get(decision.kind, 0) + 1
        if decision.control and method == "GET" and decision.kind in ("filtered", "hidden"):
            control = whole.get(urls[0])
            assert control.status_code == 200, f"control {urls[0]}: {control.status_code}"
            if decision.kind == "filtered":
                assert _leaks(control.text, markers), f"control {urls[0]}: a whole-hub account sees no Mekarsari data"
    # Nothing the village accounts tried changed another village's data.
    after = hub.service.alerts.get(params["alert_id"])
    assert mks_alert is not None and after is not None and after.state == mks_alert.state
    assert after.acknowledged_by is None and after.assigned_to is None
    assert [e for e in after.timeline if e.action in ("note", "assigned")] == []
    assert not [a for a in hub.service.alerts.all() if a.device == MKS and a.kind == "manual"]  # no phoned-in one
    assert whole.get("/api/ronda/roster").json()["guards"][0]["id"] == "ujang"
    assert checked.get("filtered", 0) > 20 and checked.get("hidden", 0) > 20 and checked.get("whole_hub", 0) > 20
    # Their own village stays theirs: the Sukamaju alert is listed and can be acknowledged.
    kades = village_accounts["operator"]
    own = [a for a in kades.get("/api/alerts").json()]
    assert [a["device"] for a in own] == [SKJ]
    assert kades.post(f"/api/alerts/{own[0]['id']}/ack").status_code == 200
    assert whole.post(f"/api/alerts/{params['alert_id']}/ack").status_code == 200  # the probe could have acked


def _app(hub: Any) -> Any:
    from hub.web.app import create_app

    return create_app(hub.service)


def test_a_scoped_token_gets_the_same_answers(world: World) -> None:
    """API tokens carry villages too (hub settings `api_tokens[].villages`)."""
    from hub.accounts.auth import new_token
    from hub.settings import ApiTokenSettings

    hub, params = world.hub, world.params
    token, digest = new_token()
    hub.service.settings.api_tokens.append(
        ApiTokenSettings(name="kades-token", role="operator", sha256=digest, villages=["sukamaju "])
    )
    api = httpx.Client(base_url=hub.web.url, timeout=10, headers={"Authorization": f"Bearer {token}"})
    assert [p["device_id"] for p in api.get("/api/posts").json()] == [SKJ]
    assert {a["device"] for a in api.get("/api/alerts").json()} == {SKJ}
    assert {e["device"] for e in api.get("/api/events").json()["items"]} == {SKJ}
    assert api.get(f"/api/alerts/{params['alert_id']}").status_code == 404
    assert api.post(f"/api/alerts/{params['alert_id']}/ack").status_code == 404
    assert api.get("/api/admin/devices").status_code == 403
    assert api.get("/metrics").status_code == 403
    assert api.get("/api/auth/me").json()["villages"] == ["sukamaju "]  # as configured; compared without case or blanks


def _read_until(lines: Iterator[str], done: Any) -> list[dict[str, Any]]:
    """SSE frames (data parsed) from a stream's `iter_lines()` until `done(frame)` is true for one."""
    frames: list[dict[str, Any]] = []
    frame: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if frame.get("event"):
                frame["data"] = json.loads(frame.get("data") or "{}")
                frames.append(frame)
                if done(frame):
                    return frames
            frame = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            frame[key] = value[1:] if value.startswith(" ") else value
    raise AssertionError(f"the stream ended before the awaited event: {frames}")


def _alert_of(device: str, state: str | None = None) -> Any:
    return lambda f: f["event"] == "alert" and f["data"]["device"] == device and state in (None, f["data"]["state"])


def _devices(frames: list[dict[str, Any]]) -> set[str]:
    return {f["data"].get("device", f["data"].get("device_id")) for f in frames if f["event"] in ("alert", "post")}


def test_live_stream_carries_only_its_villages(make_hub, make_post) -> None:
    """Over HTTP (SSE): the Sukamaju session's stream carries Sukamaju's alert and post changes and
    never a Mekarsari one, live or replayed after a reconnect (Last-Event-ID). Each Mekarsari change
    is published before the Sukamaju one the reading waits for, so a leak would have arrived first."""
    hub = make_hub([post_entry(SKJ, SKJ_NAME, "Sukamaju"), post_entry(MKS, MKS_NAME, "Mekarsari")])
    kades, whole = _session(hub, "kades", "viewer"), hub.client("operator")
    with kades.stream("GET", "/api/stream") as response:
        (sync,) = _read_until(response.iter_lines(), lambda f: f["event"] == "sync")
    with whole.stream("GET", "/api/stream") as response:
        (whole_sync,) = _read_until(response.iter_lines(), lambda f: f["event"] == "sync")

    agents = {device: make_post(device) for device in (MKS, SKJ)}
    wait_for(lambda: all(hub.service.registry.state(d).online for d in agents), what="posts online")
    agents[MKS].press()
    mks = wait_for(lambda: [a for a in hub.service.alerts.all() if a.device == MKS], what="Mekarsari alert")[0]
    agents[SKJ].press()
    skj = wait_for(lambda: [a for a in hub.service.alerts.all() if a.device == SKJ], what="Sukamaju alert")[0]

    # Replayed after a reconnect: everything since the sync, Mekarsari's alert first.
    with whole.stream("GET", "/api/stream", headers={"Last-Event-ID": whole_sync["id"]}) as response:
        control = _read_until(response.iter_lines(), _alert_of(SKJ))
    assert MKS in _devices(control)  # the whole-hub stream has it: the replay reaches back far enough
    with kades.stream("GET", "/api/stream", headers={"Last-Event-ID": sync["id"]}) as response:
        replay = _read_until(response.iter_lines(), _alert_of(SKJ))
    assert _devices(replay) == {SKJ}, replay
    assert not _leaks(json.dumps(replay), [MKS, MKS_NAME, mks.id])

    # Live: a Mekarsari change, then a Sukamaju one, while the Sukamaju stream is open.
    with kades.stream("GET", "/api/stream") as response:
        lines = response.iter_lines()
        assert _read_until(lines, lambda f: f["event"] == "sync")
        assert whole.post(f"/api/alerts/{mks.id}/ack").status_code == 200
        assert whole.post(f"/api/alerts/{skj.id}/ack").status_code == 200
        live = _read_until(lines, _alert_of(SKJ, "acknowledged"))
    assert _devices(live) == {SKJ}, live
    assert not _leaks(json.dumps(live), [MKS, MKS_NAME, mks.id])
