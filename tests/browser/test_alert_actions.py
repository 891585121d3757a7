"""Operators' actions in a real browser (issue 15): a note and an assignment made in one dashboard
appear in a second one without a reload; a bad note gets a clear message; an incident entered from
the phone form shows in another operator's console live."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.test_console import log_in
from tests.support import post_entry, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

DEADLINE_MS = 10_000


def test_a_note_and_an_assignment_reach_the_other_dashboard_live(
    make_hub, make_post, new_context, sink, screenshot
) -> None:
    hub = make_hub(
        [post_entry("pos-x", "Pos Kamling RW 05", "Sukamaju")],
        officers=[
            {"name": "Bripka Agus", "urls": [sink.url("agus")], "villages": ["Sukamaju"]},
            {"name": "Ipda Rudi", "urls": [sink.url("rudi")], "level": 2},
        ],
    )
    password = "Pw-" + secrets.token_urlsafe(18)
    hub.service.users.create("operator1", password, "operator")
    hub.service.users.create("operator2", password, "operator")
    post = make_post("pos-x")
    wait_for(lambda: hub.service.registry.state("pos-x").online, what="pos-x online at the hub")
    post.press()
    alert = wait_for(lambda: hub.service.alerts.all(), what="panic alert")[0]
    path = f"/alerts/{alert.id}"

    writer = log_in(new_context(), hub.web.url, "operator1", password, path)
    reader = log_in(new_context(), hub.web.url, "operator2", password, path)
    for page in (writer, reader):
        expect(page.get_by_test_id("live-status")).to_have_attribute("data-connected", "true")
        expect(page.get_by_test_id("procedure-text")).to_contain_text("Bhabinkamtibmas")  # the panic procedure
    reader.evaluate("window.__sameDocument = true")  # gone if the page reloads

    writer.get_by_test_id("note-text").fill("Penjaga menelepon: dua orang, motor merah")
    writer.get_by_test_id("note-submit").click()
    note = reader.get_by_test_id("timeline").locator("[data-action=note]")
    expect(note).to_contain_text("Penjaga menelepon: dua orang, motor merah", timeout=DEADLINE_MS)
    expect(note).to_contain_text("operator1")
    expect(writer.get_by_test_id("note-text")).to_have_value("")  # the form is ready for the next note

    rudi = next(o.id for o in hub.service.alerts.assignable() if o.name == "Ipda Rudi")
    writer.get_by_test_id("assign-officer").select_option(rudi)
    writer.get_by_test_id("assign-submit").click()
    expect(reader.get_by_test_id("alert-assigned")).to_have_text("Ipda Rudi", timeout=DEADLINE_MS)
    expect(reader.get_by_test_id("timeline").locator("[data-action=assigned]")).to_contain_text("Ipda Rudi")
    assert reader.evaluate("window.__sameDocument === true"), "the second dashboard reloaded"
    page = sink.wait_for(lambda r: r.path == "/rudi", timeout=10)
    assert page is not None and page.body["message"].startswith("Anda ditugaskan menangani PANIK")

    # A note of blanks only: refused with the field named, nothing added.
    writer.get_by_test_id("note-text").fill("   ")
    writer.get_by_test_id("note-submit").click()
    expect(writer.get_by_test_id("ops-error")).to_contain_text("Teks: tidak boleh kosong")
    expect(reader.get_by_test_id("timeline").locator("[data-action=note]")).to_have_count(1)
    screenshot(writer, "alert-actions")


def test_an_incident_entered_from_the_form_shows_live_in_another_console(make_hub, new_context, sink) -> None:
    hub = make_hub([post_entry("pos-x", "Pos Kamling RW 05", "Sukamaju")])
    password = "Pw-" + secrets.token_urlsafe(18)
    hub.service.users.create("operator1", password, "operator")
    console = log_in(new_context(), hub.web.url, "operator1", password)
    expect(console.get_by_test_id("live-status")).to_have_attribute("data-connected", "true")

    desk = log_in(new_context(), hub.web.url, "operator1", password, "/incidents/new")
    desk.get_by_test_id("incident-kind").select_option("fire")
    desk.get_by_test_id("incident-description").fill("Asap dari gudang beras")
    desk.get_by_test_id("incident-reporter").fill("Pak Budi")
    desk.get_by_test_id("incident-phone").fill("0812 3456 789")
    desk.get_by_test_id("incident-submit").click()
    expect(desk).to_have_url(re.compile(r"/alerts/[0-9A-Z]{26}$"), timeout=DEADLINE_MS)
    expect(desk.get_by_test_id("manual-card")).to_contain_text("Pak Budi")
    expect(desk.get_by_test_id("manual-kind")).to_have_text("Kebakaran")

    row = console.locator("#open-alerts [data-testid=alert-row][data-kind=manual]")
    expect(row).to_have_count(1, timeout=DEADLINE_MS)
    expect(row).to_contain_text("Pos Kamling RW 05")
    page = sink.wait_for(lambda r: r.path == "/officer", timeout=10)
    assert page is not None and "Asap dari gudang beras" in page.body["message"]

    # An assignment made elsewhere (here: the API) shows in the console's row live.
    alert_id = row.get_attribute("data-alert-id")
    officer = hub.service.alerts.assignable()[0]
    assigned = hub.client("operator").post(f"/api/alerts/{alert_id}/assign", json={"officer_id": officer.id})
    assert assigned.status_code == 200
    expect(row.get_by_test_id("row-assigned")).to_have_text(f" → {officer.name}", timeout=DEADLINE_MS)
