"""The dashboard in a real browser: a panic press reaches the open console without a reload,
an acknowledgement in one browser shows in another, and the post's LED follows."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.support import post_entry, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

DEADLINE_MS = 10_000


def strong_password() -> str:
    return "Pw-" + secrets.token_urlsafe(18)


def log_in(context, base: str, username: str, password: str, path: str = "/"):
    page = context.new_page()
    page.goto(f"{base}{path}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label(re.compile("Nama pengguna|User name")).fill(username)
    page.get_by_label(re.compile("Kata sandi|Password")).fill(password)
    page.get_by_role("button", name=re.compile("^(Masuk|Log in)$")).click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    return page


def test_panic_appears_live_and_acknowledgement_reaches_other_browsers_and_the_post(
    make_hub, make_post, new_context, screenshot
) -> None:
    hub = make_hub(
        [
            post_entry("pos-x", "Pos Kamling RW 05", "Sukamaju"),
            {"device_id": "pos-y", "name": "Pos Kamling RW 07", "village": "Mulyorejo", "lat": -7.812, "lon": 110.392},
            {"device_id": "pos-z", "name": "Pos Kamling RT 03", "village": "Sukamaju", "lat": -7.791, "lon": 110.381},
        ]
    )
    password = strong_password()
    hub.service.users.create("operator1", password, "operator")
    base = hub.web.url
    post = make_post("pos-x")
    make_post("pos-y")
    wait_for(lambda: hub.service.registry.state("pos-x").online, what="pos-x online at the hub")

    first = log_in(new_context(), base, "operator1", password)
    second = log_in(new_context(), base, "operator1", password)
    for page in (first, second):
        expect(page.get_by_test_id("live-status")).to_have_attribute("data-connected", "true")
        expect(page.get_by_text("Tidak ada peringatan terbuka.")).to_be_visible()

    post.press()

    # Both open consoles show the alert without a reload, on top, waiting for someone.
    rows = [page.locator("#open-alerts [data-testid=alert-row][data-kind=panic]") for page in (first, second)]
    for row in rows:
        expect(row).to_have_count(1, timeout=DEADLINE_MS)
        expect(row).to_contain_text("Pos Kamling RW 05")
        expect(row.get_by_test_id("ack-button")).to_be_visible()
    wait_for(lambda: post.led_state() == "alert_open", what="post LED shows the open alert")
    expect(first.locator("body.flash")).to_have_count(0)  # the new-panic flash is over
    screenshot(first, "console")

    rows[0].get_by_test_id("ack-button").click()

    for row in rows:
        expect(row).to_have_attribute("data-state", "acknowledged", timeout=DEADLINE_MS)
        expect(row.get_by_test_id("row-state")).to_have_text("Dikonfirmasi")
        expect(row.get_by_test_id("ack-button")).to_have_count(0)
    wait_for(lambda: post.led_state() == "alert_acknowledged", what="post LED shows help is coming")
    alert = hub.service.alerts.all()[0]
    assert alert.acknowledged_by == "operator1"

    # The detail page (an officer's link opens it) shows who was paged and who acknowledged.
    rows[1].get_by_test_id("detail-link").click()
    expect(second).to_have_url(re.compile(f"/alerts/{alert.id}$"))
    expect(second.get_by_test_id("alert-acked-by")).to_contain_text("operator1")
    expect(second.get_by_test_id("alert-paged")).to_contain_text("officer", timeout=DEADLINE_MS)
    expect(second.get_by_test_id("timeline").locator("[data-action=acknowledged]")).to_contain_text("dikonfirmasi")
    expect(second.get_by_test_id("ack-button")).to_be_hidden()
    screenshot(second, "alert-detail")

    # Resolving from the console dialog: the alert leaves the open list in both browsers.
    rows[0].get_by_test_id("resolve-button").click()
    dialog = first.locator("#resolve-dialog")
    dialog.get_by_label("Hasil").select_option("false_alarm")
    dialog.get_by_label("Catatan").fill("anak bermain tombol")
    dialog.get_by_role("button", name="Selesaikan").click()
    expect(second.get_by_test_id("alert-state")).to_have_text("Selesai", timeout=DEADLINE_MS)
    expect(first.locator("#open-alerts [data-testid=alert-row]")).to_have_count(0)
    expect(first.locator("#closed-alerts [data-testid=alert-row]")).to_contain_text("Alarm palsu")
    wait_for(lambda: post.led_state() == "connected", what="post LED back to normal")

    # The posts page: a list and an offline map with every post that has coordinates.
    posts = first.context.new_page()
    posts.goto(f"{base}/posts")
    expect(posts.get_by_test_id("posts-map").locator("g.marker")).to_have_count(3)
    expect(posts.locator("#post-pos-x .conn")).to_contain_text("Terhubung")
    expect(posts.locator("#post-pos-z .conn")).to_contain_text("Belum terdengar")
    screenshot(posts, "posts-map")


def test_missed_events_are_replayed_after_the_stream_reconnects(make_hub, make_post, new_context) -> None:
    hub = make_hub([post_entry("pos-x", "Pos Kamling RW 05")])
    password = strong_password()
    hub.service.users.create("operator1", password, "operator")
    post = make_post("pos-x")
    wait_for(lambda: hub.service.registry.state("pos-x").online, what="pos-x online")
    context = new_context()
    page = log_in(context, hub.web.url, "operator1", password)
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-connected", "true")

    context.set_offline(True)  # the operator's LAN cable is pulled ...
    post.press()
    wait_for(lambda: hub.service.alerts.all(), what="alert raised while the browser is offline")
    context.set_offline(False)  # ... and plugged back in: EventSource reconnects by itself

    row = page.locator("#open-alerts [data-testid=alert-row]")
    expect(row).to_have_count(1, timeout=DEADLINE_MS)
    expect(row).to_contain_text("Pos Kamling RW 05")


def test_phone_sized_alert_link_asks_for_login_then_opens_the_alert(
    make_hub, make_post, new_context, screenshot
) -> None:
    hub = make_hub([post_entry("pos-x", "Pos Kamling RW 05")])
    password = strong_password()
    hub.service.users.create("operator1", password, "operator")
    post = make_post("pos-x")
    wait_for(lambda: hub.service.registry.state("pos-x").online, what="pos-x online")
    post.press()
    alert = wait_for(lambda: hub.service.alerts.all(), what="alert raised")[0]
    phone = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = log_in(phone, hub.web.url, "operator1", password, path=f"/alerts/{alert.id}")
    page.get_by_test_id("ack-button").click()
    expect(page.get_by_test_id("alert-state")).to_have_text("Dikonfirmasi", timeout=DEADLINE_MS)
    expect(page.get_by_test_id("ack-button")).to_be_hidden()
    wait_for(lambda: post.led_state() == "alert_acknowledged", what="post LED shows help is coming")
    page.goto(f"{hub.web.url}/alerts/{alert.id}?lang=en")
    expect(page.get_by_test_id("alert-state")).to_have_text("Acknowledged")
    screenshot(page, "alert-phone")
