"""Pure presence rules: is the post staffed tonight? Values in, values out; no clock, no I/O.

During a village's ronda hours a post with guards on the roster that night expects a check-in
every round (60 min by default). A round is *missed* when its moment (the last counted check-in,
or the start of the hours, plus one round) passes by more than the grace period (10 min) with
no check-in. Rounds are only due up to the end of the hours; the last one may still be missed
during the grace after the end.

The first missed round of a night raises the post's "Pos kosong" (unstaffed) alert. While no one
checks in the alert stays open and its details follow the missed rounds (it persists: no second
alert, no second page). A counted check-in clears it. Once cleared, later misses of the same
night are counted and shown but raise nothing more: one alert per night per post. When the
hours (plus grace) are over, an alert still open is cleared: the night is done.

A check-in outside the hours is recorded (the page shows it) but does not count.
Times are aware datetimes; the hours are local times in the hub's zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from hub.ronda.roster import RondaHours


@dataclass(frozen=True)
class Window:
    """One night's ronda hours as aware moments; `night` is the local date they start on."""

    night: date
    start: datetime
    end: datetime


def _window(start: time, end: time, night: date, zone: ZoneInfo) -> Window:
    end_day = night if end > start else night + timedelta(days=1)  # start == end: 24 h
    return Window(night, datetime.combine(night, start, tzinfo=zone), datetime.combine(end_day, end, tzinfo=zone))


def window_at(hours: RondaHours, moment: datetime, zone: str, slack: timedelta = timedelta(0)) -> Window | None:
    """The night whose hours hold `moment` (start <= moment < end + slack), the latest first; else None."""
    return _window_at(hours.start, hours.end, moment, zone, slack)


def last_window(hours: RondaHours, moment: datetime, zone: str) -> Window:
    """The night to show at `moment`: the one under way, else the last one that started."""
    return _last_window(hours.start, hours.end, moment, zone)


# Pure, and keyed by plain values (hashing the pydantic hours costs more than the window): a commit's
# check-ins share one moment, so one computation serves the whole batch.
@lru_cache(maxsize=1024)
def _window_at(start: time, end: time, moment: datetime, zone: str, slack: timedelta) -> Window | None:
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    for back in (0, 1):
        window = _window(start, end, local.date() - timedelta(days=back), tz)
        if window.start <= moment < window.end + slack:
            return window
    return None


@lru_cache(maxsize=1024)
def _last_window(start: time, end: time, moment: datetime, zone: str) -> Window:
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    for back in (0, 1, 2):
        window = _window(start, end, local.date() - timedelta(days=back), tz)
        if window.start <= moment:
            return window
    return _window(start, end, local.date() - timedelta(days=3), tz)  # unreachable: one of the three started


def missed_rounds(hours: RondaHours, window: Window, reference: datetime, now: datetime) -> int:
    """Rounds due after `reference` (last counted check-in, or the start) that are past their grace at `now`."""
    step = timedelta(minutes=hours.round_minutes)
    grace = timedelta(minutes=hours.grace_minutes)
    by_end = (window.end - reference) // step
    late = now - grace - reference
    by_now = late // step if late >= timedelta(0) else 0
    return max(0, min(by_end, by_now))


@dataclass(frozen=True)
class Checkin:
    """One check-in at a post, as the hub saw it."""

    at: datetime
    source: str = "button"  # button or card
    card: str | None = None
    guard_id: str | None = None
    guard_name: str | None = None
    unknown_card: bool = False  # a card no guard holds: logged, shown as "kartu tidak dikenal"
    counted: bool = False  # inside the ronda hours


@dataclass(frozen=True)
class Presence:
    """A post's ronda state for one night."""

    device: str
    night: date | None = None
    reference: datetime | None = None  # last counted check-in, else the start of the hours
    missed_before: int = 0  # rounds missed before the last counted check-in
    missed: int = 0  # rounds missed this night so far
    alerted: bool = False  # "Pos kosong" raised this night (at most once)
    alert_open: bool = False
    alert_missed: int = 0  # missed rounds the open alert last reported
    checkins: tuple[Checkin, ...] = field(default=())  # this night's, counted or not (newest last, bounded)

    @property
    def last_checkin(self) -> Checkin | None:
        return self.checkins[-1] if self.checkins else None


MAX_CHECKINS_KEPT = 50
"""Check-ins kept per post and night for the page; a post pressing all night cannot grow memory."""


class Action(StrEnum):
    NONE = "none"
    RAISE = "raise"  # open the post's "Pos kosong" alert
    UPDATE = "update"  # the open alert's condition persists: more rounds missed
    CLEAR = "clear"  # resolve it (check-in, or the night is over)


@dataclass(frozen=True)
class Decision:
    action: Action
    missed: int = 0
    reason: str = ""


NOTHING = Decision(Action.NONE)


def _for_night(state: Presence, window: Window) -> Presence:
    """The state for `window`'s night: a new night starts from nothing but an alert still open."""
    if state.night == window.night:
        return state
    return Presence(
        state.device,
        window.night,
        window.start,
        alert_open=state.alert_open,
        alerted=state.alert_open,
        alert_missed=state.alert_missed,
    )


def _log(state: Presence, checkin: Checkin) -> tuple[Checkin, ...]:
    return (*state.checkins, checkin)[-MAX_CHECKINS_KEPT:]


def record_checkin(state: Presence, hours: RondaHours, checkin: Checkin, zone: str) -> tuple[Presence, Decision]:
    """A check-in at the post: counted inside the hours (and clears an open alert), else only recorded."""
    window = window_at(hours, checkin.at, zone)
    if window is None:
        outside = replace(checkin, counted=False)
        night = last_window(hours, checkin.at, zone)
        state = _for_night(state, night)
        return replace(state, checkins=_log(state, outside)), NOTHING
    state = _for_night(state, window)
    counted = replace(checkin, counted=True)
    reference = state.reference or window.start
    before = state.missed_before + missed_rounds(hours, window, reference, checkin.at)
    state = replace(state, reference=checkin.at, missed_before=before, missed=before, checkins=_log(state, counted))
    if state.alert_open:
        who = checkin.guard_name or ("kartu tidak dikenal" if checkin.unknown_card else checkin.source)
        return replace(state, alert_open=False, alert_missed=0), Decision(Action.CLEAR, before, f"check-in: {who}")
    return state, NOTHING


def record_checkins(
    state: Presence, hours: RondaHours, checkins: Sequence[Checkin], zone: str
) -> tuple[Presence, Decision]:
    """Several check-ins at one post, in order: the same state and decision as recording them one by
    one with `record_checkin` (a decision other than NOTHING can only come from the first, which
    clears an open alert), but the night's window is worked out once when they share one moment
    (a commit's check-ins do): the ingest path's cost for a burst of check-ins."""
    if not checkins:
        return state, NOTHING
    at = checkins[0].at
    if any(checkin.at != at for checkin in checkins):  # different moments: one by one
        first: Decision | None = None
        for checkin in checkins:
            state, decision = record_checkin(state, hours, checkin, zone)
            first = first or (decision if decision is not NOTHING else None)
        return state, first or NOTHING
    window = window_at(hours, at, zone)
    counted = window is not None
    state = _for_night(state, window if window is not None else last_window(hours, at, zone))
    logged = tuple(  # the watch builds them with the right flag already; anyone else's are rebuilt
        c
        if c.counted is counted
        else Checkin(c.at, c.source, c.card, c.guard_id, c.guard_name, c.unknown_card, counted)
        for c in checkins
    )
    history = (*state.checkins, *logged)[-MAX_CHECKINS_KEPT:]
    if window is None:
        return replace(state, checkins=history), NOTHING
    before = state.missed_before + missed_rounds(hours, window, state.reference or window.start, at)
    state = replace(state, reference=at, missed_before=before, missed=before, checkins=history)
    if state.alert_open:
        checkin = checkins[0]
        who = checkin.guard_name or ("kartu tidak dikenal" if checkin.unknown_card else checkin.source)
        return replace(state, alert_open=False, alert_missed=0), Decision(Action.CLEAR, before, f"check-in: {who}")
    return state, NOTHING


def _cleared(state: Presence, reason: str) -> tuple[Presence, Decision]:
    return replace(state, alert_open=False, alert_missed=0), Decision(Action.CLEAR, state.missed, reason)


LAST_ROUND_SLACK = timedelta(minutes=5)
"""How long after the end plus grace the night is still evaluated: the round due at the very end is
missed only at end + grace, and the watch looks once a minute, so without this slack that last round
could never be found missed (the night would already be over at the next look)."""


def evaluate(state: Presence, hours: RondaHours, now: datetime, zone: str, expected: bool) -> tuple[Presence, Decision]:
    """What the post's presence means at `now`; `expected`: guards are on the roster for this night."""
    grace = timedelta(minutes=hours.grace_minutes)
    window = window_at(hours, now, zone, slack=grace + LAST_ROUND_SLACK)
    if window is None:
        if state.alert_open:
            return _cleared(state, "ronda hours over")
        return state, NOTHING
    state = _for_night(state, window)
    if not expected:
        if state.alert_open:  # the guards were taken off tonight's roster
            return _cleared(state, "no guard rostered")
        return state, NOTHING
    run = missed_rounds(hours, window, state.reference or window.start, now)
    state = replace(state, missed=state.missed_before + run)
    if run == 0:
        return state, NOTHING
    if state.alert_open:
        if state.missed > state.alert_missed:
            return replace(state, alert_missed=state.missed), Decision(Action.UPDATE, state.missed, "still unstaffed")
        return state, NOTHING
    if state.alerted:
        return state, NOTHING  # once per night: cleared by a check-in, then missed again - counted, not paged
    raised = replace(state, alerted=True, alert_open=True, alert_missed=state.missed)
    return raised, Decision(Action.RAISE, state.missed, "round missed")
