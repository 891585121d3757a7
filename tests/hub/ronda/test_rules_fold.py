"""record_checkins (a commit's check-ins at one post, folded) gives what recording them one by one gives."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.ronda.roster import RondaHours
from hub.ronda.rules import NOTHING, Action, Checkin, Decision, Presence, evaluate, record_checkin, record_checkins

ZONE = "Asia/Jakarta"
WIB = ZoneInfo(ZONE)
MONDAY = date(2026, 11, 23)
HOURS = RondaHours(village="Sukamaju")  # 22:00-04:00, rounds of 60 min, 10 min grace


def one_by_one(state: Presence, checkins: list[Checkin]) -> tuple[Presence, Decision]:
    first = NOTHING
    for checkin in checkins:
        state, decision = record_checkin(state, HOURS, checkin, ZONE)
        if first is NOTHING:
            first = decision
    return state, first


def burst(rng: random.Random, moment: datetime, n: int) -> list[Checkin]:
    out = []
    for _ in range(n):
        kind = rng.choice(("button", "guard", "unknown"))
        if kind == "button":
            out.append(Checkin(moment))
        elif kind == "guard":
            out.append(Checkin(moment, "card", "C1", "g1", "Pak Budi"))
        else:
            out.append(Checkin(moment, "card", "ZZ", unknown_card=True))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_fold_equals_one_by_one(seed: int) -> None:
    rng = random.Random(seed)
    state = Presence("pos-a")
    moment = datetime.combine(MONDAY, time(21), tzinfo=WIB)
    for _ in range(12):  # a night and the next day: inside and outside the hours, misses, alerts
        moment += timedelta(minutes=rng.choice((5, 40, 70, 130, 200)))
        if rng.random() < 0.4:  # the watch's tick: may raise "Pos kosong"
            state, _ = evaluate(state, HOURS, moment, ZONE, expected=True)
        checkins = burst(rng, moment, rng.randint(1, 5))
        expected = one_by_one(state, checkins)
        assert record_checkins(state, HOURS, checkins, ZONE) == expected
        state = expected[0]


def test_a_burst_clears_an_open_alert_once_naming_the_first_guard() -> None:
    night_start = datetime.combine(MONDAY, time(22), tzinfo=WIB)
    state = replace(Presence("pos-a"), night=MONDAY, reference=night_start, alert_open=True, alerted=True)
    moment = night_start + timedelta(hours=2, minutes=30)
    checkins = [Checkin(moment, "card", "C1", "g1", "Pak Budi"), Checkin(moment)]
    state, decision = record_checkins(state, HOURS, checkins, ZONE)
    assert decision.action is Action.CLEAR and decision.reason == "check-in: Pak Budi"
    assert not state.alert_open and len(state.checkins) == 2 and all(c.counted for c in state.checkins)


def test_check_ins_at_different_moments_fold_one_by_one() -> None:
    start = datetime.combine(MONDAY, time(22, 30), tzinfo=WIB)
    checkins = [Checkin(start), Checkin(start + timedelta(hours=3))]
    assert record_checkins(Presence("pos-a"), HOURS, checkins, ZONE) == one_by_one(Presence("pos-a"), checkins)
    assert record_checkins(Presence("pos-a"), HOURS, [], ZONE) == (Presence("pos-a"), NOTHING)
