"""Reports: time to acknowledge/resolve per alert, post, village, officer; weekly incidents; CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from hub.alerting import rules
from hub.alerting.reports import PostLabel, build_report, select, to_csv
from hub.alerting.rules import AlertKind, Outcome

T0 = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # Sunday 22:00 WIB, ISO week 47
POSTS = {"pos-a": PostLabel("Pos A", "Sukamaju"), "pos-b": PostLabel('=HYPERLINK("x")', "Mekarsari")}


def handled(
    device: str,
    opened: datetime,
    ack_after: float | None,
    resolve_after: float | None,
    by: str = "Agus",
    outcome: Outcome = Outcome.REAL,
    test: bool = False,
    kind: AlertKind = AlertKind.PANIC,
):
    alert = rules.open_alert(device, kind, opened, test=test)
    if ack_after is not None:
        alert = rules.acknowledge(alert, by, "link", opened + timedelta(seconds=ack_after))
    if resolve_after is not None:
        alert = rules.resolve(alert, "operator", outcome, None, opened + timedelta(seconds=resolve_after))
    return alert


ALERTS = [
    handled("pos-a", T0, 30, 600),
    handled("pos-a", T0 + timedelta(hours=2), 90, 1200, outcome=Outcome.FALSE_ALARM),  # Monday 00:00 WIB: week 48
    handled("pos-b", T0, 60, None, by="Sari"),
    handled("pos-b", T0, None, None),
    handled("pos-a", T0, 1, 2, test=True),
]


def test_times_per_post_village_and_officer() -> None:
    report = build_report(select(ALERTS), POSTS, "Asia/Jakarta")
    assert len(report["alerts"]) == 4  # the walk test is left out
    per_post = {r["device"]: r for r in report["per_post"]}
    assert (
        per_post["pos-a"]["alerts"] == 2
        and per_post["pos-a"]["tta_mean"] == 60.0
        and per_post["pos-a"]["ttr_max"] == 1200.0
    )
    assert per_post["pos-a"]["real"] == 1 and per_post["pos-a"]["false_alarm"] == 1
    assert per_post["pos-b"]["acknowledged"] == 1 and per_post["pos-b"]["ttr_mean"] is None
    assert {r["village"]: r["alerts"] for r in report["per_village"]} == {"Mekarsari": 2, "Sukamaju": 2}
    assert {r["officer"]: r["tta_median"] for r in report["per_officer"]} == {"Agus": 60.0, "Sari": 60.0}


def test_weekly_incidents_use_local_weeks_and_skip_tests() -> None:
    weekly = build_report(select(ALERTS), POSTS, "Asia/Jakarta")["weekly"]
    assert [(r["week"], r["device"], r["incidents"], r["real"]) for r in weekly] == [
        ("2026-W47", "pos-a", 1, 1),
        ("2026-W47", "pos-b", 2, 0),
        ("2026-W48", "pos-a", 1, 0),
    ]
    with_tests = build_report(select(ALERTS, include_tests=True), POSTS, "Asia/Jakarta")
    assert len(with_tests["alerts"]) == 5 and with_tests["weekly"] == weekly  # tests never count as incidents


def test_select_by_period() -> None:
    assert len(select(ALERTS, since=T0 + timedelta(minutes=30))) == 1
    assert len(select(ALERTS, until=T0 + timedelta(minutes=30))) == 3


def test_csv_neutralises_formulas_and_round_trips() -> None:
    rows = build_report(select(ALERTS), POSTS, "Asia/Jakarta")["weekly"]
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert len(parsed) == 3 and parsed[0]["incidents"] == "1"
    assert all(not r["post"].startswith("=") for r in parsed)
    assert any(r["post"].startswith("'=HYPERLINK") for r in parsed)
    assert to_csv([]) == ""
