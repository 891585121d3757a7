"""Pure ronda rules on a fake clock: hours across midnight, grace, outside hours, one alert per night."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.ronda.roster import ChangeKind, Guard, GuardChange, RondaHours, RondaRoster, guards_on
from hub.ronda.rules import (
    Action,
    Checkin,
    Presence,
    evaluate,
    last_window,
    missed_rounds,
    record_checkin,
    window_at,
)

ZONE = "Asia/Jakarta"
WIB = ZoneInfo(ZONE)
MONDAY = date(2026, 11, 23)
HOURS = RondaHours(village="Sukamaju")  # 22:00-04:00, rounds of 60 min, 10 min grace


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=WIB)


TUESDAY = MONDAY + timedelta(days=1)


def run(state: Presence, moment: datetime, expected: bool = True) -> tuple[Presence, Action]:
    state, decision = evaluate(state, HOURS, moment, ZONE, expected)
    return state, decision.action


def test_window_runs_across_midnight() -> None:
    night = window_at(HOURS, at(TUESDAY, 1, 30), ZONE)
    assert night is not None and night.night == MONDAY
    assert night.start == at(MONDAY, 22) and night.end == at(TUESDAY, 4)
    assert window_at(HOURS, at(MONDAY, 21, 59), ZONE) is None
    assert window_at(HOURS, at(TUESDAY, 4), ZONE) is None  # the end is not inside
    assert window_at(HOURS, at(TUESDAY, 4, 5), ZONE, slack=timedelta(minutes=10)) is not None
    assert last_window(HOURS, at(TUESDAY, 12), ZONE).night == MONDAY  # by day: last night
    same_day = RondaHours(village="x", start=time(1), end=time(5))
    assert window_at(same_day, at(MONDAY, 3), ZONE).night == MONDAY  # type: ignore[union-attr]


def test_a_round_is_missed_only_after_its_grace() -> None:
    night = window_at(HOURS, at(MONDAY, 22), ZONE)
    assert night is not None
    assert missed_rounds(HOURS, night, night.start, at(MONDAY, 23, 9)) == 0
    assert missed_rounds(HOURS, night, night.start, at(MONDAY, 23, 10)) == 1
    assert missed_rounds(HOURS, night, night.start, at(TUESDAY, 1, 10)) == 3
    assert missed_rounds(HOURS, night, night.start, at(TUESDAY, 9)) == 6  # rounds stop at the end of the hours


def test_missed_round_raises_once_persists_and_a_checkin_clears() -> None:
    state = Presence("pos-a")
    state, action = run(state, at(MONDAY, 23, 5))
    assert action is Action.NONE
    state, action = run(state, at(MONDAY, 23, 10))
    assert action is Action.RAISE and state.missed == 1 and state.alert_open
    state, action = run(state, at(MONDAY, 23, 30))
    assert action is Action.NONE  # the same miss: nothing new
    state, action = run(state, at(TUESDAY, 0, 10))
    assert action is Action.UPDATE and state.missed == 2  # persists: the open alert follows, no new one

    state, decision = record_checkin(state, HOURS, Checkin(at(TUESDAY, 0, 20), guard_name="Budi"), ZONE)
    assert decision.action is Action.CLEAR and "Budi" in decision.reason and not state.alert_open
    assert state.last_checkin is not None and state.last_checkin.counted

    state, action = run(state, at(TUESDAY, 1, 29))
    assert action is Action.NONE  # next round due 01:20, grace to 01:30
    state, action = run(state, at(TUESDAY, 1, 30))
    assert action is Action.NONE and state.missed == 3  # missed again: counted, but once per night


def test_checkins_on_time_raise_nothing_all_night() -> None:
    state = Presence("pos-a")
    moment = at(MONDAY, 22, 30)
    while moment < at(TUESDAY, 5):
        if window_at(HOURS, moment, ZONE):
            state, _ = record_checkin(state, HOURS, Checkin(moment), ZONE)
        state, action = run(state, moment + timedelta(minutes=5))
        assert action is Action.NONE, moment
        moment += timedelta(minutes=55)
    assert state.missed == 0


def test_checkin_outside_hours_is_recorded_but_does_not_count() -> None:
    state = Presence("pos-a")
    state, decision = record_checkin(state, HOURS, Checkin(at(MONDAY, 21, 50)), ZONE)
    assert decision.action is Action.NONE
    assert state.last_checkin is not None and not state.last_checkin.counted
    state, action = run(state, at(MONDAY, 23, 10))
    assert action is Action.RAISE  # the 21:50 press did not cover the first round


def test_new_night_starts_afresh_and_the_night_end_clears() -> None:
    state, _ = run(Presence("pos-a"), at(MONDAY, 23, 10))
    assert state.alert_open
    state, action = run(state, at(TUESDAY, 4, 16))  # end + grace + the last round's slack
    assert action is Action.CLEAR and not state.alert_open
    state, action = run(state, at(TUESDAY, 23, 10))
    assert action is Action.RAISE and state.night == TUESDAY and state.missed == 1  # a new night, a new alert


def test_the_round_due_at_the_end_of_the_hours_is_missed_too() -> None:
    """Checked in at 03:00 and never again: the 04:00 round is missed at 04:10, found at the next look."""
    state, _ = record_checkin(Presence("pos-a"), HOURS, Checkin(at(TUESDAY, 3)), ZONE)
    state, action = run(state, at(TUESDAY, 4, 9))
    assert action is Action.NONE
    state, action = run(
        state,
        at(
            TUESDAY,
            4,
            10,
        )
        + timedelta(seconds=40),
    )  # the watch looks once a minute
    assert action is Action.RAISE and state.missed == state.missed_before + 1  # the 04:00 round


def test_no_guard_rostered_expects_nothing() -> None:
    state, action = run(Presence("pos-a"), at(TUESDAY, 2), expected=False)
    assert action is Action.NONE and not state.alert_open


def test_guards_on_weekly_nights_and_dated_changes() -> None:
    budi = Guard(id="budi", name="Budi", device="pos-a", nights=(0, 5))  # Monday and Saturday nights
    joko = Guard(id="joko", name="Joko", device="pos-a", nights=(1,))
    roster = RondaRoster(
        guards=(budi, joko),
        changes=(
            GuardChange(id="c1", guard_id="budi", night=MONDAY, kind=ChangeKind.OFF),
            GuardChange(id="c2", guard_id="joko", night=MONDAY, kind=ChangeKind.ON),
        ),
    )
    assert [g.id for g in guards_on(roster, "pos-a", MONDAY)] == ["joko"]  # swap
    assert [g.id for g in guards_on(roster, "pos-a", MONDAY + timedelta(days=5))] == ["budi"]
    assert guards_on(roster, "pos-b", MONDAY) == []
    assert roster.hours_for(" sukamaju ").start == time(22)  # default hours
    assert roster.guard_by_card("abc123") is None
