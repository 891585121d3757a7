"""End to end (issue 15): a guard presses the panic button on a real edge agent; on the dashboard an
operator adds a note and assigns a named officer, who is paged "you are assigned" at their phone
(the HTTP sink) and acknowledges with the link in that page; the note, the assignment and the audit
survive a hub restart."""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.support import post_entry, wait_for

pytestmark = pytest.mark.e2e


def test_panic_note_and_assignment_page_the_assigned_officer(make_hub, make_post, sink) -> None:
    hub = make_hub(
        [post_entry("pos-rw01", "Pos Kamling RW 01", "Sukamaju")],
        officers=[
            {"name": "Bripka Agus", "urls": [sink.url("agus")], "villages": ["Sukamaju"]},
            {"name": "Ipda Rudi", "urls": [sink.url("rudi")], "level": 2, "language": "en"},
        ],
    )
    post = make_post("pos-rw01")
    wait_for(lambda: hub.service.registry.state("pos-rw01").online, what="post online at the hub")
    password = "Pw-" + secrets.token_urlsafe(16)
    hub.service.users.create("operator1", password, "operator")
    dashboard = httpx.Client(base_url=hub.web.url, timeout=10)
    assert dashboard.post("/login", data={"username": "operator1", "password": password}).status_code == 303
    csrf = {"X-CSRF-Token": dashboard.get("/api/auth/me").json()["csrf_token"]}

    post.press()
    first = sink.wait_for(lambda r: r.path == "/agus", timeout=15)  # the village officer on duty
    assert first is not None and "PANIK" in first.body["title"]
    alert_id = wait_for(lambda: dashboard.get("/api/alerts").json(), what="alert listed")[0]["id"]

    note = dashboard.post(f"/api/alerts/{alert_id}/notes", json={"text": "Penjaga menelepon: 2 orang"}, headers=csrf)
    assert note.status_code == 200, note.text
    rudi = next(o.id for o in hub.service.alerts.assignable() if o.name == "Ipda Rudi")  # the officers list
    assigned = dashboard.post(f"/api/alerts/{alert_id}/assign", json={"officer_id": rudi}, headers=csrf)
    assert assigned.status_code == 200 and assigned.json()["assigned_to"] == "Ipda Rudi"

    page = sink.wait_for(lambda r: r.path == "/rudi", timeout=15)
    assert page is not None, "the assigned officer was not paged"
    assert page.body["title"] == "[ASSIGNED: PANIC] Pos Kamling RW 01"
    message = page.body["message"]
    assert message.startswith("You are assigned to PANIC at Pos Kamling RW 01, Sukamaju (by operator1).")
    assert f"/alerts/{alert_id}" in message
    ack_url = message.split("ACKNOWLEDGE (one tap): ", 1)[1].split()[0]
    ack_path = "/" + ack_url.split("/", 3)[3]

    # The officer's link is no credential for operators' actions, nor for the procedures.
    phone = httpx.Client(base_url=hub.web.url, timeout=10)
    token = {"Authorization": f"Bearer {ack_path.rsplit('/', 1)[1]}"}
    assert phone.post(f"/api/alerts/{alert_id}/notes", json={"text": "x"}, headers=token).status_code == 401
    assert phone.post(f"/api/alerts/{alert_id}/assign", json={"officer_id": rudi}, headers=token).status_code == 401
    assert phone.put("/api/procedures/panic", json={"text": "x"}, headers=token).status_code == 401

    # The officer taps the link in the page: acknowledged in their name, and the post is told.
    tapped = phone.post(ack_path, follow_redirects=False)
    assert tapped.status_code == 303
    api = hub.client("operator")
    wait_for(lambda: api.get(f"/api/alerts/{alert_id}").json()["acknowledged_by"] == "Ipda Rudi", what="acked")
    wait_for(lambda: post.led_state() == "alert_acknowledged", what="post LED shows help is coming")
    timeline = api.get(f"/api/alerts/{alert_id}").json()["timeline"]
    assert [(e["action"], e["actor"]) for e in timeline if e["action"] in ("note", "assigned")] == [
        ("note", "operator1"),
        ("assigned", "operator1"),
    ]
    assert any(e["action"] == "notified" and e["detail"] == "Ipda Rudi (assigned)" for e in timeline)

    # Stored in SQL and audited: all still there after a restart.
    hub.stop()
    hub.start()
    again = hub.client("operator").get(f"/api/alerts/{alert_id}").json()
    assert again["assigned_to"] == "Ipda Rudi" and again["assigned_id"] == rudi
    assert [e["detail"] for e in again["timeline"] if e["action"] == "note"] == ["Penjaga menelepon: 2 orang"]
    audit = hub.client("admin").get("/api/admin/audit", params={"action": "alert.", "limit": 50}).json()
    assert {("alert.note", "operator1"), ("alert.assign", "operator1"), ("alert.ack", "Ipda Rudi")} <= {
        (a["action"], a["actor"]) for a in audit if a["target"] == alert_id
    }
