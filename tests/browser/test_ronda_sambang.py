"""Ronda & Sambang in a real browser: the overview page and the printable weekly village report (as printed),
with the hand-made week of tests/hub/community/test_village_report.py in the hub's stores.
Screenshots: docs/screenshots/ronda-sambang.png, village-report.png, village-report-print.png
(UPDATE_DOCS_SCREENSHOTS=1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.test_console import log_in, strong_password
from tests.hub.web.test_ronda_sambang import NOW, hub  # noqa: F401  (the seeded hub fixture)

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_overview_and_printable_report(hub, new_context, screenshot) -> None:  # noqa: F811
    hub.service.ronda.clock = lambda: NOW + timedelta(days=3)  # the visits have grown old: rawan posts show
    password = strong_password()
    hub.service.users.create("kapolsek", password, "viewer")
    csp_errors: list[str] = []
    context = new_context()
    page = log_in(context, hub.web.url, "kapolsek", password, "/ronda-sambang")
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.reload()
    expect(page.get_by_test_id("rawan-post")).to_have_count(2)
    expect(page.locator("tr.rawan").first).to_be_visible()
    expect(page.locator("[data-testid=village-week][data-village=Sukamaju]")).to_contain_text("1 dari 24 ronde")
    screenshot(page, "ronda-sambang")

    page.goto(f"{hub.web.url}/ronda-sambang/laporan?village=Sukamaju&week=2026-W48")
    report = page.get_by_test_id("village-report")
    expect(report).to_contain_text("Laporan mingguan desa: Sukamaju")
    expect(page.get_by_test_id("vr-compliance")).to_have_text("39%")
    expect(page.get_by_test_id("vr-incidents")).to_have_text("3")
    screenshot(page, "village-report")

    # choosing another week with the form (no script): the week before
    page.get_by_test_id("week-input").fill("2026-W47")
    page.get_by_role("button", name="Tampilkan").click()
    expect(page.get_by_test_id("village-report")).to_have_attribute("data-week", "2026-W47")
    page.go_back()

    page.emulate_media(media="print")
    expect(page.locator("nav.controls")).to_be_hidden()  # the controls stay off the paper
    screenshot(page, "village-report-print")
    assert csp_errors == []
