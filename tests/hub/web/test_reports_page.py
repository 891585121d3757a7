"""The reports page and its CSV over HTTP against the real hub (SQL alert history), with the hand-made
month of tests/hub/alerting/test_reports.py: exact figures, roles, village scope, bad range input
(422 naming the field, never a 500), and hostile post and officer names escaped in the page and the SVG
and neutralised in the CSV."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from hub.web.routes.reports_page import RangeError, parse_range
from tests.hub.alerting.test_reports import handled, month_alerts
from tests.hub.web.test_ronda_sambang import dashboard_user, scoped_token
from tests.support import post_entry

pytestmark = pytest.mark.e2e

EVIL_POST = '<script>alert("pos")</script>'
EVIL_OFFICER = '=HYPERLINK("http://x") <img src=x onerror=alert(1)>'
NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
DECEMBER = {"since": "2026-12-01", "until": "2026-12-31"}


@pytest.fixture
def hub(make_hub):
    harness = make_hub([post_entry("pos-a", "Pos A", "Sukamaju"), post_entry("pos-m", EVIL_POST, "Mekarsari")])
    repository = harness.service.alerts.repository
    for alert in month_alerts().values():
        repository.save(alert)
    # December: a panic at the hostile-named post acknowledged by a hostile "officer" name
    repository.save(handled("pos-m", datetime(2026, 12, 5, 14, 0, tzinfo=UTC), 45, 90, by=EVIL_OFFICER))
    assert repository.flush(timeout=10)
    return harness


def table(page: str, testid: str) -> list[list[str]]:
    """The body rows of one table of the page, as the text of each cell."""
    block = page.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]
    body = block.split("<tbody>", 1)[1]
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_the_page_shows_the_hand_made_month(hub) -> None:
    operator = dashboard_user(hub, "operator")
    response = operator.get("/reports", params=NOVEMBER)
    assert response.status_code == 200 and "script-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    for testid, value in (("sum-incidents", 7), ("sum-false", 1), ("sum-acknowledged", 5), ("sum-resolved", 4)):
        assert f'data-testid="{testid}">{value}<' in page
    assert table(page, "table-village") == [
        ["-", "1", "0", "- / - / -", "0", "- / - / -"],
        ["Mekarsari", "3", "2", "0:03:30 / 0:04:42 / 0:05:00", "2", "0:45:00 / 0:57:00 / 1:00:00"],
        ["Sukamaju", "3", "3", "0:01:00 / 0:01:24 / 0:01:30", "2", "0:15:00 / 0:19:00 / 0:20:00"],
    ]
    assert [r[:4] for r in table(page, "table-officer")] == [
        ["Agus", "3", "3", "0:01:30 / 0:01:54 / 0:02:00"],
        ["Sari", "2", "2", "0:03:00 / 0:04:36 / 0:05:00"],
    ]
    assert [r[:3] for r in table(page, "table-post")] == [
        [EVIL_POST, "Mekarsari", "3"],  # the text, shown; a tie on 3 incidents goes by name ("<" first)
        ["Pos A", "Sukamaju", "3"],
        ["pos-x", "", "1"],
    ]
    assert table(page, "table-hours")[0] == ["Senin", "00:00-01:00", "1"]
    # the charts: inline SVG, named, with the labels as text
    assert 'data-testid="chart-jam-rawan"' in page and 'data-day="6" data-hour="23" data-count="1"' in page
    assert 'data-day="0" data-hour="0" data-count="1"' in page  # Monday 00:00 WIB, 17:00 UTC the day before
    assert ">Sukamaju</text>" in page and '<title id="jam-rawan-title">Jam rawan' in page
    assert "<script>alert(" not in page  # escaped in the table and in the SVG
    assert 'href="/reports/village.csv?since=2026-11-01&amp;until=2026-11-30&amp;lang=id"' in page

    english = operator.get("/reports", params=NOVEMBER | {"lang": "en"}).text
    assert "Crime-prone hours" in english and ">Mon</text>" in english and "Time to acknowledge per village" in english


def test_walk_tests_on_request(hub) -> None:
    operator = dashboard_user(hub, "operator")
    page = operator.get("/reports", params=NOVEMBER | {"include_tests": "1"}).text
    assert 'data-testid="sum-incidents">8<' in page and "include_tests=1" in page


def test_csv_per_table_in_both_languages(hub) -> None:
    operator = hub.client("operator")
    villages = csv_rows(operator.get("/reports/village.csv", params=NOVEMBER | {"lang": "en"}))
    assert villages[2] == {
        "village": "Sukamaju",
        "incidents": "3",
        "acknowledged": "3",
        "tta_p50_s": "60.0",
        "tta_p90_s": "84.0",
        "tta_max_s": "90.0",
        "resolved": "2",
        "ttr_p50_s": "900.0",
        "ttr_p90_s": "1140.0",
        "ttr_max_s": "1200.0",
    }
    officers = csv_rows(operator.get("/reports/officer.csv", params=NOVEMBER))
    assert [(r["petugas"], r["kejadian"], r["tanggap_p90_detik"]) for r in officers] == [
        ("Agus", "3", "114.0"),
        ("Sari", "2", "276.0"),
    ]
    posts = csv_rows(operator.get("/reports/post.csv", params=NOVEMBER | {"lang": "en"}))
    assert [(r["device"], r["incidents"], r["panic"], r["false_alarms"]) for r in posts] == [
        ("pos-m", "3", "1", "0"),
        ("pos-a", "3", "2", "1"),
        ("pos-x", "1", "1", "0"),
    ]
    hours = csv_rows(operator.get("/reports/hour.csv", params=NOVEMBER))
    assert [r["hari"] for r in hours] == ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]
    assert (hours[0]["00"], hours[0]["22"], hours[6]["23"], hours[4]["22"]) == ("1", "1", "1", "0")
    response = operator.get("/reports/hour.csv", params=NOVEMBER)
    assert 'filename="poskamling-hour-2026-11-01-2026-11-30.csv"' in response.headers["content-disposition"]
    # an empty range: the header alone
    empty = operator.get("/reports/officer.csv", params={"since": "2025-01-01", "until": "2025-01-31", "lang": "en"})
    assert empty.status_code == 200 and empty.text.startswith("officer,incidents,acknowledged,tta_p50_s")


def test_operators_and_admins_only(hub) -> None:
    anonymous = httpx.Client(base_url=hub.web.url, timeout=10)
    page = anonymous.get("/reports")
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
    assert anonymous.get("/reports/village.csv").status_code == 401
    for role in ("viewer", "technician"):
        assert hub.client(role).get("/reports/village.csv").status_code == 403
    for role in ("operator", "admin"):
        assert hub.client(role).get("/reports/village.csv", params=NOVEMBER).status_code == 200
    viewer = dashboard_user(hub, "viewer")
    assert viewer.get("/reports").status_code == 403
    assert 'data-testid="nav-reports"' not in viewer.get("/").text
    admin = dashboard_user(hub, "admin")
    assert admin.get("/reports", params=NOVEMBER).status_code == 200
    assert 'data-testid="nav-reports"' in admin.get("/").text


BAD_RANGES = [
    ({"since": "2026-13-01"}, "since"),
    ({"since": "0001-01-01", "until": "0001-01-02"}, "since"),
    ({"until": "31-12-2026"}, "until"),
    ({"since": "2026-11-01T00:00"}, "since"),
    ({"since": "2026-12-01", "until": "2026-11-01"}, "until"),
    ({"since": "2024-01-01", "until": "2026-01-01"}, "since"),
    ({"include_tests": "maybe"}, "include_tests"),
    ({"since": "\x00<script>"}, "since"),
]


def test_bad_range_names_the_field(hub) -> None:
    operator = dashboard_user(hub, "operator")
    api = hub.client("operator")
    for params, field in BAD_RANGES:
        page = operator.get("/reports", params=params)
        assert page.status_code == 422, params
        assert f'data-testid="range-error" data-field="{field}"' in page.text and f"({field})" in page.text, params
        assert "<script>" not in page.text.split("<main>", 1)[1]
        csv_response = api.get("/reports/post.csv", params=params | {"lang": "en"})
        assert csv_response.status_code == 422 and f"({field})" in csv_response.json()["detail"], params
    assert api.get("/reports/everything.csv").status_code == 422


def test_the_default_range_is_the_last_30_days(hub) -> None:
    operator = dashboard_user(hub, "operator")
    page = operator.get("/reports").text
    today = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    first = today - timedelta(days=29)
    assert (
        f'name="since" value="{first.isoformat()}"' in page
        or f'name="since" value="{(first - timedelta(days=1)).isoformat()}"' in page
    )


def test_hostile_names_are_escaped_and_neutralised(hub) -> None:
    operator = dashboard_user(hub, "operator")
    page = operator.get("/reports", params=DECEMBER).text
    assert "<img src=x" not in page and "<script>alert(" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the officer, shown as text (table and chart)
    assert table(page, "table-officer")[0][0] == EVIL_OFFICER
    officers = csv_rows(hub.client("operator").get("/reports/officer.csv", params=DECEMBER | {"lang": "en"}))
    assert officers[0]["officer"] == "'" + EVIL_OFFICER  # a spreadsheet shows it, never runs it
    posts = csv_rows(hub.client("operator").get("/reports/post.csv", params=DECEMBER | {"lang": "en"}))
    assert posts[0]["post"] == EVIL_POST


def test_an_account_limited_to_sukamaju_sees_only_sukamaju(hub) -> None:
    officer = dashboard_user(hub, "operator", ("Sukamaju",))
    page = officer.get("/reports", params=NOVEMBER).text
    assert 'data-testid="sum-incidents">3<' in page
    assert "Mekarsari" not in page and "pos-m" not in page and "pos-x" not in page and "alert(" not in page
    token = scoped_token(hub, "operator", ["Sukamaju"])
    assert [r["desa"] for r in csv_rows(token.get("/reports/village.csv", params=NOVEMBER))] == ["Sukamaju"]
    assert [r["perangkat"] for r in csv_rows(token.get("/reports/post.csv", params=NOVEMBER))] == ["pos-a"]


def test_parse_range_local_days_both_included() -> None:
    today = date(2026, 12, 2)
    chosen = parse_range(None, None, None, today, "Asia/Jakarta")
    assert (chosen.first, chosen.last, chosen.include_tests) == (date(2026, 11, 3), today, False)
    chosen = parse_range("2026-11-01", " 2026-11-30 ", "on", today, "Asia/Makassar")
    assert chosen.since == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 1 November 00:00 WITA
    assert chosen.until == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 1 December 00:00 WITA: 30 November included
    assert chosen.include_tests and chosen.query() == "since=2026-11-01&until=2026-11-30&include_tests=1"
    assert parse_range("2026-11-30", "2026-11-30", "0", today, "UTC").until - parse_range(
        "2026-11-30", "2026-11-30", "0", today, "UTC"
    ).since == timedelta(days=1)
    with pytest.raises(RangeError) as error:
        parse_range("2025-12-01", "2026-12-02", None, today, "UTC")  # 367 days
    assert error.value.field == "since"
    assert parse_range("2025-12-02", "2026-12-02", None, today, "UTC").first == date(2025, 12, 2)  # 366 days


def test_the_json_report_reads_the_history_not_only_memory(hub) -> None:
    """/api/reports over a past month: its alerts are in the SQL history only (the hub keeps open and
    recent ones in memory), so a report from memory alone would be empty."""
    from hub.alerting.reports import select

    since, until = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    stored = hub.service.alerts.repository.scan(since, until)  # what the fixture stored for November
    expected = {a.id for a in select(stored, since, until)}
    assert expected and not {a.id for a in hub.service.alerts.all()} & expected  # history only
    client = hub.client("viewer")
    body = client.get("/api/reports", params={"since": since.isoformat(), "until": until.isoformat()}).json()
    assert {row["alert_id"] for row in body["alerts"]} == expected
    rows = csv_rows(client.get("/api/reports/alerts.csv", params={"since": since.isoformat()}))
    assert {row["alert_id"] for row in rows} >= expected  # since alone: until now
