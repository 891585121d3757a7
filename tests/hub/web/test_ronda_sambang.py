"""Ronda & Sambang over HTTP against the real hub: the page, the printable weekly report and its CSV;
roles, village scoping (a Sukamaju account never sees Mekarsari), CSV formula injection guarded.

The hand-made week of tests/hub/community/test_village_report.py goes into the hub's real stores
(event log, visits, alert history in SQL, ronda roster); the hub's ronda clock is set to Monday
30 November 2026, 12:00 WIB, so "the last full week" is 2026-W48.
"""

from __future__ import annotations

import csv
import io
import secrets
from datetime import timedelta

import httpx
import pytest

from hub.accounts.auth import new_token
from hub.settings import ApiTokenSettings
from kamling.protocol import new_event_id
from tests.hub.community.test_village_report import ALERTS, RECORDS, ROSTER, VISITS, at
from tests.support import post_entry

pytestmark = pytest.mark.e2e

NOW = at(30, 12)
HOSTILE = '=HYPERLINK("http://x")'


@pytest.fixture
def hub(make_hub):
    harness = make_hub(
        [
            post_entry("pos-a", "Pos RW 01", "Sukamaju"),
            post_entry("pos-b", HOSTILE, "Sukamaju"),
            post_entry("pos-m", "Pos Mekar", "Mekarsari"),
            post_entry("pos-c", "Pos Cempaka", "Mekarsari"),
        ]
    )
    service = harness.service
    service.ronda.clock = lambda: NOW
    for guard in ROSTER.guards:
        service.ronda.store.put_guard(guard)
    for change in ROSTER.changes:
        service.ronda.store.add_change(guard_id=change.guard_id, night=change.night, kind=change.kind, note=change.note)
    events = []
    for seq, record in enumerate(RECORDS, start=1):
        received = record["received_at"]
        events.append(
            {
                "id": new_event_id(),
                "device": record["device"],
                "seq": seq,
                "kind": record["kind"],
                "ts": received,
                "data": {},
                "test": bool(record.get("test")),
                "received_at": received,
            }
        )
    service.store.append([e for e in events if e["received_at"] != "not a time"])
    for visit in VISITS:
        service.community.store.add_visit(visit)
    for alert in ALERTS:
        service.alerts.repository.save(alert)
    assert service.alerts.repository.flush(timeout=10)
    return harness


def scoped_token(hub, role: str, villages: list[str]) -> httpx.Client:
    token, digest = new_token()
    hub.service.settings.api_tokens.append(
        ApiTokenSettings(name=f"scoped-{role}", role=role, sha256=digest, villages=villages)
    )
    return httpx.Client(base_url=hub.web.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def dashboard_user(hub, role: str = "viewer", villages: tuple[str, ...] = ()) -> httpx.Client:
    name = f"u{secrets.token_hex(4)}"
    password = "Pw-" + secrets.token_urlsafe(16)
    hub.service.users.create(name, password, role, villages)
    client = httpx.Client(base_url=hub.web.url, timeout=10)
    assert client.post("/login", data={"username": name, "password": password, "next": "/"}).status_code == 303
    return client


def rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_the_weekly_csv_carries_the_hand_made_weeks_figures_in_both_languages(hub) -> None:
    viewer = hub.client("viewer")
    # no week: the last full week (2026-W48 on the hub's clock)
    english = rows(viewer.get("/ronda-sambang/laporan.csv", params={"village": "Sukamaju", "lang": "en"}))
    assert [r["device"] for r in english] == ["pos-b", "pos-a", ""]
    total = english[-1]
    assert (total["week"], total["post"], total["rounds_kept"], total["rounds_expected"], total["compliance_pct"]) == (
        "2026-W48",
        "TOTAL",
        "7",
        "18",
        "39",
    )
    assert (total["visits"], total["visits_flagged"], total["incidents"], total["false"]) == ("2", "1", "3", "1")
    assert (total["tta_median_s"], total["tta_max_s"], total["ttr_median_s"]) == ("120.0", "300.0", "1800.0")
    assert english[0]["post"] == "'" + HOSTILE  # a spreadsheet shows it as text, never runs it

    indonesian = rows(viewer.get("/ronda-sambang/laporan.csv", params={"village": "sukamaju", "week": "2026-W48"}))
    assert indonesian[-1]["pos"] == "JUMLAH" and indonesian[-1]["ronde_ditepati"] == "7"
    assert not any(cell.lstrip().startswith(("=", "+", "-", "@")) for row in indonesian for cell in row.values())

    earlier = rows(viewer.get("/ronda-sambang/laporan.csv", params={"village": "Sukamaju", "week": "2026-W47"}))
    assert earlier[-1]["ronde_ditepati"] == "0" and earlier[-1]["kunjungan"] == "1"  # Sunday 22 November's visit
    assert viewer.get("/ronda-sambang/laporan.csv", params={"week": "2026-48"}).status_code == 422


def test_roles_and_logins(hub) -> None:
    anonymous = httpx.Client(base_url=hub.web.url, timeout=10)
    assert anonymous.get("/ronda-sambang/laporan.csv").status_code == 401
    for path in ("/ronda-sambang", "/ronda-sambang/laporan"):
        response = anonymous.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    assert hub.client("technician").get("/ronda-sambang/laporan.csv").status_code == 200
    viewer = dashboard_user(hub)
    page = viewer.get("/ronda-sambang")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert viewer.get("/ronda-sambang/laporan").status_code == 200  # default village: the first, Mekarsari


def test_a_sukamaju_account_never_sees_mekarsari(hub) -> None:
    officer = scoped_token(hub, "operator", ["Sukamaju"])
    only = rows(officer.get("/ronda-sambang/laporan.csv"))  # default village: its own
    assert {r["desa"] for r in only} == {"Sukamaju"} and "Mekar" not in str(only)
    assert officer.get("/ronda-sambang/laporan.csv", params={"village": "Mekarsari"}).status_code == 404
    assert officer.get("/ronda-sambang/laporan.csv", params={"village": "Atlantis"}).status_code == 404

    bhabin = dashboard_user(hub, "viewer", ("Sukamaju",))
    for path in ("/ronda-sambang", "/ronda-sambang/laporan", "/ronda-sambang/laporan?village=Sukamaju&week=2026-W48"):
        page = bhabin.get(path)
        assert page.status_code == 200
        assert "Mekar" not in page.text and "pos-m" not in page.text and "pos-c" not in page.text
        assert "Pos RW 01" in page.text
    assert bhabin.get("/ronda-sambang/laporan", params={"village": "Mekarsari"}).status_code == 404
    assert bhabin.get("/ronda-sambang/laporan.csv", params={"village": "Mekarsari"}).status_code == 404


def test_the_page_shows_tonight_the_week_and_the_rawan_posts(hub) -> None:
    client = dashboard_user(hub)
    page = client.get("/ronda-sambang?lang=en").text
    # every post with incidents this month was visited this week (pos-b this morning): none is rawan
    assert 'data-testid="rawan-post"' not in page and "No rawan post" in page
    assert HOSTILE not in page and "=HYPERLINK(&#34;http://x&#34;)" in page  # shown, escaped
    # pos-a's last visit is shown tonight (26-11-2026 10:00 WIB)
    assert "26-11-2026 10:00:00 WIB" in page
    # the last 7 nights per village: Sukamaju 7 of 18 rounds; visits over 7 days: 2 at pos-a, 1 at pos-b this morning
    sukamaju = page.split('data-village="Sukamaju"', 1)[1].split("</section>", 1)[0]
    assert "39%" in sukamaju and "7 of 18 rounds" in sukamaju
    assert '<strong data-testid="village-visits">3</strong>' in sukamaju

    # three days later the visits to pos-a (26th) and pos-m (25th) are over 7 days old: both rawan
    hub.service.ronda.clock = lambda: NOW + timedelta(days=3)
    page = client.get("/ronda-sambang?lang=en").text
    rawan = page.split('data-testid="rawan"', 1)[1].split("</section>", 1)[0]
    assert rawan.count('data-testid="rawan-post"') == 2
    assert rawan.index('data-device="pos-a"') < rawan.index('data-device="pos-m"')  # 2 incidents before 1
    assert "2 incident(s) in 30 days" in rawan
    assert page.count('data-testid="rawan-badge"') == 2  # highlighted in tonight's table too


def test_the_printable_report_in_both_languages(hub) -> None:
    client = dashboard_user(hub)
    indonesian = client.get("/ronda-sambang/laporan", params={"village": "Sukamaju", "week": "2026-W48"}).text
    assert "Laporan mingguan desa: Sukamaju" in indonesian and "7 dari 18 ronde" in indonesian
    assert "0:02:00" in indonesian  # median time to acknowledge, 120 s
    assert "<script" not in indonesian  # a page for paper: no script at all
    week = {"village": "Sukamaju", "week": "2026-W48"}
    english = client.get("/ronda-sambang/laporan", params={**week, "lang": "en"}).text
    assert "Weekly village report: Sukamaju" in english and "Time to acknowledge (median)" in english
    assert "Monday 23-11-2026 to Sunday 29-11-2026" in english
