"""Operators act on alerts over HTTP (issue 15), against the real hub: roles, CSRF, hostile input,
reported incidents, assignments, procedures, and what the pages show."""

from __future__ import annotations

import secrets

import httpx
import pytest

from hub.accounts.auth import new_token
from hub.alerting.rules import Outcome
from hub.settings import ApiTokenSettings
from kamling.protocol import Event, EventKind, new_event_id, utc_now
from tests.support import post_entry

pytestmark = pytest.mark.e2e

INCIDENT = {
    "post": "pos-a",
    "kind": "theft",
    "source": "phone",
    "description": "Motor hilang di depan pos",
    "reporter": "Pak Budi",
    "reporter_phone": "0812 3456 789",
}


@pytest.fixture
def hub(make_hub, sink):
    return make_hub(
        [post_entry("pos-a", "Pos RW 01", "Sukamaju"), post_entry("pos-b", "Pos RW 02", "Mulyorejo")],
        officers=[
            {"name": "Bripka Agus", "urls": [sink.url("agus")], "villages": ["Sukamaju"]},
            {"name": "Aiptu Sari", "urls": [sink.url("sari")], "villages": ["Mulyorejo"], "language": "en"},
        ],
    )


def login(hub, username: str, role: str) -> tuple[httpx.Client, str]:
    password = "Pw-" + secrets.token_urlsafe(16)
    hub.service.users.create(username, password, role)
    client = httpx.Client(base_url=hub.web.url, timeout=10)
    assert client.post("/login", data={"username": username, "password": password}).status_code in (200, 303)
    return client, client.get("/api/auth/me").json()["csrf_token"]


def scoped(hub, role: str, villages: list[str]) -> httpx.Client:
    token, digest = new_token()
    hub.service.settings.api_tokens.append(ApiTokenSettings(name="scoped", role=role, sha256=digest, villages=villages))
    return httpx.Client(base_url=hub.web.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def panic(hub, device: str = "pos-a") -> str:
    event = Event(id=new_event_id(), device=device, seq=1, kind=EventKind.PANIC, ts=utc_now())
    alert = hub.service.alerts.handle_event(event)
    assert alert is not None
    return alert.id


def field_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [error["loc"][-1] for error in response.json()["detail"]]


def test_only_operators_and_admins_act_and_only_admins_edit_procedures(hub) -> None:
    alert_id = panic(hub)
    officer_id = hub.service.alerts.assignable()[0].id
    calls = [
        ("POST", f"/api/alerts/{alert_id}/notes", {"text": "catatan"}),
        ("POST", f"/api/alerts/{alert_id}/assign", {"officer_id": officer_id}),
        ("POST", "/api/incidents", INCIDENT),
    ]
    for role in ("viewer", "technician"):
        for method, url, body in [*calls, ("PUT", "/api/procedures/panic", {"text": "x"})]:
            assert hub.client(role).request(method, url, json=body).status_code == 403, (role, url)
        assert hub.client(role).get("/api/procedures").status_code == 200
    for role in ("operator", "admin"):
        for method, url, body in calls:
            assert hub.client(role).request(method, url, json=body).status_code in (200, 201), (role, url)
    assert hub.client("operator").put("/api/procedures/panic", json={"text": "x"}).status_code == 403
    assert hub.client("operator").delete("/api/procedures/panic").status_code == 403
    assert hub.client(None).post(f"/api/alerts/{alert_id}/notes", json={"text": "x"}).status_code == 401
    assert hub.client("admin").put("/api/procedures/panic", json={"text": "Hubungi Kapolsek."}).status_code == 200


def test_dashboard_session_needs_the_csrf_token(hub) -> None:
    alert_id = panic(hub)
    operator, csrf = login(hub, "operator1", "operator")
    url = f"/api/alerts/{alert_id}/notes"
    assert operator.post(url, json={"text": "tanpa token"}).status_code == 403
    assert (
        operator.post(url, json={"text": "token salah"}, headers={"X-CSRF-Token": csrf[:-1] + "x"}).status_code == 403
    )
    assert operator.post("/api/incidents", json=INCIDENT).status_code == 403
    done = operator.post(url, json={"text": "dengan token"}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200
    assert [(e["action"], e["actor"], e["detail"]) for e in done.json()["timeline"]][-1] == (
        "note",
        "operator1",
        "dengan token",
    )
    admin, admin_csrf = login(hub, "admin1", "admin")
    assert admin.put("/api/procedures/tamper", json={"text": "x"}).status_code == 403
    assert (
        admin.put("/api/procedures/tamper", json={"text": "x"}, headers={"X-CSRF-Token": admin_csrf}).status_code == 200
    )


def test_hostile_input_gets_a_clear_422_naming_the_field(hub) -> None:
    alert_id = panic(hub)
    api = hub.client("operator")
    notes = f"/api/alerts/{alert_id}/notes"
    assert field_of(api.post(notes, json={"text": ""})) == ["text"]
    assert field_of(api.post(notes, json={"text": "x" * 1_000_000})) == ["text"]
    assert "at most 500" in api.post(notes, json={"text": "x" * 501}).text
    assert field_of(api.post(notes, json={"text": "\x1b[2Jhapus layar"})) == ["text"]
    refused = api.post(notes, json={"text": "bel\x07"}).json()["detail"][0]
    assert (refused["type"], refused["loc"]) == ("control_chars", ["body", "text"]) and "U+0007" in refused["msg"]
    assert field_of(api.post(notes, json={"text": "\u202egnp.exe"})) == ["text"]
    assert field_of(api.post(notes, json={"text": 42})) == ["text"]
    assert field_of(api.post(notes, json={"text": "ok", "actor": "someone-else"})) == ["actor"]
    assert api.post(notes, content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 422
    assert len(api.post(notes, json={"text": "y" * 100_000}).content) < 2_000  # the text is never echoed back
    assign = f"/api/alerts/{alert_id}/assign"
    assert field_of(api.post(assign, json={"officer_id": "nobody"})) == ["officer_id"]
    assert field_of(api.post(assign, json={})) == ["officer_id"]
    for name, value in [
        ("post", "pos-zz"),
        ("post", "_hub"),
        ("kind", "arson"),
        ("source", "pigeon"),
        ("description", "   "),
        ("reporter", "Pak\x00Budi"),
        ("reporter", "r" * 121),
        ("reporter_phone", "<script>"),
    ]:
        assert field_of(api.post("/api/incidents", json={**INCIDENT, name: value})) == [name], name
    assert field_of(hub.client("admin").put("/api/procedures/panic", json={"text": "a\x00b"})) == ["text"]
    assert field_of(hub.client("admin").put("/api/procedures/panic", json={"text": "p" * 4001})) == ["text"]
    assert hub.client("admin").put("/api/procedures/nonsense", json={"text": "x"}).status_code == 404
    assert api.post("/api/alerts/01ARZ3NDEKTSV4RRFFQ69G5FAV/notes", json={"text": "x"}).status_code == 404
    hub.service.alerts.resolve(alert_id, "operator1", Outcome.REAL, None)
    closed = api.post(notes, json={"text": "terlambat"})
    assert closed.status_code == 409 and "open" in closed.json()["detail"]
    assert api.post(assign, json={"officer_id": hub.service.alerts.assignable()[0].id}).status_code == 409
    assert [e.action for e in hub.service.alerts.get(alert_id).timeline].count("note") == 0  # nothing stored


def test_reported_incident_pages_the_duty_officer_and_shows_on_its_page(hub, sink) -> None:
    api = hub.client("operator")
    created = api.post("/api/incidents", json=INCIDENT)
    assert created.status_code == 201
    alert = created.json()
    assert alert["kind"] == "manual" and alert["details"]["source"] == "phone"
    assert alert["timeline"][0]["action"] == "reported" and alert["timeline"][0]["actor"] == "test-operator"
    page = sink.wait_for(lambda r: r.path == "/agus", timeout=10)  # the Sukamaju officer on duty
    assert page is not None and "LAPORAN MASUK" in page.body["title"]
    assert (
        "Laporan telepon: Pencurian - Motor hilang di depan pos (pelapor: Pak Budi 0812 3456 789)"
        in page.body["message"]
    )
    link = page.body["message"].split("KONFIRMASI (1 ketuk): ", 1)[1].split()[0]
    phone = httpx.get(hub.web.url + "/" + link.split("/", 3)[3]).text  # what the officer opens from the page
    assert 'id="manual-description">Motor hilang di depan pos<' in phone and "Pak Budi 0812 3456 789" in phone
    joined = api.post("/api/incidents", json={**INCIDENT, "description": "Pelaku ke arah pasar", "source": "in_person"})
    assert joined.status_code == 200 and joined.json()["id"] == alert["id"]
    operator, _ = login(hub, "operator1", "operator")
    html = operator.get(f"/alerts/{alert['id']}").text
    assert 'data-testid="manual-card"' in html and "Pak Budi" in html and "telepon" in html
    assert "Laporan masuk (telepon/langsung)" in html and "Pelaku ke arah pasar" in html  # kind label, joined report
    assert 'data-testid="procedure"' in html and "Pastikan nama dan nomor pelapor" in html
    assert (
        hub.client("admin").get("/api/admin/audit", params={"action": "alert.report"}).json()[0]["target"]
        == (alert["id"])
    )


def test_assignment_is_shown_and_the_officer_is_paged_with_an_ack_link(hub, sink) -> None:
    alert_id = panic(hub, "pos-b")
    sink.wait_for(lambda r: r.path == "/sari", timeout=10)  # the duty chain's own page first
    agus = next(o for o in hub.service.alerts.assignable() if o.name == "Bripka Agus")
    assigned = hub.client("operator").post(f"/api/alerts/{alert_id}/assign", json={"officer_id": agus.id})
    assert assigned.status_code == 200 and assigned.json()["assigned_to"] == "Bripka Agus"
    page = sink.wait_for(lambda r: r.path == "/agus", timeout=10)
    assert page is not None and page.body["title"] == "[DITUGASKAN: PANIK] Pos RW 02"
    assert page.body["message"].startswith(
        "Anda ditugaskan menangani PANIK di Pos RW 02, Mulyorejo (oleh test-operator)."
    )
    link = page.body["message"].split("KONFIRMASI (1 ketuk): ", 1)[1].split()[0]
    path = "/" + link.split("/", 3)[3]
    phone = httpx.get(hub.web.url + path)  # the signed ack link works, no login
    assert phone.status_code == 200 and 'id="assigned-to">Bripka Agus<' in phone.text
    viewer, _ = login(hub, "viewer1", "viewer")
    fragment = viewer.get(f"/alerts/{alert_id}?fragment=1").text
    assert 'data-testid="alert-assigned"' in fragment and "Bripka Agus" in fragment
    full = viewer.get(f"/alerts/{alert_id}").text
    assert 'id="note-form"' not in full and 'id="assign-form"' not in full  # viewers see, never act
    operator, _ = login(hub, "operator1", "operator")
    select = operator.get(f"/alerts/{alert_id}").text.split('data-testid="assign-officer"', 1)[1].split("</select>")[0]
    assert select.index("Aiptu Sari") < select.index("Bripka Agus")  # the post's village officer first
    assert f'<option value="{agus.id}" selected>' in select  # the current assignee is preselected


def test_village_accounts_act_only_on_their_villages(hub) -> None:
    other = panic(hub, "pos-b")
    own = panic(hub, "pos-a")
    sukamaju = scoped(hub, "operator", ["Sukamaju"])
    assert sukamaju.post(f"/api/alerts/{other}/notes", json={"text": "x"}).status_code == 404
    assert sukamaju.post(f"/api/alerts/{own}/notes", json={"text": "x"}).status_code == 200
    assert field_of(sukamaju.post("/api/incidents", json={**INCIDENT, "post": "pos-b"})) == ["post"]
    assert sukamaju.post("/api/incidents", json=INCIDENT).status_code == 201


def test_pages_for_incidents_and_procedures(hub) -> None:
    viewer, _ = login(hub, "viewer1", "viewer")
    assert viewer.get("/incidents/new").status_code == 403
    procedures = viewer.get("/procedures")
    assert procedures.status_code == 200 and "Pos kosong" in procedures.text and "procedure-form" not in procedures.text
    operator, _ = login(hub, "operator1", "operator")
    form = operator.get("/incidents/new?post=pos-b")
    assert form.status_code == 200 and 'id="incident-form"' in form.text
    assert '<option value="pos-b" selected>' in form.text and "Kebakaran" in form.text
    assert 'href="/incidents/new"' in operator.get("/").text and 'href="/incidents/new"' not in viewer.get("/").text
    admin, csrf = login(hub, "admin1", "admin")
    assert "procedure-form" in admin.get("/procedures").text
    saved = admin.put(
        "/api/procedures/panic",
        json={"text": "1. Hubungi Kapolsek.\n2. <b>Kirim unit</b>."},
        headers={"X-CSRF-Token": csrf},
    )
    assert saved.status_code == 200 and saved.json()["custom"] and saved.json()["updated_by"] == "admin1"
    alert_id = panic(hub)
    html = operator.get(f"/alerts/{alert_id}").text
    assert "1. Hubungi Kapolsek.\n2. &lt;b&gt;Kirim unit&lt;/b&gt;." in html and "diubah oleh admin1" in html
    english = operator.get("/api/procedures/tamper?lang=en").json()
    assert english["custom"] is False and english["text"].startswith("1. Look at the post's camera")
    reset = admin.delete("/api/procedures/panic", headers={"X-CSRF-Token": csrf})
    assert reset.status_code == 200 and reset.json()["custom"] is False
    actions = [e["action"] for e in hub.client("admin").get("/api/admin/audit", params={"action": "procedure."}).json()]
    assert actions == ["procedure.reset", "procedure.update"]
