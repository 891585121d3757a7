"""Reports: time to acknowledge/resolve per alert, post, village, officer; weekly incidents; CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.alerting import rules
from hub.alerting.reports import (
    PostLabel,
    build_report,
    hour_of_week,
    incident_report,
    incidents,
    percentile,
    select,
    to_csv,
)
from hub.alerting.rules import AlertKind, Outcome
from hub.community import village_report as vr

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


# -- the reports page (issue 15): incident_report on a hand-made month ----------------------------------
# Times in WIB (UTC+7) in the comments. The range is November 2026 in WIB: [31 Oct 17:00Z, 30 Nov 17:00Z).

MONTH_SINCE = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
MONTH_UNTIL = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
MONTH_POSTS = {
    "pos-a": PostLabel("Pos A", "Sukamaju"),
    "pos-m": PostLabel("Pos Mekar", "Mekarsari"),
}


def utc(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def month_alerts() -> dict[str, rules.Alert]:
    report = handled("pos-m", utc(21, 13, 50), 30, None, by="Sari", kind=AlertKind.REPORT)
    report = replace(report, note="escalated: incident")
    escalated = handled("pos-m", utc(21, 14), 120, 1800, kind=AlertKind.INCIDENT)
    escalated = replace(escalated, details={"from_report": report.id})
    return {
        "a1": handled("pos-a", utc(16, 15), 30, 600),  # Mon 16 Nov 22:00
        "a2": handled("pos-a", utc(17, 15, 10), 90, 1200),  # Tue 22:10
        "a3": handled("pos-a", utc(22, 16, 59, 59), 60, None, by="Sari", kind=AlertKind.TAMPER),  # Sun 23:59:59
        "m4": handled("pos-m", utc(22, 17), 300, 3600, by="Sari", kind=AlertKind.REPORT),  # Mon 23 Nov 00:00:00
        "m5": handled("pos-m", utc(18, 15, 30), None, None),  # Wed 22:30, nobody answered
        "false": handled("pos-a", utc(19, 15), 10, 20, outcome=Outcome.FALSE_ALARM),  # Thu: a false alarm
        "test": handled("pos-m", utc(20, 15), 5, 6, test=True),  # Fri 22:00: a walk test
        "offline": handled("pos-a", utc(20, 1), 40, 50, kind=AlertKind.OFFLINE),  # not an incident
        "report": report,  # Sat 20:50, escalated: counted once, as its incident
        "m9": escalated,  # Sat 21:00
        "x10": handled("pos-x", utc(24, 3), None, None),  # Tue 24 Nov 10:00, a post no longer registered
        "before": handled("pos-a", utc(31, 16, 59, 59, month=10), 1, 1),  # 31 Oct 23:59:59: outside
        "after": handled("pos-a", MONTH_UNTIL, 1, 1),  # 1 Dec 00:00: outside
    }


def month_report(**options):
    return incident_report(
        list(month_alerts().values()), MONTH_POSTS, "Asia/Jakarta", MONTH_SINCE, MONTH_UNTIL, **options
    )


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([30.0, 90.0, 60.0], 0.5) == 60.0
    assert percentile([30.0, 60.0, 90.0], 0.9) == pytest.approx(84.0)
    assert percentile([120.0, 300.0], 0.5) == 210.0


def test_response_times_per_village_and_officer() -> None:
    report = month_report()
    assert (report.incidents, report.false_alarms, report.acknowledged, report.resolved) == (7, 1, 5, 4)
    villages = {r["village"]: r for r in report.per_village}
    assert [r["village"] for r in report.per_village] == ["-", "Mekarsari", "Sukamaju"]
    assert villages["Sukamaju"] == {
        "village": "Sukamaju",
        "count": 3,
        "acknowledged": 3,
        "tta_p50": 60.0,
        "tta_p90": 84.0,
        "tta_max": 90.0,
        "resolved": 2,
        "ttr_p50": 900.0,
        "ttr_p90": 1140.0,
        "ttr_max": 1200.0,
    }
    mekar = villages["Mekarsari"]  # m4, m5 (never acknowledged) and the escalated report's incident m9
    assert (mekar["count"], mekar["acknowledged"], mekar["tta_p50"], mekar["tta_p90"], mekar["tta_max"]) == (
        3,
        2,
        210.0,
        282.0,
        300.0,
    )
    assert (mekar["resolved"], mekar["ttr_p50"], mekar["ttr_p90"], mekar["ttr_max"]) == (2, 2700.0, 3420.0, 3600.0)
    assert villages["-"]["count"] == 1 and villages["-"]["tta_p50"] is None  # pos-x: no village known

    officers = {r["officer"]: r for r in report.per_officer}
    assert sorted(officers) == ["Agus", "Sari"]
    agus, sari = officers["Agus"], officers["Sari"]
    assert (agus["count"], agus["tta_p50"], agus["tta_p90"], agus["tta_max"]) == (3, 90.0, 114.0, 120.0)
    assert (agus["ttr_p50"], agus["ttr_p90"], agus["ttr_max"]) == (1200.0, 1680.0, 1800.0)
    assert (sari["count"], sari["tta_p50"], sari["tta_p90"], sari["tta_max"]) == (2, 180.0, 276.0, 300.0)
    assert (sari["resolved"], sari["ttr_p50"], sari["ttr_p90"], sari["ttr_max"]) == (1, 3600.0, 3600.0, 3600.0)


def test_incidents_per_post() -> None:
    rows = month_report().per_post
    assert [(r["device"], r["post"], r["village"], r["incidents"], r["false_alarms"]) for r in rows] == [
        ("pos-a", "Pos A", "Sukamaju", 3, 1),
        ("pos-m", "Pos Mekar", "Mekarsari", 3, 0),
        ("pos-x", "pos-x", "", 1, 0),
    ]
    kinds = {r["device"]: (r["panic"], r["tamper"], r["incident"], r["report"]) for r in rows}
    assert kinds == {"pos-a": (2, 1, 0, 0), "pos-m": (1, 0, 1, 1), "pos-x": (1, 0, 0, 0)}


def cells(matrix: list[list[int]]) -> dict[tuple[int, int], int]:
    return {(day, hour): count for day, row in enumerate(matrix) for hour, count in enumerate(row) if count}


def test_hour_of_week_in_local_time_monday_first() -> None:
    matrix = month_report().hour_of_week
    assert len(matrix) == 7 and all(len(row) == 24 for row in matrix)
    assert cells(matrix) == {
        (0, 22): 1,  # a1 Monday 22:00
        (1, 22): 1,  # a2 Tuesday 22:10
        (2, 22): 1,  # m5 Wednesday 22:30
        (5, 21): 1,  # m9 Saturday 21:00
        (6, 23): 1,  # a3 Sunday 23:59:59 WIB (16:59:59 UTC): still Sunday
        (0, 0): 1,  # m4 Monday 00:00:00 WIB (17:00:00 UTC): the next day, the first row
        (1, 10): 1,  # x10 Tuesday 10:00
    }
    # the same two moments in Jayapura (UTC+9): both on Monday, at 01:59:59 and 02:00
    jayapura = incident_report(list(month_alerts().values()), MONTH_POSTS, "Asia/Jayapura", MONTH_SINCE, MONTH_UNTIL)
    assert cells(jayapura.hour_of_week)[(0, 1)] == 1 and cells(jayapura.hour_of_week)[(0, 2)] == 1
    # in UTC the Sunday alert is Sunday 16:00 and the Monday one Sunday 17:00
    in_utc = cells(hour_of_week([month_alerts()["a3"], month_alerts()["m4"]], "UTC"))
    assert in_utc == {(6, 16): 1, (6, 17): 1}


def test_walk_tests_only_when_asked_for() -> None:
    report = month_report(include_tests=True)
    assert report.incidents == 8
    assert cells(report.hour_of_week)[(4, 22)] == 1  # the Friday 22:00 walk test
    agus = next(r for r in report.per_officer if r["officer"] == "Agus")
    assert (agus["count"], agus["tta_p50"]) == (4, 60.0)  # 5, 30, 90, 120 seconds


def test_village_scope_leaves_other_villages_and_unknown_posts_out() -> None:
    report = month_report(villages=[" sukamaju"])  # as people type it
    assert report.incidents == 3 and report.false_alarms == 1
    assert [r["village"] for r in report.per_village] == ["Sukamaju"]
    assert [r["device"] for r in report.per_post] == ["pos-a"]
    assert sum(map(sum, report.hour_of_week)) == 3
    assert month_report(villages=[]).incidents == 0  # an empty scope: nothing (None means every village)


def test_the_range_is_half_open_and_the_village_report_agrees_on_incidents() -> None:
    alerts = list(month_alerts().values())
    assert month_report().incidents == len(incidents(select(alerts, MONTH_SINCE, MONTH_UNTIL)))
    wider = incident_report(alerts, MONTH_POSTS, "Asia/Jakarta", MONTH_SINCE - timedelta(seconds=1), MONTH_UNTIL)
    assert wider.incidents == 8  # 31 October 23:59:59 WIB
    assert vr.incidents is incidents  # one definition of an incident for both reports
