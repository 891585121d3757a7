"""The QR poster's phone pages in a real browser on a phone-sized viewport: an officer's visit with a
mocked geolocation (near: recorded; far: flagged; tampered link: refused), and a resident's report that
lands in the operators' console live, is shown as text, escalates with a button, and is throttled."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from hub.community.poster import poster_svg
from tests.browser.test_console import log_in, strong_password
from tests.support import post_entry, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "id-ID",
}
POST_LAT, POST_LON = -7.8014, 110.3647
SCRIPT = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _phone(new_context, base: str, lat: float | None = None, lon: float | None = None):
    context = new_context(**PHONE)
    if lat is not None:
        context.grant_permissions(["geolocation"], origin=base)
        context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 12})
    return context


def test_sambang_near_is_recorded_far_is_flagged_and_a_tampered_link_is_refused(
    make_hub, sink, new_context, screenshot, tmp_path
) -> None:
    hub = make_hub(
        [
            {**post_entry("pos-rw01", "Pos Kamling RW 01", "Sukamaju"), "lat": POST_LAT, "lon": POST_LON},
            {**post_entry("pos-rw02", "Pos Kamling RW 02", "Sukamaju"), "lat": POST_LAT, "lon": POST_LON + 0.02},
        ],
        officers=[{"name": "Bripka Agus", "urls": [sink.url("agus")]}],
    )
    base, community = hub.web.url, hub.service.community
    near_link, lapor_link = community.poster_urls("pos-rw01")

    # the poster itself, as printed (SVG)
    sheet = new_context(viewport={"width": 794, "height": 1123}).new_page()
    sheet.set_content(
        f"<!doctype html><html><body>{poster_svg('Pos Kamling RW 01', 'Sukamaju', near_link, lapor_link)}</body></html>"
    )
    screenshot(sheet, "community-poster", full_page=False)

    context = _phone(new_context, base, POST_LAT + 0.0008, POST_LON)  # ~90 m from the post
    page = context.new_page()
    page.goto(base + _path(community.officer_url("settings-1")))
    expect(page.get_by_test_id("line")).to_contain_text("Bripka Agus")
    page.goto(base + _path(near_link))
    expect(page.get_by_test_id("officer")).to_have_text("Bripka Agus")
    expect(page.get_by_test_id("geo")).to_have_attribute("data-state", "ok")
    page.get_by_label("Catatan").fill("Patroli malam, pos dijaga 3 warga")
    screenshot(page, "community-sambang-phone")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("title")).to_have_text("Kunjungan tercatat")
    expect(page.get_by_test_id("flag")).to_have_text("none", use_inner_text=False)
    screenshot(page, "community-sambang-recorded")

    # far away (~2.2 km from pos-rw02's place): recorded but flagged
    page.goto(base + _path(community.poster_urls("pos-rw02")[0]))
    expect(page.get_by_test_id("geo")).to_have_attribute("data-state", "ok")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("title")).to_have_text("Kunjungan tercatat")
    expect(page.locator("main")).to_contain_text("lebih dari 300 m")
    flags = {v["post"]: v["flag"] for v in hub.client("viewer").get("/api/sambang/visits").json()}
    assert flags == {"pos-rw01": None, "pos-rw02": "far"}

    # a second visit within the hour says when the first was
    page.goto(base + _path(near_link))
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("line")).to_contain_text("sudah tercatat pukul")

    # a tampered poster link
    tampered = _path(near_link)[:-4] + ("AAAA" if not near_link.endswith("AAAA") else "BBBB")
    response = page.goto(base + tampered)
    assert response is not None and response.status == 403
    expect(page.get_by_test_id("line")).to_contain_text("Tautan ini tidak sah")


def test_a_residents_report_reaches_the_console_live_as_text_and_a_flood_is_throttled(
    make_hub, sink, new_context, screenshot
) -> None:
    hub = make_hub(
        [post_entry("pos-rw01", "Pos Kamling RW 01", "Sukamaju")],
        officers=[{"name": "Bripka Agus", "urls": [sink.url("agus")]}],
    )
    password = strong_password()
    hub.service.users.create("operator1", password, "operator")
    base = hub.web.url
    console = log_in(new_context(), base, "operator1", password)
    expect(console.get_by_test_id("live-status")).to_have_attribute("data-connected", "true")
    dialogs: list[str] = []
    console.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    resident = _phone(new_context, base, POST_LAT, POST_LON).new_page()
    resident.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    lapor = base + _path(hub.service.community.poster_urls("pos-rw01")[1])
    resident.goto(lapor)
    resident.get_by_label("Orang atau kendaraan mencurigakan").check()
    resident.get_by_test_id("text").fill(SCRIPT + " dua orang mencoba membuka motor")
    resident.get_by_label(re.compile("Nomor HP")).fill("0812 3456 7890")
    resident.get_by_test_id("share-location").check()
    expect(resident.locator("#geo")).to_have_attribute("data-state", "ok")
    screenshot(resident, "community-lapor-phone")
    resident.get_by_test_id("submit").click()
    expect(resident.get_by_test_id("title")).to_have_text("Laporan terkirim")
    screenshot(resident, "community-lapor-sent")

    row = console.locator("#open-alerts [data-testid=alert-row][data-kind=report]")
    expect(row).to_have_count(1, timeout=10_000)  # live, without a reload
    expect(row).to_contain_text("Laporan warga")
    expect(row).to_contain_text("Pos Kamling RW 01")
    screenshot(console, "community-console-report")

    report_alert = row.get_attribute("data-alert-id")
    row.get_by_test_id("detail-link").click()
    expect(console.get_by_test_id("report-text")).to_have_text(SCRIPT + " dua orang mencoba membuka motor")
    expect(console.get_by_test_id("report-phone")).to_have_text("0812 3456 7890")
    assert console.title() != "pwned" and dialogs == []
    screenshot(console, "community-report-alert")
    console.get_by_test_id("report-escalate").click()
    expect(console).to_have_url(re.compile(r"/alerts/(?!" + re.escape(report_alert or "x") + r"$)\w+$"))
    expect(console.locator("h1")).to_contain_text("eskalasi")
    assert sink.wait_for(lambda r: r.path == "/agus", timeout=15) is not None  # the escalation pages the officer

    # a flood from the same phone: the address limit (3 per 15 min) answers with a clear message
    for _ in range(2):
        resident.goto(lapor)
        resident.get_by_label("Lainnya").check()
        resident.get_by_test_id("submit").click()
        expect(resident.get_by_test_id("title")).to_have_text("Laporan terkirim")
    resident.goto(lapor)
    resident.get_by_label("Lainnya").check()
    resident.get_by_test_id("submit").click()
    expect(resident.get_by_test_id("line")).to_contain_text("Terlalu banyak laporan dari jaringan ini")
    screenshot(resident, "community-lapor-throttled")
    wait_for(lambda: len(hub.client("viewer").get("/api/lapor/reports").json()) == 3, what="three reports stored")
