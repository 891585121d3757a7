"""Roster resolution: weekly shifts across midnight, overrides, levels, villages, fallback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from hub.duty.officers import OfficerStore, RosterError
from hub.duty.roster import Officer, Override, Roster, Shift, duty_chain, is_on_duty, on_duty, parse_weekday

WIB = timezone(timedelta(hours=7))
ZONE = "Asia/Jakarta"
# 2026-11-23 is a Monday.
MON = datetime(2026, 11, 23, tzinfo=WIB)


def officer(oid: str, level: int = 1, villages: tuple[str, ...] = ("Sukamaju",), **kw) -> Officer:
    return Officer(id=oid, name=oid.title(), urls=(f"json://sink/{oid}",), level=level, villages=villages, **kw)


AGUS, BUDI, KANIT = officer("agus"), officer("budi"), officer("kanit", level=2, villages=())
NIGHT = Shift(id="s1", officer_id="agus", weekday=0, start="22:00", end="06:00")  # Monday night into Tuesday
DAY = Shift(id="s2", officer_id="budi", weekday=1, start="06:00", end="22:00")  # Tuesday day
PIKET = Officer(id="piket", name="Piket Polsek", urls=("json://sink/piket",), always_on_duty=True)


def roster(**kw) -> Roster:
    base = {"officers": (AGUS, BUDI, KANIT), "shifts": (NIGHT, DAY), "fallback": PIKET}
    return Roster(**(base | kw))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (MON.replace(hour=21, minute=59), []),
        (MON.replace(hour=22), ["agus"]),
        (MON.replace(hour=23, minute=59), ["agus"]),
        (MON + timedelta(days=1, hours=0, minutes=30), ["agus"]),  # past midnight, Tuesday 00:30
        (MON + timedelta(days=1, hours=5, minutes=59), ["agus"]),
        (MON + timedelta(days=1, hours=6), ["budi"]),  # the night shift ends where the day shift starts
        (MON + timedelta(days=7, hours=23), ["agus"]),  # next Monday: weekly recurrence
        (MON + timedelta(days=2, hours=23), []),  # Wednesday night: nobody rostered
    ],
)
def test_weekly_shifts_across_midnight(moment: datetime, expected: list[str]) -> None:
    assert [o.id for o in on_duty(roster(officers=(AGUS, BUDI)), "Sukamaju", moment, ZONE)] == expected


def test_shift_times_are_local_to_the_hub_zone() -> None:
    # 22:30 WIB is 23:30 WITA: in Makassar the same shift is read in WITA.
    moment = MON.replace(hour=21, minute=30)  # 22:30 WITA
    r = roster(officers=(AGUS,))
    assert not on_duty(r, "Sukamaju", moment, ZONE)
    assert [o.id for o in on_duty(r, "Sukamaju", moment, "Asia/Makassar")] == ["agus"]


def test_full_day_shift_when_start_equals_end() -> None:
    shift = Shift(id="x", officer_id="agus", weekday=0, start="08:00", end="08:00")
    assert shift.covers(MON.replace(hour=8)) and shift.covers(MON + timedelta(days=1, hours=7, minutes=59))
    assert not shift.covers(MON + timedelta(days=1, hours=8))


def test_leave_override_beats_a_shift_and_swap_puts_another_on_duty() -> None:
    night = MON.replace(hour=23)
    leave = Override(id="o1", officer_id="agus", kind="off", start=MON.replace(hour=20), end=MON + timedelta(days=1))
    cover = Override(id="o2", officer_id="budi", kind="on", start=MON.replace(hour=20), end=MON + timedelta(days=1))
    r = roster(overrides=(leave, cover))
    assert not is_on_duty(r, AGUS, night, ZONE)
    assert [o.id for o in on_duty(r, "Sukamaju", night, ZONE)] == ["budi"]
    # the override ends: the weekly pattern is back
    assert [o.id for o in on_duty(r, "Sukamaju", MON + timedelta(days=1, hours=1), ZONE)] == ["agus"]


def test_leave_beats_always_on_duty_and_inactive_is_never_paged() -> None:
    kapolsek = officer("kapolsek", level=3, villages=(), always_on_duty=True)
    leave = Override(id="o", officer_id="kapolsek", kind="off", start=MON, end=MON + timedelta(days=3))
    assert is_on_duty(Roster(officers=(kapolsek,)), kapolsek, MON, ZONE)
    assert not is_on_duty(Roster(officers=(kapolsek,), overrides=(leave,)), kapolsek, MON + timedelta(hours=1), ZONE)
    idle = kapolsek.model_copy(update={"active": False})
    assert not is_on_duty(Roster(officers=(idle,)), idle, MON, ZONE)


def test_chain_by_level_with_fallback_filling_an_empty_first_level() -> None:
    kanit = KANIT.model_copy(update={"always_on_duty": True})
    r = roster(officers=(AGUS, BUDI, kanit))
    night = MON.replace(hour=23)
    assert [[o.id for o in level] for level in duty_chain(r, "Sukamaju", night, ZONE)] == [["agus"], ["kanit"]]
    wednesday = MON + timedelta(days=2, hours=23)  # nobody at level 1 rostered: the duty desk takes level 1
    assert [[o.id for o in level] for level in duty_chain(r, "Sukamaju", wednesday, ZONE)] == [["piket"], ["kanit"]]
    # another village: the village officers do not cover it
    assert [[o.id for o in level] for level in duty_chain(r, "Mekarsari", night, ZONE)] == [["piket"], ["kanit"]]
    assert duty_chain(Roster(), "Sukamaju", night, ZONE) == []


def test_village_match_ignores_case_and_spaces() -> None:
    assert AGUS.covers(" sukamaju ") and not AGUS.covers("Mekarsari") and KANIT.covers("anything")


def test_hostile_officer_input_is_refused() -> None:
    with pytest.raises(ValidationError):
        Officer(id="Bad Id!", name="x", urls=("json://a/b",))
    with pytest.raises(ValidationError):
        Officer(id="ok", name="x", urls=("javascript:alert(1)",))
    with pytest.raises(ValidationError):
        Officer(id="ok", name="x", urls=())
    with pytest.raises(ValidationError):
        Override(id="o", officer_id="agus", kind="off", start=datetime(2026, 1, 1), end=datetime(2026, 1, 2))
    assert parse_weekday("senin") == 0 and parse_weekday("Sun") == 6 and parse_weekday("3") == 3
    with pytest.raises(ValueError):
        parse_weekday("someday")


def test_store_round_trip_swap_and_removal(tmp_path) -> None:
    store = OfficerStore(tmp_path / "roster.json")
    assert store.roster() == Roster() and not store.has_roster()
    store.put_officer(AGUS)
    store.put_officer(BUDI)
    shift = store.add_shift(officer_id="agus", weekday=0, start="22:00", end="06:00")
    with pytest.raises(RosterError):
        store.add_shift(officer_id="nobody", weekday=0, start="22:00", end="06:00")
    with pytest.raises(RosterError):
        store.add_override(officer_id="agus", kind="off", start=MON, end=MON)
    store.swap("agus", "budi", MON.replace(hour=20), MON + timedelta(days=1))
    store.set_fallback(PIKET)
    again = OfficerStore(tmp_path / "roster.json").roster()  # a second process (the CLI) sees it all
    assert {o.id for o in again.officers} == {"agus", "budi"} and again.fallback == PIKET
    assert [o.id for o in on_duty(again, "Sukamaju", MON.replace(hour=23), ZONE)] == ["budi"]
    assert store.remove_entry("shifts", shift.id) and not store.remove_entry("shifts", shift.id)
    assert store.remove_officer("agus")
    left = store.roster()
    assert [o.id for o in left.officers] == ["budi"] and all(o.officer_id == "budi" for o in left.overrides)
