"""The weekly figures against a hand-made week (ISO week 2026-W48, Monday 23 to Sunday 29 November, WIB).

Sukamaju has two posts. pos-a: Budi watches Monday and Wednesday nights, but is off this Wednesday;
on Monday night he checks in every round (6 of 6). pos-b: Sari watches Friday night and checks in once,
at 23:30 (the 23:00 round is missed, 23:30 kept, then 00:30-03:30 missed: 1 of 6); Joko covers Saturday
night and never checks in (0 of 6). Village: 7 of 18 rounds.
Incidents: a panic at pos-a, a tamper at pos-b, a resident's report at pos-b escalated to an incident
(counted once), a false report at pos-a (not counted), a walk test, an offline alert (not an incident),
one in the next week, and Mekarsari's (another village).
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.alerting import rules
from hub.alerting.reports import to_csv
from hub.alerting.rules import AlertKind, Outcome
from hub.community import village_report as vr
from hub.community.store import Visit
from hub.ronda.roster import ChangeKind, Guard, GuardChange, RondaRoster
from hub.settings import PostSettings

ZONE = "Asia/Jakarta"
WIB = ZoneInfo(ZONE)
MON = date(2026, 11, 23)


def at(day: int, hh: int, mm: int = 0) -> datetime:
    """November `day`, 2026, hh:mm WIB."""
    return datetime.combine(date(2026, 11, day), time(hh, mm), tzinfo=WIB)


POSTS = [
    PostSettings(device_id="pos-a", name="Pos RW 01", village="Sukamaju"),
    PostSettings(device_id="pos-b", name='=HYPERLINK("http://x")', village="Sukamaju"),  # a hostile name
    PostSettings(device_id="pos-m", name="Pos Mekar", village="Mekarsari"),
    PostSettings(device_id="pos-c", name="Pos Cempaka", village="Mekarsari"),
]
ROSTER = RondaRoster(
    guards=(
        Guard(id="budi", name="Budi", device="pos-a", nights=(0, 2)),
        Guard(id="sari", name="Sari", device="pos-b", nights=(4,)),
        Guard(id="joko", name="Joko", device="pos-b"),
        Guard(id="mila", name="Mila", device="pos-m", nights=(0, 1, 2, 3, 4, 5, 6)),
    ),
    changes=(
        GuardChange(id="c1", guard_id="budi", night=date(2026, 11, 25), kind=ChangeKind.OFF, note="sakit"),
        GuardChange(id="c2", guard_id="joko", night=date(2026, 11, 28), kind=ChangeKind.ON),
    ),
)


def checkin(device: str, moment: datetime, test: bool = False) -> dict[str, object]:
    return {
        "kind": "checkin",
        "device": device,
        "received_at": moment.astimezone(ZoneInfo("UTC")).isoformat(),
        "test": test,
        "data": {},
    }


RECORDS = [
    *(
        checkin("pos-a", m)
        for m in (at(23, 22, 50), at(23, 23, 45), at(24, 0, 40), at(24, 1, 35), at(24, 2, 30), at(24, 3, 25))
    ),
    checkin("pos-a", at(23, 20)),  # before the hours: logged, not counted
    checkin("pos-a", at(25, 23), test=True),  # a walk test never counts
    checkin("pos-a", at(29, 23)),  # Sunday: not Budi's night
    checkin("pos-b", at(27, 23, 30)),
    {"kind": "checkin", "device": "pos-b", "received_at": "not a time"},  # a bad stored row
    {"kind": "panic", "device": "pos-b", "received_at": at(27, 23, 40).isoformat()},
]


def visit(post: str, moment: datetime, flag: str | None = None) -> Visit:
    return Visit(
        id=f"v-{post}-{moment:%d%H}",
        post=post,
        officer="agus",
        officer_name="Bripka Agus",
        at=moment,
        lat=None,
        lon=None,
        accuracy_m=None,
        distance_m=None,
        flag=flag,
        note="",
        photo=None,
        via="session",
        client="test",
    )


VISITS = [
    visit("pos-a", at(24, 10)),
    visit("pos-a", at(26, 10), flag="far"),
    visit("pos-a", at(22, 9)),  # the week before
    visit("pos-b", at(30, 9)),  # the week after
    visit("pos-m", at(25, 10)),  # Mekarsari
]


def handled(
    device: str,
    opened: datetime,
    ack: float | None,
    done: float | None,
    kind: AlertKind = AlertKind.PANIC,
    outcome: Outcome = Outcome.REAL,
    test: bool = False,
    note: str | None = None,
    **details: object,
):
    alert = rules.open_alert(device, kind, opened, test=test)
    if details:
        alert = replace(alert, details=dict(details))
    if ack is not None:
        alert = rules.acknowledge(alert, "Bripka Agus", "link", opened + timedelta(seconds=ack))
    if done is not None:
        alert = rules.resolve(alert, "operator", outcome, note, opened + timedelta(seconds=done))
    return alert


PANIC_A = handled("pos-a", at(24, 1), 120, 1800)
TAMPER_B = handled("pos-b", at(26, 12), 300, 3600, AlertKind.TAMPER)
REPORT_B = handled("pos-b", at(27, 20), None, 600, AlertKind.REPORT)
REPORT_B = replace(REPORT_B, note="escalated: (incident)")
INCIDENT_B = handled("pos-b", at(27, 20, 10), 60, 1200, AlertKind.INCIDENT, from_report=REPORT_B.id)
FALSE_A = handled("pos-a", at(28, 21), 30, 90, AlertKind.REPORT, Outcome.FALSE_ALARM)
ALERTS = [
    PANIC_A,
    TAMPER_B,
    REPORT_B,
    INCIDENT_B,
    FALSE_A,
    handled("pos-a", at(25, 2), 5, 10, test=True),  # walk test
    handled("pos-a", at(25, 3), 100, 200, AlertKind.OFFLINE),  # not an incident
    handled("pos-a", at(30, 0, 30), 10, 20),  # next week
    handled("pos-m", at(25, 4), 10, 20),  # Mekarsari
    handled("pos-c", at(30, 12) - timedelta(days=40), 10, 20),  # Mekarsari, 40 days before: too old for rawan
]


def sukamaju(week: vr.Week) -> vr.VillageFigures:
    return vr.village_figures(
        "sukamaju ",
        POSTS,
        week.nights,
        week.start,
        week.end,
        ROSTER,
        vr.checkins_by_post(RECORDS),
        VISITS,
        ALERTS,
        ZONE,
    )


def test_weeks_default_to_the_last_full_week_in_local_time() -> None:
    week = vr.last_full_week(at(30, 12), ZONE)
    assert week.label == "2026-W48" and week.start == at(23, 0) and week.end == at(30, 0)
    assert week.nights == tuple(MON + timedelta(days=d) for d in range(7))
    assert vr.last_full_week(at(29, 23, 59), ZONE).label == "2026-W47"  # Sunday night is still week 48
    assert vr.last_full_week(at(30, 0) - timedelta(hours=7), "UTC").label == "2026-W47"  # the hub's zone decides
    assert vr.parse_week("2026-W48", ZONE) == week
    for bad in ("2026-48", "2026-W", "W48", "2026-W99", "20x6-W01", "2026-W4800"):
        with pytest.raises(ValueError):
            vr.parse_week(bad, ZONE)


def test_recent_nights_are_the_last_seven_that_ended() -> None:
    hours = ROSTER.hours_for("Sukamaju")
    assert vr.recent_nights(hours, at(30, 12), ZONE) == tuple(MON + timedelta(days=d) for d in range(7))
    assert vr.recent_nights(hours, at(30, 4, 5), ZONE)[-1] == date(2026, 11, 28)  # Sunday's night not over (grace)
    assert vr.recent_nights(hours, at(30, 4, 10), ZONE)[-1] == date(2026, 11, 29)


def test_rounds_follow_the_presence_rules() -> None:
    hours = ROSTER.hours_for("Sukamaju")  # 22:00-04:00, rounds of 60 min, 10 min grace
    night = date(2026, 11, 27)
    assert vr.night_rounds(hours, night, [], ZONE) == vr.NightRounds(night, 6, 0, 0)
    assert vr.night_rounds(hours, night, [at(27, 23, 30)], ZONE).kept == 1
    assert vr.night_rounds(hours, night, [at(27, 22, 5)], ZONE).kept == 1
    every_half_hour = [at(27, 22) + timedelta(minutes=30 * i) for i in range(12)]
    assert vr.night_rounds(hours, night, every_half_hour, ZONE).kept == 6  # never more than expected
    late = [at(27, 23, 9), at(28, 0, 18), at(28, 1, 27)]  # each within its round's grace, then nothing
    assert vr.night_rounds(hours, night, late, ZONE).kept == 3  # 02:27 and 03:27 missed
    assert vr.night_rounds(hours, night, [at(27, 23, 10)], ZONE).kept == 1  # 23:00 missed at 23:10, as the rules say
    drifting = [*late, at(28, 2, 36), at(28, 3, 45)]  # never past a grace, but 5 check-ins in 6 hours
    assert vr.night_rounds(hours, night, drifting, ZONE).kept == 5


def test_the_hand_made_week() -> None:
    week = vr.parse_week("2026-W48", ZONE)
    figures = sukamaju(week)
    posts = {p.device: p for p in figures.posts}
    assert set(posts) == {"pos-a", "pos-b"}  # Mekarsari's posts are not Sukamaju's

    a, b = posts["pos-a"], posts["pos-b"]
    assert (a.compliance.nights, a.compliance.kept, a.compliance.expected, a.compliance.percent) == (1, 6, 6, 100)
    assert [(n.night.day, n.kept, n.checkins) for n in a.nights] == [(23, 6, 6)]
    assert (b.compliance.nights, b.compliance.kept, b.compliance.expected) == (2, 1, 12)
    assert [(n.night.day, n.kept) for n in b.nights] == [(27, 1), (28, 0)]
    assert (figures.compliance.kept, figures.compliance.expected, figures.compliance.percent) == (7, 18, 39)

    assert (a.visits, a.visits_flagged, a.last_visit) == (2, 1, at(26, 10))
    assert (b.visits, b.last_visit) == (0, None)
    assert (figures.visits, figures.visits_flagged) == (2, 1)

    assert [i.alert_id for i in figures.incidents] == [PANIC_A.id, TAMPER_B.id, INCIDENT_B.id]
    assert figures.incidents_by_kind == {"panic": 1, "tamper": 1, "incident": 1, "report": 0, "manual": 0}
    assert figures.false_alarms == 1 and a.false_alarms == 1 and b.false_alarms == 0
    assert (a.incidents, b.incidents) == (1, 2)
    response = figures.response
    assert (response["alerts"], response["acknowledged"], response["resolved"]) == (3, 3, 3)
    assert (response["tta_median"], response["tta_max"]) == (120.0, 300.0)
    assert (response["ttr_median"], response["ttr_max"]) == (1800.0, 3600.0)
    assert b.response["tta_median"] == 180.0 and a.response["tta_median"] == 120.0
    assert {r["kind"]: r["alerts"] for r in figures.response_by_kind} == {"panic": 1, "tamper": 1, "incident": 1}


def test_the_csv_has_a_row_per_post_a_total_and_no_formula() -> None:
    week = vr.parse_week("2026-W48", ZONE)
    rows = vr.csv_rows(sukamaju(week), week.label, "TOTAL")
    assert [r["device"] for r in rows] == ["pos-b", "pos-a", ""]  # posts by name, the total last
    assert list(rows[0]) == list(vr.CSV_COLUMNS)
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    total = parsed[-1]
    assert [total[k] for k in ("post", "rounds_kept", "rounds_expected", "compliance_pct")] == [
        "TOTAL",
        "7",
        "18",
        "39",
    ]
    figures = [total[k] for k in ("incidents", "false_alarms", "tta_median_s", "ttr_max_s")]
    assert figures == ["3", "1", "120.0", "3600.0"]
    assert parsed[0]["post"] == '\'=HYPERLINK("http://x")'  # neutralised: a spreadsheet shows it as text


def test_rawan_posts_had_incidents_lately_and_no_visit_lately() -> None:
    now = at(30, 12)
    last = {"pos-a": at(26, 10), "pos-b": None, "pos-m": at(25, 10), "pos-c": None}
    rawan = vr.rawan_posts(POSTS, ALERTS, last, now)
    # pos-a: visited 4 days ago; pos-b: 2 incidents (the escalated report counted once), never visited;
    # pos-m: visited; pos-c: its one incident is 40 days old
    assert rawan == [vr.Rawan("pos-b", 2, None)]
    later = vr.rawan_posts(POSTS, ALERTS, last, now + timedelta(days=3))  # the visits to pos-a and pos-m grow old
    assert [(r.device, r.incidents) for r in later] == [("pos-a", 2), ("pos-b", 2), ("pos-m", 1)]
    assert vr.rawan_posts(POSTS, ALERTS, {**last, "pos-b": at(30, 9)}, now) == []
