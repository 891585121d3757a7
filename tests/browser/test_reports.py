"""The reports page in a real browser: the SVG charts render under the dashboard's CSP with the expected
labels, the range chooser works, the CSV downloads; in Bahasa Indonesia and English.
Data: the hand-made month of tests/hub/alerting/test_reports.py plus 30 night panics at a third post
(deterministic), so the heat map shows its *jam rawan*. Screenshots: docs/screenshots/reports-id.png and
reports-en.png (UPDATE_DOCS_SCREENSHOTS=1)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.test_console import log_in, strong_password
from tests.hub.alerting.test_reports import handled, month_alerts
from tests.support import post_entry

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

RANGE = "/reports?since=2026-11-01&until=2026-11-30"


def night_panics() -> list:
    """30 panics at pos-b on Friday and Saturday nights, 21:00 to 01:00 WIB; answered in 1 to 10 minutes."""
    alerts = []
    first_friday = datetime(2026, 11, 6, 14, 0, tzinfo=UTC)  # Friday 6 November, 21:00 WIB
    for index in range(30):
        week, night, hour = index // 8, index % 2, (index // 2) % 4
        opened = first_friday + timedelta(days=7 * week + night, hours=hour, minutes=7 * index % 50)
        alerts.append(handled("pos-b", opened, 60 + 19 * index, 1800 + 60 * index, by="Bripka Dedi"))
    return alerts


@pytest.fixture
def hub(make_hub):
    harness = make_hub(
        [
            post_entry("pos-a", "Pos Kamling RW 01", "Sukamaju"),
            post_entry("pos-m", "Pos Mekar Jaya", "Mekarsari"),
            post_entry("pos-b", "Pos Kamling RW 03", "Sukamaju"),
        ]
    )
    repository = harness.service.alerts.repository
    for alert in [*month_alerts().values(), *night_panics()]:
        repository.save(alert)
    assert repository.flush(timeout=10)
    return harness


def test_the_reports_page_draws_its_charts(hub, new_context, screenshot) -> None:
    password = strong_password()
    hub.service.users.create("piket", password, "operator")
    csp_errors: list[str] = []
    context = new_context(accept_downloads=True)
    page = log_in(context, hub.web.url, "piket", password, RANGE)
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.reload()

    expect(page.get_by_test_id("sum-incidents")).to_have_text("37")  # 7 hand-made + 30 night panics
    heat = page.get_by_role("img", name="Jam rawan: kejadian per jam dalam seminggu")
    expect(heat).to_be_visible()
    box = heat.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 150  # drawn, not an empty box
    for day in ("Senin", "Jumat", "Minggu"):
        expect(heat.locator("text.label", has_text=day)).to_have_count(1)
    expect(heat.locator("text.hour")).to_have_count(24)
    expect(heat.locator('rect[data-day="6"][data-hour="23"]')).to_have_attribute("data-count", "1")
    hottest = heat.locator("rect.level-5")
    expect(hottest.first).to_be_visible()
    villages = page.get_by_role("img", name="Waktu tanggap per desa")
    expect(villages.locator("text.label")).to_have_text(["Sukamaju", "Mekarsari", "-"])  # slowest p90 first (pos-b)
    expect(page.get_by_role("img", name="Waktu tanggap per petugas").locator("text.label")).to_contain_text(
        ["Bripka Dedi", "Sari", "Agus"]  # p90: 555.9 s, 276 s, 114 s
    )
    posts = page.get_by_role("img", name="Kejadian per pos").locator("text.label")
    expect(posts.first).to_have_text("Pos Kamling RW 03")
    busiest = page.get_by_test_id("table-hours").locator("tbody tr")
    expect(busiest.first.locator("td")).to_have_text(["Sabtu", "21:00-22:00", "5"])  # 4 night panics + m9
    expect(busiest.nth(1).locator("td")).to_have_text(["Jumat", "21:00-22:00", "4"])
    expect(heat.locator('rect[data-day="5"][data-hour="21"]')).to_have_class("cell level-5")
    screenshot(page, "reports-id")

    with page.expect_download() as download:
        page.get_by_test_id("csv-post").click()
    assert download.value.suggested_filename == "poskamling-post-2026-11-01-2026-11-30.csv"
    assert "Pos Kamling RW 03" in download.value.path().read_text(encoding="utf-8")

    # the range chooser (no script): one week, then a date that is not one
    page.get_by_test_id("since-input").fill("2026-11-16")
    page.get_by_test_id("until-input").fill("2026-11-22")
    page.get_by_role("button", name="Tampilkan").click()
    expect(page).to_have_url(re.compile(r"since=2026-11-16&until=2026-11-22"))
    expect(page.get_by_test_id("range-period")).to_contain_text("16-11-2026 s.d. 22-11-2026")

    page.goto(f"{hub.web.url}{RANGE}&lang=en")
    expect(page.get_by_role("img", name="Crime-prone hours: incidents per hour of the week")).to_be_visible()
    expect(
        page.get_by_role("img", name="Crime-prone hours: incidents per hour of the week").locator("text.label")
    ).to_have_text(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    expect(page.get_by_role("link", name="Reports")).to_have_attribute("aria-current", "page")
    screenshot(page, "reports-en")

    page.goto(f"{hub.web.url}/reports?since=2026-02-30&lang=en")
    expect(page.get_by_role("alert")).to_contain_text("From date (since): not a valid date")
    assert csp_errors == []
